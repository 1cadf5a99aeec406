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

/// Settings of a verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The Firebase project id (`aud`, and the end of `iss`).
    pub project_id: String,
    /// Which tokens are accepted.
    pub mode: Mode,
}

/// The verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The Firebase user id (`sub`).
    pub uid: String,
    /// The user's email, if the token has one.
    pub email: Option<String>,
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
        Ok(Caller {
            uid: claims.sub,
            email: claims.email,
        })
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
