//! Who is calling: Firebase ID tokens, verified the way Google signs them.
//!
//! [`Verifier::verify`] checks an RS256 signature against Google's published certificates for Firebase
//! (fetched, cached for their `Cache-Control` max-age, fetched again when a token names an unknown key
//! id), then the claims Firebase documents: `iss` is `https://securetoken.google.com/<project>`, `aud` is
//! the project id, `exp` is in the future, `iat` and `auth_time` are not, and `sub` (the user id) is
//! not empty.
//!
//! The Firebase Auth emulator signs nothing (`alg: none`). Such tokens are accepted only by a verifier
//! built with [`Mode::Emulator`], which a server chooses only when `FIREBASE_AUTH_EMULATOR_HOST` is set,
//! as Google's Admin SDKs do; every other verifier refuses them.
//!
//! Errors never contain the token.
#![warn(missing_docs)]

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

#[cfg(feature = "testing")]
pub mod testing;

/// Where Google publishes the certificates that sign Firebase ID tokens.
pub const GOOGLE_CERTIFICATES_URL: &str =
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";

/// How long certificates are kept when the response says nothing about caching.
const DEFAULT_CACHE: Duration = Duration::from_secs(3600);
/// Tolerated clock skew for `exp`, `iat` and `auth_time`.
const LEEWAY_SECONDS: u64 = 5;
/// After a fetch, an unknown key id does not trigger another one for this long (no request storms).
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

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

#[derive(Default)]
struct Keys {
    by_id: HashMap<String, DecodingKey>,
    fresh_until: Option<Instant>,
    fetched_at: Option<Instant>,
}

/// Verifies Firebase ID tokens for one project.
pub struct Verifier {
    settings: Settings,
    http: reqwest::Client,
    keys: RwLock<Keys>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("settings", &self.settings)
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
    /// A verifier; nothing is fetched until the first token.
    pub fn new(settings: Settings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Verifier {
            settings,
            http,
            keys: RwLock::new(Keys::default()),
        }
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
        {
            let keys = self.keys.read().await;
            let fresh = keys.fresh_until.is_some_and(|t| t > Instant::now());
            if let Some(key) = keys.by_id.get(kid).filter(|_| fresh) {
                return Ok(key.clone());
            }
            let fetched_recently = keys
                .fetched_at
                .is_some_and(|t| t.elapsed() < REFETCH_INTERVAL);
            if fresh && fetched_recently {
                return Err(Error::UnknownKey);
            }
        }
        let mut keys = self.keys.write().await;
        // Another request may have fetched while this one waited for the lock.
        let fresh = keys.fresh_until.is_some_and(|t| t > Instant::now());
        if fresh && let Some(key) = keys.by_id.get(kid) {
            return Ok(key.clone());
        }
        if !(fresh
            && keys
                .fetched_at
                .is_some_and(|t| t.elapsed() < REFETCH_INTERVAL))
        {
            *keys = self.fetch(url).await?;
        }
        keys.by_id.get(kid).cloned().ok_or(Error::UnknownKey)
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
        Ok(Keys {
            by_id,
            fresh_until: Some(now + max_age),
            fetched_at: Some(now),
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
