//! Who is calling: Firebase ID tokens, verified the way Google signs them.
//!
//! [`Verifier::verify`] checks an RS256 signature against Google's published certificates for Firebase,
//! then the claims Firebase documents: `iss` is `https://securetoken.google.com/<project>`, `aud` is
//! the project id, `exp` is in the future, `iat` and `auth_time` are not, and `sub` (the user id) is
//! not empty.
//!
//! The Firebase Auth emulator signs nothing (`alg: none`). Such tokens are accepted only by a verifier
//! built with [`Mode::Emulator`], which a server chooses only when `FIREBASE_AUTH_EMULATOR_HOST` is set,
//! as Google's Admin SDKs do; every other verifier refuses them.
//!
//! The certificates are fetched once, kept for their `Cache-Control` max-age and fetched again, at most
//! once every 10 s, when a token names an unknown key id. One fetch at a time, never under the lock that
//! requests read the keys with: requests that need a fetch wait for the one under way; the others go on
//! with the keys held. A request in the last tenth of the max-age (at most 5 minutes) starts a refresh in
//! the background. When Google cannot be reached or answers an error, the keys held keep verifying for a
//! grace period past their max-age ([`DEFAULT_CERTIFICATE_GRACE`], 6 hours, or
//! [`Verifier::with_certificate_grace`]); after it, or with no keys yet, the answer is
//! [`Error::KeysUnavailable`].
//!
//! Errors never contain the token.
#![warn(missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

#[cfg(feature = "testing")]
pub mod testing;

/// Where Google publishes the certificates that sign Firebase ID tokens.
pub const GOOGLE_CERTIFICATES_URL: &str =
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";

/// How long certificates are kept when the response says nothing about caching.
const DEFAULT_CACHE: Duration = Duration::from_secs(3600);
/// Tolerated clock skew for `exp`, `iat` and `auth_time`.
const LEEWAY_SECONDS: u64 = 5;
/// After a fetch, an unknown key id does not trigger another one for this long (no request storms); nor
/// does a failed fetch start another in the background.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How long after their max-age the certificates held keep verifying tokens while Google cannot be
/// reached or answers an error, unless [`Verifier::with_certificate_grace`] says otherwise. Google
/// publishes a new key well before it signs with it and keeps the old one for days, so keys a few hours
/// past their max-age are still the ones in use.
pub const DEFAULT_CERTIFICATE_GRACE: Duration = Duration::from_secs(6 * 3600);

/// How long before the end of their max-age keys are refreshed in the background: the last tenth, at
/// most five minutes.
fn refresh_margin(max_age: Duration) -> Duration {
    (max_age / 10).min(Duration::from_secs(300))
}

/// Which tokens a verifier accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Real Firebase: RS256 tokens signed by the keys published at `certificates_url`.
    Google {
        /// Usually [`GOOGLE_CERTIFICATES_URL`]; tests serve their own.
        certificates_url: String,
    },
    /// The Firebase Auth emulator: unsigned tokens, for local development only.
    Emulator,
}

impl Mode {
    /// The mode for a project, given `FIREBASE_AUTH_EMULATOR_HOST` as set (`None` or empty if unset): the
    /// Auth emulator's unsigned tokens only when that is a `host:port` and the project id starts with
    /// `demo-` (Firebase's prefix for emulator-only projects); Google's signed tokens when neither is so.
    /// Any other combination is refused, naming both, so that no stray variable turns verification off.
    pub fn choose(
        emulator_host: Option<&str>,
        project_id: &str,
        certificates_url: &str,
    ) -> Result<Mode, ModeError> {
        let host = emulator_host.map(str::trim).filter(|h| !h.is_empty());
        let demo = project_id.starts_with("demo-");
        match (host, demo) {
            (None, false) => Ok(Mode::Google {
                certificates_url: certificates_url.to_string(),
            }),
            (Some(host), true) if is_host_port(host) => Ok(Mode::Emulator),
            (Some(host), _) => Err(ModeError {
                emulator_host: Some(host.to_string()),
                project_id: project_id.to_string(),
            }),
            (None, true) => Err(ModeError {
                emulator_host: None,
                project_id: project_id.to_string(),
            }),
        }
    }

