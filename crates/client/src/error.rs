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
    /// An input file is wrong: the ingest library's error, with its file, row and column
    /// ([`Error::file`], [`Error::row`], [`Error::column`]).
    #[error(transparent)]
    Ingest(delta_bridge_ingest::Error),
    /// What was asked is wrong before any file is read (no files, read options that are not ones).
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
    /// The backend failed (5xx): its status, code and message.
    #[error("the backend failed: {message}")]
    Failed {
        /// HTTP status.
        status: u16,
        /// The backend's error code (`HTTP` when its answer had none).
        code: String,
        /// The backend's message.
        message: String,
    },
    /// The backend or storage could not be reached, or kept failing after retries.
    #[error("{0}")]
    Network(String),
    /// The user cancelled: what was sent is forgotten.
    #[error("cancelled")]
    Cancelled,
    /// The user paused an upload: the journal is kept, and the same upload again resumes it.
    #[error("paused; upload the same files again to resume")]
    Paused,
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
    /// Paused (resumable).
    Paused,
    /// The settings must change (the CLI's usage error).
    Settings,
    /// Anything else.
    Other,
}

impl From<delta_bridge_ingest::Error> for Error {
    fn from(e: delta_bridge_ingest::Error) -> Error {
        match e {
            delta_bridge_ingest::Error::Cancelled { .. } => Error::Cancelled,
            other => Error::Ingest(other),
        }
    }
}

impl Error {
    /// The input file an input error is about.
    pub fn file(&self) -> Option<&std::path::Path> {
        match self {
            Error::Ingest(e) => Some(e.file()),
            _ => None,
        }
    }

    /// The row (1-based, the header included) an input error is about.
    pub fn row(&self) -> Option<u64> {
        match self {
            Error::Ingest(e) => e.row(),
            _ => None,
        }
    }

    /// The column (its name) an input error is about.
    pub fn column(&self) -> Option<&str> {
        match self {
            Error::Ingest(e) => e.column(),
            _ => None,
        }
    }

    /// The backend's HTTP status, when it refused or failed.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Refused { status, .. } | Error::Failed { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The backend's error code (`NOT_FOUND`, `CONFLICT`, ...), when it refused or failed.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Refused { code, .. } | Error::Failed { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        match self {
            Error::Auth(AuthError::Network { .. }) => Kind::Network,
            Error::Auth(AuthError::Transport(_)) | Error::Settings(_) => Kind::Settings,
            Error::Auth(_) | Error::Keyring(_) => Kind::Auth,
            Error::Refused { status: 401, .. } => Kind::Auth,
            Error::Ingest(delta_bridge_ingest::Error::Cancelled { .. }) => Kind::Cancelled,
            Error::Input(_)
            | Error::Ingest(_)
            | Error::Refused { .. }
            | Error::NoSuchDataset(_) => Kind::Input,
            Error::Network(_) | Error::Failed { .. } => Kind::Network,
            Error::Cancelled => Kind::Cancelled,
            Error::Paused => Kind::Paused,
            Error::Local(_) => Kind::Other,
        }
    }
}
