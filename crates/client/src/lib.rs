//! The one client library under the `delta-bridge` CLI and the desktop app, with no UI dependency: sign
//! in with Firebase and keep the refresh token in the OS keyring, convert CSV files locally, upload them
//! through the backend's presigned URLs (resumably), share, and manage datasets.
//!
//! The ID token lives only in memory and is refreshed before it expires. Nothing secret is written to
//! disk, logs or `Debug` output, nor sent over plain `http://` to another machine unless the settings say
//! so ([`transport`]). What it writes (journals, staged copies, the account record) is for the user alone
//! ([`private`]).
#![warn(missing_docs)]

pub mod account;
mod backend;
mod datasets;
mod error;
pub mod jobs;
mod journal;
mod keychain;
pub mod private;
mod recipients;
mod secret;
pub mod settings;
#[cfg(test)]
mod testing;
pub mod transport;
mod upload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use account::{AuthError, Firebase, FirebaseSettings, Tokens};
pub use delta_bridge_api::{DatasetId, DatasetRef, Mode, RecipientName};
pub use error::{Error, Kind, Result};
pub use jobs::{Job, Jobs};
pub use journal::Interrupted;
pub use keychain::{KeyringError, SERVICE as KEYRING_SERVICE};
pub use recipients::ActivityFilter;
pub use secret::Secret;
pub use transport::Refusal;
pub use upload::{FILE_BYTES, Progress, ProgressFn, Stage, UploadOptions, UploadRequest, Uploaded};

use backend::Backend;
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
    /// Send passwords and tokens over plain `http://` to hosts other than this machine too (the CLI's
    /// `--insecure-http`). Off: such settings fail before anything is sent.
    pub insecure_http: bool,
}

impl Settings {
    /// Whether the backend and Firebase URLs may receive passwords and tokens: `https://`, or `http://` to
    /// this machine, or anywhere with `insecure_http` ([`transport::check`]).
    pub fn check(&self) -> Result<()> {
        transport::check("backend", &self.backend_url, self.insecure_http)?;
        self.firebase.check(self.insecure_http)?;
        Ok(())
    }
}

/// Who is signed in (not secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Account {
    /// Firebase user id.
    pub uid: String,
    /// Email.
    pub email: Option<String>,
    /// Whether the sign-in is kept in the OS keyring; false: there is no keyring service, and the
    /// sign-in lasts only as long as this process.
    #[serde(default = "remembered_by_default")]
    pub remembered: bool,
}

/// Account records written before `remembered` existed were all kept in the keyring.
fn remembered_by_default() -> bool {
    true
}