    /// `emulator` or `google`, as `/healthz` shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Google { .. } => "google",
            Mode::Emulator => "emulator",
        }
    }
}

fn is_host_port(text: &str) -> bool {
    text.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && !host.contains(char::is_whitespace)
            && port.parse::<u16>().is_ok_and(|p| p > 0)
    })
}

/// A refused combination of `FIREBASE_AUTH_EMULATOR_HOST` and project id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_mode_error(self))]
pub struct ModeError {
    /// The variable's value, if set.
    pub emulator_host: Option<String>,
    /// The project id.
    pub project_id: String,
}

fn describe_mode_error(e: &ModeError) -> String {
    let rule = "the Auth emulator's unsigned tokens are accepted only with FIREBASE_AUTH_EMULATOR_HOST set to its host:port \
                and a project id starting with demo-; real Firebase tokens need FIREBASE_AUTH_EMULATOR_HOST unset and the real project id";
    match &e.emulator_host {
        Some(host) => format!(
            "FIREBASE_AUTH_EMULATOR_HOST is {host:?} and the Firebase project id is {:?}: {rule}",
            e.project_id
        ),
        None => format!(
            "the Firebase project id {:?} is an emulator-only (demo-) project, but FIREBASE_AUTH_EMULATOR_HOST is not set: {rule}",
            e.project_id
        ),
    }
}

/// Who may sign in, beyond holding a valid token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// If not empty, only email addresses at one of these domains.
    pub allowed_email_domains: Vec<String>,
    /// Only users whose email address is verified.
    pub require_verified_email: bool,
}

impl Policy {
    /// Whether this caller may sign in; the refusal says what would let them.
    pub fn admit(&self, caller: &Caller) -> Result<(), Error> {
        if !self.allowed_email_domains.is_empty() {
            let domain = caller
                .email
                .as_deref()
                .and_then(|e| e.rsplit_once('@'))
                .map(|(_, d)| d.to_ascii_lowercase());
            let allowed = domain.as_deref().is_some_and(|d| {
                self.allowed_email_domains
                    .iter()
                    .any(|a| a.trim_start_matches('@').eq_ignore_ascii_case(d))
            });
            if !allowed {
                return Err(Error::NotAllowed(format!(
                    "this server accepts only accounts with an email address at {}",
                    self.allowed_email_domains.join(", ")
                )));
            }
        }
        if self.require_verified_email && !caller.email_verified {
            return Err(Error::NotAllowed(
                "verify your email address first (follow the link Firebase sent), then sign in again".into(),
            ));
        }
        Ok(())
    }
}

/// Settings of a verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The Firebase project id (`aud`, and the end of `iss`).
    pub project_id: String,
    /// Which tokens are accepted.
    pub mode: Mode,
    /// Who may sign in.
    pub policy: Policy,
}

/// The verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The Firebase user id (`sub`).
    pub uid: String,
    /// The user's email, if the token has one.
    pub email: Option<String>,
    /// Whether Firebase says the email address is verified.
    pub email_verified: bool,
}

/// Why a token was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// Not a JWT at all.
    #[error("the token is malformed")]
    Malformed,
    /// `alg: none` outside emulator mode.
    #[error("the token is not signed")]
    Unsigned,
    /// An algorithm this verifier does not accept (anything but RS256; in emulator mode, anything but none).
    #[error("the token is signed with {0}, which this server does not accept")]
    Algorithm(String),
    /// No published key has the token's key id.
    #[error("the token names a signing key that is not published")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is not valid")]
    BadSignature,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `iat` or `auth_time` is in the future.
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// `aud` is another project.
    #[error("the token is for another Firebase project")]
    WrongAudience,
    /// `iss` is not this project's issuer.
    #[error("the token has the wrong issuer")]
    WrongIssuer,
    /// `sub` is empty (or too long).
    #[error("the token has no user id")]
    NoSubject,
    /// A valid token of a user this server's sign-in policy does not admit.
    #[error("{0}")]
    NotAllowed(String),
    /// The certificates could not be fetched or read; a retry may pass.
    #[error("the signing certificates could not be fetched: {0}")]
    KeysUnavailable(String),
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    sub: String,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    auth_time: Option<u64>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    aud: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
}

