//! Everything the desktop app does, as a library with no UI dependency (the `delta-bridge` CLI uses it
//! too): sign in with Firebase and keep the refresh token in the OS keyring, convert CSV files locally,
//! upload them through the backend's presigned URLs (resumably), share, and manage datasets.
//!
//! The ID token lives only in memory and is refreshed before it expires. Nothing secret is written to
//! disk, logs or `Debug` output.
#![warn(missing_docs)]

pub mod account;
mod backend;
mod error;
mod journal;
mod keychain;
mod secret;
mod upload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use account::{AuthError, Firebase, FirebaseSettings, Tokens};
pub use backend::Backend;
pub use error::{Error, Kind, Result};
pub use keychain::{KeyringError, SERVICE as KEYRING_SERVICE};
pub use secret::Secret;
pub use upload::{Progress, ProgressFn, Stage, UploadOptions, Uploaded};

use keychain::Keychain;

/// Refresh the ID token when it has less than this left.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Where things are.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The backend's base URL.
    pub backend_url: String,
    /// Firebase.
    pub firebase: FirebaseSettings,
    /// Where journals, converted tables and the (non-secret) account record live.
    pub state_dir: PathBuf,
}

/// Who is signed in (not secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Firebase user id.
    pub uid: String,
    /// Email.
    pub email: Option<String>,
}

/// A signed-in (or not yet signed-in) user of one backend.
pub struct Client {
    settings: Settings,
    firebase: Firebase,
    backend: Backend,
    keychain: Keychain,
    uploads: reqwest::Client,
    current: tokio::sync::Mutex<Option<(Secret, Instant)>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("backend", &self.settings.backend_url)
            .field("state_dir", &self.settings.state_dir)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client; nothing is contacted yet.
    pub fn new(settings: Settings) -> Client {
        let uploads = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .build()
            .expect("an HTTP client builds");
        Client {
            firebase: Firebase::new(settings.firebase.clone()),
            backend: Backend::new(&settings.backend_url),
            // One sign-in per backend.
            keychain: Keychain::new(&format!("refresh-token {}", settings.backend_url)),
            uploads,
            current: tokio::sync::Mutex::new(None),
            settings,
        }
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    fn state_dir(&self) -> &Path {
        &self.settings.state_dir
    }

    fn uploads_http(&self) -> &reqwest::Client {
        &self.uploads
    }

    fn account_path(&self) -> PathBuf {
        self.state_dir().join("account.json")
    }

    /// Signs in (or, with `sign_up`, creates the account first) and keeps the refresh token in the OS
    /// keyring.
    pub async fn login(&self, email: &str, password: &str, sign_up: bool) -> Result<Account> {
        let tokens = if sign_up {
            self.firebase.sign_up(email, password).await?
        } else {
            self.firebase.sign_in(email, password).await?
        };
        let keychain = self.keychain.clone();
        let refresh = tokens.refresh_token.clone();
        blocking(move || keychain.store(&refresh)).await??;
        let account = Account {
            uid: tokens.uid.clone(),
            email: tokens.email.clone(),
        };
        self.save_account(&account)?;
        *self.current.lock().await = Some((tokens.id_token, tokens.expires_at));
        Ok(account)
    }

    /// Signs out: deletes the keyring entry and forgets the account. True if someone was signed in.
    pub async fn logout(&self) -> Result<bool> {
        let keychain = self.keychain.clone();
        let had = blocking(move || keychain.delete()).await??;
        let _ = std::fs::remove_file(self.account_path());
        *self.current.lock().await = None;
        Ok(had)
    }

    /// Who is signed in, checked with Firebase (the stored sign-in is refreshed).
    pub async fn whoami(&self) -> Result<Account> {
        self.id_token().await?;
        self.account().await
    }

    async fn account(&self) -> Result<Account> {
        let text = std::fs::read(self.account_path()).map_err(|_| AuthError::NotSignedIn)?;
        serde_json::from_slice(&text).map_err(|_| Error::Auth(AuthError::NotSignedIn))
    }

    fn save_account(&self, account: &Account) -> Result<()> {
        let path = self.account_path();
        std::fs::create_dir_all(self.state_dir())
            .and_then(|()| {
                std::fs::write(
                    &path,
                    serde_json::to_vec_pretty(account).expect("serializes"),
                )
            })
            .map_err(|e| Error::Local(format!("{}: {e}", path.display())))
    }

    /// A valid ID token: the one in memory, or a fresh one from the refresh token in the keyring.
    pub async fn id_token(&self) -> Result<Secret> {
        let mut current = self.current.lock().await;
        if let Some((token, expires_at)) = current.as_ref()
            && *expires_at > Instant::now() + REFRESH_MARGIN
        {
            return Ok(token.clone());
        }
        let keychain = self.keychain.clone();
        let refresh = blocking(move || keychain.load())
            .await??
            .ok_or(AuthError::NotSignedIn)?;
        let tokens = self.firebase.refresh(&refresh).await?;
        if tokens.refresh_token != refresh {
            let keychain = self.keychain.clone();
            let rotated = tokens.refresh_token.clone();
            blocking(move || keychain.store(&rotated)).await??;
        }
        *current = Some((tokens.id_token.clone(), tokens.expires_at));
        Ok(tokens.id_token)
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Local(format!("a keyring call stopped: {e}")))
}
