//! Recipients: one credential per colleague, granted datasets, rotation with overlap, expiry, one-time
//! activation links. A recipient's credential is derived from the secret and its salt (like a link
//! share's token), so the owner can show its snippet at any time and the store keeps only its hash.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::api::*;
use crate::share_file::{SCHEMA, table_name};
use crate::snippet::{self, Reader};
use crate::store::{GrantRecord, PublishedRecipient, RecipientRecord};
use crate::{Datasets, Error, Result, ids, not_found, now_ms, rfc3339};

/// How long an unused activation link works by default.
pub const ACTIVATION_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest rotation overlap.
pub const MAX_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);
/// Most recipients one grant request names.
pub const MAX_GRANTS_PER_REQUEST: usize = 100;
/// Most recipients one owner keeps.
pub const MAX_RECIPIENTS: usize = 1_000;

fn no_recipient(name: &RecipientName) -> Error {
    Error::NotFound(format!("no recipient {:?}", name.as_str()))
}

/// What an activation page shows.
#[derive(Debug, Clone)]
pub enum Activation {
    /// The link works: what the profile reads, and the code to read it.
    Ready(ActivationPage),
    /// Its profile was downloaded already (when).
    Used(String),
    /// It expired unused (when).
    Expired(String),
    /// No such link, or its recipient was revoked.
    Unknown,
}

/// A working activation link's page.
#[derive(Debug, Clone)]
pub struct ActivationPage {
    /// The recipient's name, as the owner wrote it.
    pub recipient: String,
    /// `share.schema.table` of every dataset granted.
    pub tables: Vec<String>,
    /// The profile file's name.
    pub profile_file: String,
    /// Code for pandas, reading the first table (none when nothing is granted yet).
    pub python: Option<String>,
    /// Code for Spark.
    pub spark: Option<String>,
    /// When the credential expires.
    pub expires_at: Option<String>,
    /// When the link stops working unused.
    pub link_expires_at: String,
}

/// The profile file a link's download gives: its name and JSON. Its `Debug` output hides the JSON.
pub struct Profile {
    /// The file name (`….share`).
    pub file_name: String,
    /// The version 1 profile.
    pub json: String,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("file_name", &self.file_name)
            .finish_non_exhaustive()
    }
}

fn parse_expiry(text: &str) -> Result<i64> {
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|_| {
            Error::Invalid(format!(
                "expiresAt {text:?} is not an RFC 3339 time such as 2027-01-31T00:00:00Z"
            ))
        })?
        .with_timezone(&Utc)
        .timestamp_millis();
    if at <= now_ms() {
        return Err(Error::Invalid(format!("expiresAt {text:?} is in the past")));
    }
    Ok(at)
}

fn check_email(email: &str) -> Result<String> {
    let email = email.trim();
    if email.len() > 254
        || email.chars().any(char::is_control)
        || !email.contains('@')
        || email.starts_with('@')
        || email.ends_with('@')
    {
        return Err(Error::Invalid(format!(
            "email {email:?} is not an email address"
        )));
    }
    Ok(email.to_string())
}

/// The SHA-256 of an activation code, as stored.
fn code_hash(code: &str) -> String {
    delta_bridge_shares::hash_token(code)
}

fn grant_info(g: &GrantRecord, recipient_id: &str) -> GrantInfo {
    GrantInfo {
        dataset_id: g.dataset_id.clone(),
        dataset_name: g.dataset_name.clone(),
        table: format!("{recipient_id}.{SCHEMA}.{}", g.table_name),
        start_version: g.start_version,
        history: g.history,
        granted_at: rfc3339(g.created_at),
    }
}

fn recipient_info(p: &PublishedRecipient) -> Result<RecipientInfo> {
    let r = &p.recipient;
    Ok(RecipientInfo {
        name: r
            .name
            .parse()
            .map_err(|e| Error::Invalid(format!("the stored recipient name is not valid: {e}")))?,
        email: r.email.clone(),
        expires_at: r.expires_at.map(rfc3339),
        previous_until: r
            .previous_until
            .filter(|&until| until > now_ms())
            .map(rfc3339),
        created_at: rfc3339(r.created_at),
        last_read_at: r.last_read_at.map(rfc3339),
        datasets: p.grants.iter().map(|g| grant_info(g, &r.id)).collect(),
    })
}