/// The certificates held, and what the last fetch did. Behind a lock held only to read or swap, never
/// across a fetch.
#[derive(Default)]
struct Keys {
    by_id: HashMap<String, DecodingKey>,
    /// Whether `by_id` came from a successful fetch.
    fetched: bool,
    /// The end of the response's max-age.
    fresh_until: Option<Instant>,
    /// From then on, a request that uses these keys starts a refresh in the background.
    refresh_after: Option<Instant>,
    /// When the last fetch (successful or not) ended.
    attempted_at: Option<Instant>,
    /// Why the last fetch failed, if it did.
    failure: Option<Error>,
    /// How many fetches have ended: a request that waited for a fetch under way answers from its result.
    generation: u64,
}

/// What a request does with the keys held.
enum Plan {
    /// Verify with this key; if `refresh`, also start a refresh in the background.
    Serve(DecodingKey, bool),
    /// Answer this, without fetching.
    Answer(Error),
    /// Wait for a fetch (joining the one under way, if any).
    Fetch,
}

impl Keys {
    /// Whether these keys may still verify tokens at `now`: within their max-age, or after it for `grace`.
    fn usable(&self, now: Instant, grace: Duration) -> bool {
        self.fetched
            && self
                .fresh_until
                .is_some_and(|t| now < t.checked_add(grace).unwrap_or(t))
    }

    fn failed_recently(&self, now: Instant) -> bool {
        self.failure.is_some()
            && self
                .attempted_at
                .is_some_and(|t| now.saturating_duration_since(t) < REFETCH_INTERVAL)
    }

    fn plan(&self, kid: &str, now: Instant, grace: Duration) -> Plan {
        if !self.usable(now, grace) {
            return Plan::Fetch;
        }
        match self.by_id.get(kid) {
            Some(key) => {
                let due = self.refresh_after.is_some_and(|t| now >= t);
                Plan::Serve(key.clone(), due && !self.failed_recently(now))
            }
            None => {
                let attempted_recently = self
                    .attempted_at
                    .is_some_and(|t| now.saturating_duration_since(t) < REFETCH_INTERVAL);
                match (&self.failure, attempted_recently) {
                    (_, false) => Plan::Fetch,
                    (Some(failure), true) => Plan::Answer(failure.clone()),
                    (None, true) => Plan::Answer(Error::UnknownKey),
                }
            }
        }
    }

    /// The answer for `kid` once a fetch has ended: from its keys if it succeeded (whatever their
    /// max-age), else from the keys held if still usable.
    fn answer(&self, kid: &str, now: Instant, grace: Duration) -> Result<DecodingKey, Error> {
        match self.by_id.get(kid) {
            Some(key) if self.failure.is_none() || self.usable(now, grace) => Ok(key.clone()),
            _ => Err(self.failure.clone().unwrap_or(Error::UnknownKey)),
        }
    }

    /// Records a fetch's result: new keys replace the held ones; a failure keeps them.
    fn record(&mut self, result: Result<Keys, Error>, grace: Duration) {
        let now = Instant::now();
        self.generation += 1;
        self.attempted_at = Some(now);
        match result {
            Ok(fetched) => {
                self.by_id = fetched.by_id;
                self.fetched = true;
                self.fresh_until = fetched.fresh_until;
                self.refresh_after = fetched.refresh_after;
                self.failure = None;
            }
            Err(e) => {
                if self.usable(now, grace) {
                    tracing::warn!(
                        "{e}; verifying with the certificates held, for up to {} s more",
                        self.fresh_until
                            .and_then(|t| t.checked_add(grace))
                            .map_or(0, |t| t.saturating_duration_since(now).as_secs())
                    );
                } else {
                    tracing::warn!("{e}");
                }
                self.failure = Some(e);
            }
        }
    }
}

