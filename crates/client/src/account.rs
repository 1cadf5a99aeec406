//! Firebase email and password sign-in through the Identity Toolkit REST API (sign up, sign in) and the
//! Secure Token API (refresh). Base URLs are configurable so the Firebase Auth emulator works.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use crate::secret::Secret;
use crate::transport::{self, Refusal};

/// Where Firebase is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirebaseSettings {
    /// The project's Web API key (any value for the emulator).
    pub api_key: String,
    /// Base of the Identity Toolkit API, such as `https://identitytoolkit.googleapis.com`.
    pub identity_url: String,
    /// Base of the Secure Token API, such as `https://securetoken.googleapis.com`.
    pub token_url: String,
}

impl FirebaseSettings {
    /// Whether both base URLs may receive passwords and tokens ([`transport::check`]).
    pub fn check(&self, insecure_http: bool) -> Result<(), Refusal> {
        let what = if self.identity_url.starts_with("http://") {
            "Firebase Auth emulator"
        } else {
            "Firebase sign-in"
        };
        transport::check(what, &self.identity_url, insecure_http)?;
        transport::check(what, &self.token_url, insecure_http)
    }

    /// Real Firebase with this Web API key.
    pub fn google(api_key: &str) -> FirebaseSettings {
        FirebaseSettings {
            api_key: api_key.to_string(),
            identity_url: "https://identitytoolkit.googleapis.com".into(),
            token_url: "https://securetoken.googleapis.com".into(),
        }
    }

    /// The Auth emulator at `host` (`127.0.0.1:9099`), as `FIREBASE_AUTH_EMULATOR_HOST` names it.
    pub fn emulator(host: &str, api_key: &str) -> FirebaseSettings {
        FirebaseSettings {
            api_key: api_key.to_string(),
            identity_url: format!("http://{host}/identitytoolkit.googleapis.com"),
            token_url: format!("http://{host}/securetoken.googleapis.com"),
        }
    }
}

/// Why signing in failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong password (or, for Firebase projects that hide which, wrong email or password).
    #[error("wrong email or password")]
    WrongPassword,
    /// No account with that email.
    #[error("no account has this email; sign up first")]
    UnknownUser,
    /// Sign-up with an email that has an account.
    #[error("an account with this email exists already; sign in instead")]
    EmailExists,
    /// Sign-up with a weak password.
    #[error("the password is too weak (6 characters at least)")]
    WeakPassword,
    /// The account is disabled.
    #[error("this account is disabled")]
    Disabled,
    /// Too many attempts.
    #[error("too many attempts; wait a little and try again")]
    TooManyAttempts,
    /// The stored sign-in no longer works (revoked, expired, password changed).
    #[error("the saved sign-in has expired or was revoked; sign in again")]
    SessionExpired,
    /// Not signed in.
    #[error("not signed in; run `delta-bridge login` first")]
    NotSignedIn,
    /// Firebase could not be reached.
    #[error("cannot reach Firebase sign-in at {url}: {reason}")]
    Network {
        /// The base URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The settings would send the password or a token over plain http to another machine: not sent.
    #[error("{0}")]
    Transport(#[from] Refusal),
    /// Anything else Firebase said.
    #[error("Firebase refused: {0}")]
    Other(String),
}

/// The tokens of a signed-in user.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The user id.
    pub uid: String,
    /// The email, when known.
    pub email: Option<String>,
    /// The ID token (for the backend), short-lived.
    pub id_token: Secret,
    /// The refresh token (kept in the OS keyring).
    pub refresh_token: Secret,
    /// When the ID token expires.
    pub expires_at: Instant,
}

/// Talks to Firebase.
#[derive(Debug, Clone)]
pub struct Firebase {
    settings: FirebaseSettings,
    insecure_http: bool,
    http: reqwest::Client,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignInResponse {
    local_id: String,
    #[serde(default)]
    email: Option<String>,
    id_token: String,
    refresh_token: String,
    expires_in: String,
}

#[derive(Deserialize)]
struct RefreshResponse {
    user_id: String,
    id_token: String,
    refresh_token: String,
    expires_in: String,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

impl Firebase {
    /// A client for these settings; with `insecure_http`, plain `http://` to other machines is allowed
    /// (otherwise such a call fails before anything is sent).
    pub fn new(settings: FirebaseSettings, insecure_http: bool) -> Firebase {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client builds");
        Firebase {
            settings,
            insecure_http,
            http,
        }
    }

    /// Creates an account and signs it in.
    pub async fn sign_up(&self, email: &str, password: &str) -> Result<Tokens, AuthError> {
        self.password_call("accounts:signUp", email, password).await
    }