impl Datasets {
    /// Adds a recipient for the owner (a conflict if the name is taken).
    pub async fn add_recipient(&self, owner: &str, new: &NewRecipient) -> Result<RecipientInfo> {
        if new.name.is_link() {
            return Err(Error::Invalid(
                "\"link\" is the name of a dataset's snippet; choose another name".into(),
            ));
        }
        let record = self.new_recipient(owner, new)?;
        if self.store.recipients(owner).await?.len() >= MAX_RECIPIENTS {
            return Err(Error::Quota(format!(
                "at most {MAX_RECIPIENTS} recipients per user"
            )));
        }
        let added = self.store.add_recipient(&record).await?.ok_or_else(|| {
            Error::Conflict(format!(
                "a recipient named {:?} exists already",
                new.name.as_str()
            ))
        })?;
        self.land(self.store.share_generation().await?).await;
        recipient_info(&PublishedRecipient {
            recipient: added,
            grants: Vec::new(),
        })
    }

    fn new_recipient(&self, owner: &str, new: &NewRecipient) -> Result<RecipientRecord> {
        let id = ids::recipient_id();
        let salt = ids::random_hex(32);
        let secret = self.settings.secrets.current();
        let token = secret.recipient_token(&id, &salt);
        Ok(RecipientRecord {
            owner: owner.to_string(),
            name: new.name.to_string(),
            email: new.email.as_deref().map(check_email).transpose()?,
            token_hash: delta_bridge_shares::hash_token(&token),
            secret_fingerprint: secret.fingerprint(),
            salt,
            expires_at: new.expires_at.as_deref().map(parse_expiry).transpose()?,
            previous_token_hash: None,
            previous_until: None,
            created_at: now_ms(),
            last_read_at: None,
            id,
        })
    }

    /// The owner's recipients, by name, with what each was granted and its last read.
    pub async fn recipients(&self, owner: &str) -> Result<RecipientList> {
        Ok(RecipientList {
            recipients: self
                .store
                .recipients(owner)
                .await?
                .iter()
                .map(recipient_info)
                .collect::<Result<_>>()?,
        })
    }

    async fn recipient_record(&self, owner: &str, name: &RecipientName) -> Result<RecipientRecord> {
        self.store
            .recipient(owner, name.as_str())
            .await?
            .ok_or_else(|| no_recipient(name))
    }

    /// Revokes the owner's recipient: every grant ends, its activation links die, and its credential
    /// stops working once `share.yaml` is written (the answer says whether it is).
    pub async fn revoke_recipient(
        &self,
        owner: &str,
        name: &RecipientName,
    ) -> Result<RecipientChange> {
        let started = std::time::Instant::now();
        let generation = self
            .store
            .revoke_recipient(owner, name.as_str())
            .await?
            .ok_or_else(|| no_recipient(name))?;
        Ok(RecipientChange {
            recipient: None,
            revocation: self.revoked(generation, started).await,
        })
    }

    /// Lands a revocation's `share.yaml`, timing it.
    pub(crate) async fn revoked(&self, generation: i64, started: std::time::Instant) -> Revocation {
        if self.land(generation).await {
            metrics::histogram!("delta_bridge_revocation_seconds")
                .record(started.elapsed().as_secs_f64());
            Revocation::InForce
        } else {
            Revocation::Pending
        }
    }

    /// Gives the owner's recipient a new credential; the old one keeps working for `overlap` (at most
    /// [`MAX_OVERLAP`]; zero ends it as soon as `share.yaml` is written).
    pub async fn rotate_recipient(
        &self,
        owner: &str,
        name: &RecipientName,
        overlap: Duration,
    ) -> Result<RecipientChange> {
        if overlap > MAX_OVERLAP {
            return Err(Error::Invalid(format!(
                "the overlap is longer than {} days",
                MAX_OVERLAP.as_secs() / 86_400
            )));
        }
        let started = std::time::Instant::now();
        let current = self.recipient_record(owner, name).await?;
        let salt = ids::random_hex(32);
        let secret = self.settings.secrets.current();
        let token = secret.recipient_token(&current.id, &salt);
        let until = (!overlap.is_zero()).then(|| now_ms() + overlap.as_millis() as i64);
        let (_, generation) = self
            .store
            .rotate_recipient(
                owner,
                name.as_str(),
                &salt,
                &secret.fingerprint(),
                &delta_bridge_shares::hash_token(&token),
                until,
            )
            .await?
            .ok_or_else(|| no_recipient(name))?;
        let revocation = self.revoked(generation, started).await;
        Ok(RecipientChange {
            recipient: Some(self.recipient_info(owner, name).await?),
            revocation,
        })
    }