/// The part of a verifier a background refresh needs.
struct Shared {
    http: reqwest::Client,
    keys: std::sync::RwLock<Keys>,
    /// Held while a fetch is under way: one at a time, and those who need its result wait for it.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

/// Verifies Firebase ID tokens for one project.
pub struct Verifier {
    settings: Settings,
    grace: Duration,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("settings", &self.settings)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Verifier {
    /// A verifier; nothing is fetched until the first token. Certificates held keep verifying for
    /// [`DEFAULT_CERTIFICATE_GRACE`] after their max-age when they cannot be fetched again.
    pub fn new(settings: Settings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Verifier {
            settings,
            grace: DEFAULT_CERTIFICATE_GRACE,
            shared: Arc::new(Shared {
                http,
                keys: std::sync::RwLock::new(Keys::default()),
                fetching: Arc::new(tokio::sync::Mutex::new(())),
            }),
        }
    }

    /// The same verifier with another grace period: how long after their max-age the certificates held
    /// keep verifying tokens while Google cannot be reached or answers an error.
    pub fn with_certificate_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long certificates held keep verifying after their max-age when they cannot be fetched.
    pub fn certificate_grace(&self) -> Duration {
        self.grace
    }

    /// The settings this verifier was built with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Checks a token and returns who it belongs to.
    pub async fn verify(&self, token: &str) -> Result<Caller, Error> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Malformed);
        };
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(header)
                .map_err(|_| Error::Malformed)?,
        )
        .map_err(|_| Error::Malformed)?;
        let algorithm = header["alg"].as_str().ok_or(Error::Malformed)?;
        let claims: Claims = match (algorithm, &self.settings.mode) {
            ("none", Mode::Emulator) => serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(payload)
                    .map_err(|_| Error::Malformed)?,
            )
            .map_err(|_| Error::Malformed)?,
            ("none", Mode::Google { .. }) => return Err(Error::Unsigned),
            ("RS256", Mode::Google { certificates_url }) => {
                let kid = header["kid"].as_str().ok_or(Error::UnknownKey)?;
                let key = self.key(certificates_url, kid).await?;
                let mut validation = Validation::new(Algorithm::RS256);
                // The claims are checked below, one by one, so each refusal says why.
                validation.validate_exp = false;
                validation.validate_aud = false;
                validation.required_spec_claims.clear();
                jsonwebtoken::decode::<Claims>(token, &key, &validation)
                    .map_err(|e| match e.kind() {
                        jsonwebtoken::errors::ErrorKind::InvalidSignature => Error::BadSignature,
                        _ => Error::Malformed,
                    })?
                    .claims
            }
            (other, _) => return Err(Error::Algorithm(other.to_string())),
        };
        self.check(claims)
    }

    fn check(&self, claims: Claims) -> Result<Caller, Error> {
        let now = now();
        let project = &self.settings.project_id;
        if claims.aud.as_deref() != Some(project.as_str()) {
            return Err(Error::WrongAudience);
        }
        if claims.iss.as_deref()
            != Some(format!("https://securetoken.google.com/{project}").as_str())
        {
            return Err(Error::WrongIssuer);
        }
        match claims.exp {
            Some(exp) if exp + LEEWAY_SECONDS > now => {}
            _ => return Err(Error::Expired),
        }
        for issued in [claims.iat, claims.auth_time] {
            match issued {
                Some(t) if t <= now + LEEWAY_SECONDS => {}
                _ => return Err(Error::IssuedInFuture),
            }
        }
        if claims.sub.is_empty() || claims.sub.len() > 128 {
            return Err(Error::NoSubject);
        }
        let caller = Caller {
            uid: claims.sub,
            email: claims.email,
            email_verified: claims.email_verified.unwrap_or(false),
        };
        self.settings.policy.admit(&caller)?;
        Ok(caller)
    }

    async fn key(&self, url: &str, kid: &str) -> Result<DecodingKey, Error> {
        let (shared, grace) = (&self.shared, self.grace);
        let (plan, generation) = {
            let keys = shared.read();
            (keys.plan(kid, Instant::now(), grace), keys.generation)
        };
        match plan {
            Plan::Serve(key, refresh) => {
                if refresh {
                    shared.refresh_in_background(url, grace, generation);
                }
                Ok(key)
            }
            Plan::Answer(error) => Err(error),
            Plan::Fetch => {
                let fetching = shared.fetching.lock().await;
                // A fetch that ended while this request waited answers it too.
                if shared.read().generation == generation {
                    let result = shared.fetch(url).await;
                    shared.write().record(result, grace);
                }
                drop(fetching);
                shared.read().answer(kid, Instant::now(), grace)
            }
        }
    }
}