    /// Signs in with email and password.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Tokens, AuthError> {
        self.password_call("accounts:signInWithPassword", email, password)
            .await
    }

    async fn password_call(
        &self,
        method: &str,
        email: &str,
        password: &str,
    ) -> Result<Tokens, AuthError> {
        self.settings.check(self.insecure_http)?;
        let base = &self.settings.identity_url;
        let url = format!("{}/v1/{method}", base.trim_end_matches('/'));
        let response = self
            .http
            .post(&url)
            .query(&[("key", &self.settings.api_key)])
            .json(&json!({"email": email, "password": password, "returnSecureToken": true}))
            .send()
            .await
            .map_err(|e| network(base, &e))?;
        let body: SignInResponse = answer(response, base).await?;
        Ok(Tokens {
            uid: body.local_id,
            email: body.email.or_else(|| Some(email.to_string())),
            id_token: Secret::new(body.id_token),
            refresh_token: Secret::new(body.refresh_token),
            expires_at: expiry(&body.expires_in),
        })
    }

    /// A fresh ID token from a refresh token.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Tokens, AuthError> {
        self.settings.check(self.insecure_http)?;
        let base = &self.settings.token_url;
        let url = format!("{}/v1/token", base.trim_end_matches('/'));
        let response = self
            .http
            .post(&url)
            .query(&[("key", &self.settings.api_key)])
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
            ])
            .send()
            .await
            .map_err(|e| network(base, &e))?;
        let body: RefreshResponse = answer(response, base).await?;
        Ok(Tokens {
            uid: body.user_id,
            email: None,
            id_token: Secret::new(body.id_token),
            refresh_token: Secret::new(body.refresh_token),
            expires_at: expiry(&body.expires_in),
        })
    }
}

fn expiry(expires_in: &str) -> Instant {
    Instant::now() + Duration::from_secs(expires_in.parse().unwrap_or(3600))
}

fn network(base: &str, e: &reqwest::Error) -> AuthError {
    AuthError::Network {
        url: base.to_string(),
        reason: if e.is_timeout() {
            "timed out".into()
        } else {
            "connection failed".into()
        },
    }
}

async fn answer<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    base: &str,
) -> Result<T, AuthError> {
    let status = response.status();
    let text = response.text().await.map_err(|e| network(base, &e))?;
    if status.is_success() {
        return serde_json::from_str(&text)
            .map_err(|_| AuthError::Other("an answer this client does not understand".into()));
    }
    let message = serde_json::from_str::<ErrorResponse>(&text)
        .map(|e| e.error.message)
        .unwrap_or_else(|_| format!("HTTP {status}"));
    Err(classify(&message))
}

/// Firebase's error messages look like `INVALID_PASSWORD` or
/// `WEAK_PASSWORD : Password should be at least 6 characters`.
fn classify(message: &str) -> AuthError {
    let code = message.split([' ', ':']).next().unwrap_or_default();
    match code {
        "INVALID_PASSWORD" | "INVALID_LOGIN_CREDENTIALS" => AuthError::WrongPassword,
        "EMAIL_NOT_FOUND" => AuthError::UnknownUser,
        "EMAIL_EXISTS" => AuthError::EmailExists,
        "WEAK_PASSWORD" => AuthError::WeakPassword,
        "USER_DISABLED" => AuthError::Disabled,
        "TOO_MANY_ATTEMPTS_TRY_LATER" => AuthError::TooManyAttempts,
        "TOKEN_EXPIRED" | "INVALID_REFRESH_TOKEN" | "USER_NOT_FOUND" | "INVALID_GRANT_TYPE" => {
            AuthError::SessionExpired
        }
        _ => AuthError::Other(code.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firebase_messages_become_errors_a_user_can_act_on() {
        assert!(matches!(
            classify("INVALID_PASSWORD"),
            AuthError::WrongPassword
        ));
        assert!(matches!(
            classify("WEAK_PASSWORD : Password should be at least 6 characters"),
            AuthError::WeakPassword
        ));
        assert!(matches!(
            classify("EMAIL_NOT_FOUND"),
            AuthError::UnknownUser
        ));
        assert!(matches!(
            classify("TOKEN_EXPIRED"),
            AuthError::SessionExpired
        ));
    }

    #[test]
    fn tokens_never_show_in_debug_output() {
        let tokens = Tokens {
            uid: "u".into(),
            email: None,
            id_token: Secret::new("id-token-value"),
            refresh_token: Secret::new("refresh-token-value"),
            expires_at: Instant::now(),
        };
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("id-token-value") && !shown.contains("refresh-token-value"));
    }
}