    async fn recipient_info(&self, owner: &str, name: &RecipientName) -> Result<RecipientInfo> {
        let all = self.store.recipients(owner).await?;
        let found = all
            .iter()
            .find(|p| p.recipient.name == name.as_str())
            .ok_or_else(|| no_recipient(name))?;
        recipient_info(found)
    }

    /// A new one-time activation link for the owner's recipient (its page is the backend's own).
    pub async fn activation_link(
        &self,
        owner: &str,
        name: &RecipientName,
    ) -> Result<ActivationLink> {
        let recipient = self.recipient_record(owner, name).await?;
        let code = ids::random_hex(32);
        let expires_at = now_ms() + self.settings.activation_expiry.as_millis() as i64;
        self.store
            .add_activation(&recipient.id, &code_hash(&code), expires_at)
            .await?;
        Ok(ActivationLink {
            url: format!(
                "{}/activate/{code}",
                self.settings.public_url.trim_end_matches('/')
            ),
            expires_at: rfc3339(expires_at),
        })
    }

    /// What the activation page with this code shows (reading it uses nothing up: link previews and
    /// scanners fetch pages too).
    pub async fn activation(&self, code: &str) -> Result<Activation> {
        if !ids::is_id(code, "") || code.len() != 64 {
            return Ok(Activation::Unknown);
        }
        let Some(link) = self.store.activation(&code_hash(code)).await? else {
            return Ok(Activation::Unknown);
        };
        if let Some(used) = link.used_at {
            return Ok(Activation::Used(rfc3339(used)));
        }
        if link.expires_at <= now_ms() {
            return Ok(Activation::Expired(rfc3339(link.expires_at)));
        }
        let r = &link.recipient;
        let grants = self
            .store
            .recipients(&r.owner)
            .await?
            .into_iter()
            .find(|p| p.recipient.id == r.id)
            .map(|p| p.grants)
            .unwrap_or_default();
        let tables: Vec<String> = grants
            .iter()
            .map(|g| format!("{}.{SCHEMA}.{}", r.id, g.table_name))
            .collect();
        let profile_file = snippet::profile_file(&r.name);
        let prelude = format!(
            "# the profile file you downloaded\nprofile = {}\n",
            snippet::python_str(&profile_file)
        );
        let (python, spark) = match tables.first() {
            Some(table) => {
                let (p, s) = snippet::code(&prelude, table);
                (Some(p), Some(s))
            }
            None => (None, None),
        };
        Ok(Activation::Ready(ActivationPage {
            recipient: r.name.clone(),
            tables,
            profile_file,
            python,
            spark,
            expires_at: r.expires_at.map(rfc3339),
            link_expires_at: rfc3339(link.expires_at),
        }))
    }

    /// Downloads the profile through a link, once: the first call gets it, every later one finds the
    /// link used (`Gone`), as does a call after it expired or its recipient was revoked.
    pub async fn activate(&self, code: &str) -> Result<Profile> {
        let gone = || {
            Error::Gone("this activation link was used already, expired or was withdrawn; ask for a new one".into())
        };
        if !ids::is_id(code, "") || code.len() != 64 {
            return Err(gone());
        }
        let hash = code_hash(code);
        let link = self.store.activation(&hash).await?.ok_or_else(gone)?;
        if !self.store.use_activation(&hash, now_ms()).await? {
            return Err(gone());
        }
        let r = &link.recipient;
        Ok(Profile {
            file_name: snippet::profile_file(&r.name),
            json: serde_json::to_string_pretty(&snippet::profile(
                &self.settings.sharing_url,
                &self.credential(r)?,
                r.expires_at.map(rfc3339).as_deref(),
            ))
            .expect("a profile serializes"),
        })
    }