impl Shared {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a fetch in the background unless one is under way or has ended since the caller read the
    /// keys at `generation` (or there is no runtime to run it on).
    fn refresh_in_background(self: &Arc<Self>, url: &str, grace: Duration, generation: u64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Ok(fetching) = self.fetching.clone().try_lock_owned() else {
            return;
        };
        if self.read().generation != generation {
            return;
        }
        let shared = self.clone();
        let url = url.to_string();
        runtime.spawn(async move {
            let result = shared.fetch(&url).await;
            shared.write().record(result, grace);
            drop(fetching);
        });
    }

    async fn fetch(&self, url: &str) -> Result<Keys, Error> {
        let unavailable = |e: reqwest::Error| Error::KeysUnavailable(e.without_url().to_string());
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(unavailable)?
            .error_for_status()
            .map_err(unavailable)?;
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(',')
                    .find_map(|part| part.trim().strip_prefix("max-age=")?.parse::<u64>().ok())
            })
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_CACHE);
        let certificates: HashMap<String, String> = response.json().await.map_err(unavailable)?;
        let mut by_id = HashMap::new();
        for (kid, pem) in certificates {
            match DecodingKey::from_rsa_pem(pem.as_bytes()) {
                Ok(key) => {
                    by_id.insert(kid, key);
                }
                Err(e) => {
                    tracing::warn!(%kid, "ignoring a published certificate that does not parse: {e}")
                }
            }
        }
        let now = Instant::now();
        let fresh_until = now + max_age;
        Ok(Keys {
            by_id,
            fetched: true,
            fresh_until: Some(fresh_until),
            refresh_after: Some(fresh_until - refresh_margin(max_age)),
            ..Keys::default()
        })
    }
}

#[cfg(test)]
mod mode_tests {
    use super::*;

    const CERTS: &str = "https://certs.example/x";

