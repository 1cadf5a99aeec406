//! What went wrong, sorted by what the user can do about it (the CLI turns the kind into an exit code).

use crate::account::AuthError;
use crate::keychain::KeyringError;
use crate::transport::Refusal;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Signing in failed or is needed.
    #[error("{0}")]
    Auth(#[from] AuthError),
    /// The OS keyring failed.
    #[error("{0}")]
    Keyring(#[from] KeyringError),
    /// An input file is wrong (the message names file, row and column).
    #[error("{0}")]
    Input(String),
    /// The backend refused the request (its code and message).
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The backend's error code.
        code: String,
        /// The backend's message.
        message: String,
    },
    /// The caller has no dataset of that name (a name is looked up among their datasets; an id is
    /// the backend's to refuse).
    #[error("you have no dataset named {0:?}")]
    NoSuchDataset(String),
    /// The backend or storage could not be reached, or kept failing after retries.
    #[error("{0}")]
    Network(String),
    /// The user cancelled.
    #[error("cancelled")]
    Cancelled,
    /// Local state (the journal, the staging directory) could not be written.
    #[error("{0}")]
    Local(String),
    /// The settings are unsafe or wrong (plain `http://` to another machine, a URL that is not one):
    /// nothing was sent.
    #[error("{0}")]
    Settings(#[from] Refusal),
}

/// What kind of failure, for exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sign-in, keyring, or the backend said 401.
    Auth,
    /// Input files, or the backend refused the request.
    Input,
    /// Network, timeouts, 5xx.
    Network,
    /// Cancelled.
    Cancelled,
    /// The settings must change (the CLI's usage error).
    Settings,
    /// Anything else.
    Other,
}

impl Error {
    /// The kind.
    pub fn kind(&self) -> Kind {
        match self {
            Error::Auth(AuthError::Network { .. }) => Kind::Network,
            Error::Auth(AuthError::Transport(_)) | Error::Settings(_) => Kind::Settings,
            Error::Auth(_) | Error::Keyring(_) => Kind::Auth,
            Error::Refused { status: 401, .. } => Kind::Auth,
            Error::Input(_) | Error::Refused { .. } | Error::NoSuchDataset(_) => Kind::Input,
            Error::Network(_) => Kind::Network,
            Error::Cancelled => Kind::Cancelled,
            Error::Local(_) => Kind::Other,
        }
    }
}