    fn credential(&self, r: &RecipientRecord) -> Result<String> {
        let secret = self
            .settings
            .secrets
            .find(&r.secret_fingerprint)
            .ok_or_else(|| Error::SecretUnknown(r.secret_fingerprint.clone()))?;
        Ok(secret.recipient_token(&r.id, &r.salt))
    }

    /// Grants one of the owner's datasets to recipients, creating those that do not exist yet; each
    /// reaches the version current now and later ones (with `with_history`, the versions before too).
    pub async fn grant(&self, owner: &str, request: &GrantRequest) -> Result<GrantResponse> {
        let id = request.dataset_id.as_str();
        if request.recipients.is_empty() || request.recipients.len() > MAX_GRANTS_PER_REQUEST {
            return Err(Error::Invalid(format!(
                "recipients: name 1 to {MAX_GRANTS_PER_REQUEST}"
            )));
        }
        self.store
            .dataset(owner, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let mut grants = Vec::with_capacity(request.recipients.len());
        for name in &request.recipients {
            if name.is_link() {
                let shared = self
                    .share(
                        owner,
                        &ShareRequest {
                            dataset_id: id.to_string(),
                            with_history: request.with_history,
                            recipients: Vec::new(),
                        },
                    )
                    .await?;
                grants.push(shared);
                continue;
            }
            let recipient = match self.store.recipient(owner, name.as_str()).await? {
                Some(r) => r,
                None => {
                    let new = NewRecipient {
                        name: name.clone(),
                        email: None,
                        expires_at: None,
                    };
                    match self.add_recipient(owner, &new).await {
                        // Made meanwhile by another request: use it.
                        Ok(_) | Err(Error::Conflict(_)) => {}
                        Err(e) => return Err(e),
                    }
                    self.recipient_record(owner, name).await?
                }
            };
            let dataset = self
                .store
                .dataset(owner, id)
                .await?
                .ok_or_else(|| not_found(id))?;
            let grant = self
                .store
                .grant(
                    owner,
                    &recipient.id,
                    id,
                    &table_name(&dataset.name),
                    request.with_history,
                )
                .await?
                .ok_or_else(|| not_found(id))?;
            grants.push(self.grant_response(&recipient, &grant)?);
        }
        self.regenerate().await?;
        Ok(GrantResponse { grants })
    }

    fn grant_response(&self, r: &RecipientRecord, g: &GrantRecord) -> Result<ShareResponse> {
        let table = format!("{}.{SCHEMA}.{}", r.id, g.table_name);
        let expires_at = r.expires_at.map(rfc3339);
        Ok(ShareResponse {
            shared: true,
            recipient: r.name.parse().map_err(|e| {
                Error::Invalid(format!("the stored recipient name is not valid: {e}"))
            })?,
            start_version: g.start_version,
            history: g.history,
            snippet: snippet::build(&Reader {
                dataset_id: &g.dataset_id,
                table: &table,
                profile_stem: &r.name,
                endpoint: &self.settings.sharing_url,
                token: &self.credential(r)?,
                expires_at: expires_at.as_deref(),
            }),
        })
    }

    /// The snippet of one of the owner's datasets for one of the owner's recipients (`link`: the
    /// dataset's link snippet).
    pub async fn snippet_for(
        &self,
        owner: &str,
        id: &str,
        name: &RecipientName,
    ) -> Result<ShareResponse> {
        if name.is_link() {
            return self.snippet(owner, id).await;
        }
        let recipient = self.recipient_record(owner, name).await?;
        match self.store.grant_of(owner, &recipient.id, id).await? {
            Some(grant) => self.grant_response(&recipient, &grant),
            None => {
                self.store
                    .dataset(owner, id)
                    .await?
                    .ok_or_else(|| not_found(id))?;
                Err(Error::Conflict(format!(
                    "dataset {id:?} is not shared with {:?}; share it with them first",
                    name.as_str()
                )))
            }
        }
    }
}