/// A signed-in (or not yet signed-in) user of one backend.
pub struct Client {
    settings: Settings,
    firebase: Firebase,
    backend: Backend,
    keychain: Keychain,
    uploads: reqwest::Client,
    current: tokio::sync::Mutex<Option<(Secret, Instant)>>,
    /// The refresh token of a sign-in the keyring could not keep (no keyring service): this process's
    /// only.
    session: std::sync::Mutex<Option<Secret>>,
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
            firebase: Firebase::new(settings.firebase.clone(), settings.insecure_http),
            backend: Backend::new(&settings.backend_url, settings.insecure_http),
            // One sign-in per backend.
            keychain: Keychain::new(&format!("refresh-token {}", settings.backend_url)),
            uploads,
            current: tokio::sync::Mutex::new(None),
            session: std::sync::Mutex::new(None),
            settings,
        }
    }

    /// The backend's typed calls; the methods of [`Client`] fetch the token they need.
    fn backend(&self) -> &Backend {
        &self.backend
    }

    fn backend_url(&self) -> &str {
        self.backend.url()
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
    /// keyring. Without a keyring service (no Secret Service, no D-Bus session) the sign-in still works,
    /// for this process only: the answer's `remembered` is false. A locked keyring is an error (the
    /// user can unlock it).
    pub async fn login(&self, email: &str, password: &str, sign_up: bool) -> Result<Account> {
        // The ID token is about to go to the backend: both must be safe before the password goes out.
        self.settings.check()?;
        let tokens = if sign_up {
            self.firebase.sign_up(email, password).await?
        } else {
            self.firebase.sign_in(email, password).await?
        };
        let keychain = self.keychain.clone();
        let refresh = tokens.refresh_token.clone();
        let remembered = match blocking(move || keychain.store(&refresh)).await? {
            Ok(()) => {
                *self.session.lock().expect("not poisoned") = None;
                true
            }
            Err(KeyringError::Unavailable(why)) => {
                tracing::warn!("no OS keyring ({why}): the sign-in lasts for this session only");
                *self.session.lock().expect("not poisoned") = Some(tokens.refresh_token.clone());
                false
            }
            Err(e) => return Err(e.into()),
        };
        let account = Account {
            uid: tokens.uid.clone(),
            email: tokens.email.clone(),
            remembered,
        };
        self.save_account(&account)?;
        *self.current.lock().await = Some((tokens.id_token, tokens.expires_at));
        Ok(account)
    }

    /// Signs out: deletes the keyring entry and forgets the account. True if someone was signed in.
    pub async fn logout(&self) -> Result<bool> {
        let had_session = self.session.lock().expect("not poisoned").take().is_some();
        let keychain = self.keychain.clone();
        let had = match blocking(move || keychain.delete()).await? {
            Ok(had) => had || had_session,
            // Nothing can be in a keyring that is not there.
            Err(KeyringError::Unavailable(_)) => had_session,
            Err(e) => return Err(e.into()),
        };
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
        private::create_dir_all(self.state_dir())
            .and_then(|()| {
                private::write(
                    &path,
                    &serde_json::to_vec_pretty(account).expect("serializes"),
                )
            })
            .map_err(|e| Error::Local(format!("{}: {e}", path.display())))
    }

    /// A valid ID token: the one in memory, or a fresh one from the refresh token in the keyring.
    pub async fn id_token(&self) -> Result<Secret> {
        self.settings.check()?;
        let mut current = self.current.lock().await;
        if let Some((token, expires_at)) = current.as_ref()
            && *expires_at > Instant::now() + REFRESH_MARGIN
        {
            return Ok(token.clone());
        }
        let session = self.session.lock().expect("not poisoned").clone();
        let refresh = match session.clone() {
            Some(refresh) => refresh,
            None => {
                let keychain = self.keychain.clone();
                match blocking(move || keychain.load()).await? {
                    Ok(found) => found.ok_or(AuthError::NotSignedIn)?,
                    // A session-only sign-in of an earlier process is over; one the keyring kept
                    // is there once the keyring is back.
                    Err(KeyringError::Unavailable(_))
                        if !self.account().await.is_ok_and(|a| a.remembered) =>
                    {
                        return Err(AuthError::NotSignedIn.into());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let tokens = self.firebase.refresh(&refresh).await?;
        if tokens.refresh_token != refresh {
            if session.is_some() {
                *self.session.lock().expect("not poisoned") = Some(tokens.refresh_token.clone());
            } else {
                let keychain = self.keychain.clone();
                let rotated = tokens.refresh_token.clone();
                blocking(move || keychain.store(&rotated)).await??;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback HTTP server that records every request it receives and answers each with Firebase's
    /// wrong-password error.
    fn recorder() -> crate::testing::FakeServer {
        crate::testing::fake_server(|_| {
            (
                400,
                r#"{"error":{"message":"INVALID_PASSWORD"}}"#.to_string(),
            )
        })
    }

    fn settings(backend: &str, emulator: &str, state: &Path, insecure_http: bool) -> Settings {
        Settings {
            backend_url: backend.into(),
            firebase: FirebaseSettings::emulator(emulator, "emulator"),
            state_dir: state.to_path_buf(),
            insecure_http,
        }
    }

    /// `0.0.0.0` is not loopback, yet on Linux a connection to it reaches this machine's listeners: the
    /// recorder sees what would have gone over the network.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn no_password_or_token_goes_over_plain_http_to_another_host_unless_allowed() {
        let state = tempfile::tempdir().unwrap();
        let server = recorder();
        let port = server.url.rsplit(':').next().unwrap().to_string();
        let remote = format!("0.0.0.0:{port}");
        let local = format!("127.0.0.1:{port}");
        let cases = [
            // The emulator elsewhere, the backend here; then the backend elsewhere, the emulator here.
            (format!("http://{local}"), remote.clone()),
            (format!("http://{remote}"), local.clone()),
        ];
        for (backend, emulator) in &cases {
            let client = Client::new(settings(backend, emulator, state.path(), false));
            let e = client
                .login("ana@example.com", "the-password", false)
                .await
                .unwrap_err();
            let message = e.to_string();
            assert_eq!(e.kind(), Kind::Settings, "{message}");
            assert!(
                message.contains("0.0.0.0") && message.contains("--insecure-http"),
                "{message}"
            );
            // The refresh token is never read from the keyring, nor sent.
            let e = client.id_token().await.unwrap_err();
            assert_eq!(e.kind(), Kind::Settings, "{e}");
        }
        // The backend on its own refuses too.
        let e = Backend::new(&cases[1].0, false)
            .datasets(&Secret::new("an-id-token"), None)
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.kind(), Kind::Settings, "{e}");
        let requests = server.texts();
        assert!(
            requests
                .iter()
                .all(|r| !r.contains("the-password") && !r.contains("an-id-token")),
            "{requests:?}"
        );
        assert!(
            requests.iter().all(|r| !r.contains("0.0.0.0")),
            "nothing was sent to the other host: {requests:?}"
        );

        // Told explicitly, the client sends them (here to the recorder, which refuses the password).
        let (backend, emulator) = &cases[0];
        let client = Client::new(settings(backend, emulator, state.path(), true));
        let e = client
            .login("ana@example.com", "the-password", false)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Auth(AuthError::WrongPassword)), "{e}");
        let requests = server.texts();
        assert!(
            requests.iter().any(|r| r.contains("the-password")),
            "{requests:?}"
        );
    }

    #[test]
    fn settings_are_checked_as_a_whole() {
        let dir = Path::new("/nonexistent");
        assert!(
            settings("http://127.0.0.1:8081", "127.0.0.1:9099", dir, false)
                .check()
                .is_ok()
        );
        assert!(
            settings("https://b.example.com", "localhost:9099", dir, false)
                .check()
                .is_ok()
        );
        let e = settings("https://b.example.com", "10.1.2.3:9099", dir, false)
            .check()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("10.1.2.3") && e.contains("Firebase Auth emulator"),
            "{e}"
        );
        let e = settings("http://b.example.com", "127.0.0.1:9099", dir, false)
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("b.example.com") && e.contains("backend"), "{e}");
        assert!(
            settings("http://b.example.com", "10.1.2.3:9099", dir, true)
                .check()
                .is_ok()
        );
        let google = Settings {
            firebase: FirebaseSettings::google("key"),
            ..settings("https://b.example.com", "", dir, false)
        };
        assert!(google.check().is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn the_account_record_and_journals_are_for_the_user_alone() {
        use crate::private::tests::{mode, with_permissive_umask};
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join("state");
        with_permissive_umask(|| {
            let client = Client::new(settings("http://127.0.0.1:1", "127.0.0.1:1", &state, false));
            client
                .save_account(&Account {
                    uid: "u".into(),
                    email: None,
                    remembered: true,
                })
                .unwrap();
            let journal = state.join("uploads").join("k.json");
            journal::Journal::default().save(&journal).unwrap();
            assert_eq!(mode(&state), 0o700);
            assert_eq!(mode(&state.join("account.json")), 0o600);
            assert_eq!(mode(&state.join("uploads")), 0o700);
            assert_eq!(mode(&journal), 0o600);
        });
    }

    /// Firebase (the emulator's paths) and a backend, on one loopback server.
    fn firebase_and_backend() -> crate::testing::FakeServer {
        crate::testing::fake_server(|r| {
            if r.path.contains("accounts:signInWithPassword") {
                (
                    200,
                    r#"{"localId":"u1","email":"ana@example.com","idToken":"id-1","refreshToken":"r-1","expiresIn":"3600"}"#.into(),
                )
            } else if r.path.contains("/v1/token") {
                (
                    200,
                    r#"{"user_id":"u1","id_token":"id-2","refresh_token":"r-2","expires_in":"3600"}"#.into(),
                )
            } else if r.path.starts_with("/datasets?") {
                (200, r#"{"datasets":[]}"#.into())
            } else {
                (404, "{}".into())
            }
        })
    }

    async fn signs_in_for_the_session_only(make: impl Fn(Settings) -> Client) {
        let server = firebase_and_backend();
        let host = server.url.trim_start_matches("http://").to_string();
        let state = tempfile::tempdir().unwrap();
        let settings = Settings {
            backend_url: server.url.clone(),
            firebase: FirebaseSettings::emulator(&host, "k"),
            state_dir: state.path().to_path_buf(),
            insecure_http: false,
        };
        let client = make(settings.clone());
        let account = client
            .login("ana@example.com", "the-password", false)
            .await
            .unwrap();
        assert_eq!(account.uid, "u1");
        assert!(!account.remembered);
        assert_eq!(
            serde_json::to_value(&account).unwrap()["remembered"],
            serde_json::json!(false)
        );
        assert!(!client.whoami().await.unwrap().remembered);
        assert!(client.datasets().await.unwrap().is_empty());
        // When the ID token runs out, the refresh token kept in memory makes a new one (and its
        // rotation is kept in memory too).
        *client.current.lock().await = None;
        client.id_token().await.unwrap();
        *client.current.lock().await = None;
        client.id_token().await.unwrap();
        let refreshes: Vec<String> = server
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.contains("/v1/token"))
            .map(|r| r.body.clone())
            .collect();
        assert_eq!(refreshes.len(), 2, "{refreshes:?}");
        assert!(refreshes[0].contains("refresh_token=r-1"), "{refreshes:?}");
        assert!(refreshes[1].contains("refresh_token=r-2"), "{refreshes:?}");

        // Another process (another client) is not signed in, and says so rather than a keyring error.
        let later = make(settings);
        let e = later.whoami().await.unwrap_err();
        assert!(matches!(e, Error::Auth(AuthError::NotSignedIn)), "{e}");

        assert!(client.logout().await.unwrap());
        let e = client.whoami().await.unwrap_err();
        assert!(matches!(e, Error::Auth(AuthError::NotSignedIn)), "{e}");
        assert!(!client.logout().await.unwrap());
    }

    #[tokio::test]
    async fn without_a_keyring_service_signing_in_works_for_the_session_only() {
        signs_in_for_the_session_only(Client::without_keyring).await;
    }

    /// The real keyring in a session without D-Bus (as CI runs unit tests): the same.
    #[tokio::test]
    async fn without_a_dbus_session_the_real_keyring_falls_back_to_the_session() {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
            eprintln!("skipped: this session has a D-Bus session bus");
            return;
        }
        signs_in_for_the_session_only(Client::new).await;
    }
}