    #[test]
    fn unsigned_tokens_only_with_an_emulator_host_and_a_demo_project() {
        assert_eq!(
            Mode::choose(Some("127.0.0.1:9099"), "demo-delta-bridge", CERTS),
            Ok(Mode::Emulator)
        );
        assert_eq!(
            Mode::choose(Some("localhost:9099"), "demo-x", CERTS),
            Ok(Mode::Emulator)
        );
        assert_eq!(
            Mode::choose(None, "acme-prod-4711", CERTS),
            Ok(Mode::Google {
                certificates_url: CERTS.into()
            })
        );
        assert_eq!(
            Mode::choose(Some(""), "acme-prod-4711", CERTS).map(|m| m.name()),
            Ok("google")
        );
        // A stray or "disabling" value, or a real project: refused, naming both.
        for (host, project) in [
            ("false", "acme-prod-4711"),
            ("0", "demo-x"),
            ("off", "demo-x"),
            ("127.0.0.1:9099", "acme-prod-4711"),
            ("127.0.0.1", "demo-x"),
            (":9099", "demo-x"),
            ("host:99999", "demo-x"),
        ] {
            let error = Mode::choose(Some(host), project, CERTS).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(&format!("{host:?}")), "{message}");
            assert!(message.contains(&format!("{project:?}")), "{message}");
        }
        // A demo- project cannot be verified against Google.
        let message = Mode::choose(None, "demo-x", CERTS).unwrap_err().to_string();
        assert!(
            message.contains("\"demo-x\"")
                && message.contains("FIREBASE_AUTH_EMULATOR_HOST is not set")
        );
    }

    #[test]
    fn the_sign_in_policy_admits_only_allowed_domains_and_verified_emails() {
        let caller = |email: Option<&str>, verified: bool| Caller {
            uid: "u".into(),
            email: email.map(str::to_string),
            email_verified: verified,
        };
        let open = Policy::default();
        assert!(open.admit(&caller(None, false)).is_ok());
        let domains = Policy {
            allowed_email_domains: vec!["example.com".into(), "@corp.example".into()],
            require_verified_email: false,
        };
        assert!(
            domains
                .admit(&caller(Some("ana@Example.COM"), false))
                .is_ok()
        );
        assert!(
            domains
                .admit(&caller(Some("bo@corp.example"), false))
                .is_ok()
        );
        for refused in [
            None,
            Some("eve@evil.example"),
            Some("eve@example.com.evil"),
            Some("example.com"),
        ] {
            let Err(Error::NotAllowed(message)) = domains.admit(&caller(refused, true)) else {
                panic!("{refused:?} admitted");
            };
            assert!(message.contains("example.com"), "{message}");
        }
        let verified = Policy {
            allowed_email_domains: vec![],
            require_verified_email: true,
        };
        assert!(verified.admit(&caller(Some("a@b.c"), true)).is_ok());
        assert!(matches!(
            verified.admit(&caller(Some("a@b.c"), false)),
            Err(Error::NotAllowed(m)) if m.contains("verify your email")
        ));
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(3600);

    /// Keys with `key-1`, fetched at `t0` with a 100 s max-age.
    fn fetched_at(t0: Instant) -> Keys {
        let max_age = Duration::from_secs(100);
        Keys {
            by_id: HashMap::from([("key-1".to_string(), DecodingKey::from_secret(b"k"))]),
            fetched: true,
            fresh_until: Some(t0 + max_age),
            refresh_after: Some(t0 + max_age - refresh_margin(max_age)),
            attempted_at: Some(t0),
            failure: None,
            generation: 1,
        }
    }

    fn plan(keys: &Keys, kid: &str, at: Instant) -> &'static str {
        match keys.plan(kid, at, GRACE) {
            Plan::Serve(_, false) => "serve",
            Plan::Serve(_, true) => "serve and refresh",
            Plan::Answer(Error::UnknownKey) => "unknown key",
            Plan::Answer(Error::KeysUnavailable(_)) => "unavailable",
            Plan::Answer(_) => "other",
            Plan::Fetch => "fetch",
        }
    }

    #[test]
    fn the_last_tenth_of_the_max_age_at_most_five_minutes_refreshes() {
        assert_eq!(
            refresh_margin(Duration::from_secs(60)),
            Duration::from_secs(6)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(6 * 3600)),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn held_keys_serve_refresh_before_expiry_and_through_the_grace() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(plan(&Keys::default(), "key-1", t0), "fetch", "no keys yet");
        let mut keys = fetched_at(t0);
        assert_eq!(plan(&keys, "key-1", at(50)), "serve");
        assert_eq!(
            plan(&keys, "key-1", at(95)),
            "serve and refresh",
            "last tenth"
        );
        assert_eq!(
            plan(&keys, "key-1", at(200)),
            "serve and refresh",
            "expired, in grace"
        );
        assert_eq!(
            plan(&keys, "key-1", at(100 + 3600)),
            "fetch",
            "past the grace"
        );
        // An unknown key id: one fetch per REFETCH_INTERVAL.
        assert_eq!(plan(&keys, "rotated", at(5)), "unknown key");
        assert_eq!(plan(&keys, "rotated", at(11)), "fetch");

        // A failed refresh at 150 s: the held keys keep serving, without a refresh for 10 s.
        keys.record(Err(Error::KeysUnavailable("500".into())), GRACE);
        keys.attempted_at = Some(at(150));
        assert_eq!(plan(&keys, "key-1", at(155)), "serve");
        assert_eq!(plan(&keys, "key-1", at(161)), "serve and refresh");
        assert_eq!(plan(&keys, "rotated", at(155)), "unavailable");
        assert_eq!(plan(&keys, "rotated", at(161)), "fetch");
        assert!(matches!(
            keys.answer("key-1", at(100 + 3600), GRACE),
            Err(Error::KeysUnavailable(_))
        ));
        assert!(keys.answer("key-1", at(200), GRACE).is_ok());
    }
}
