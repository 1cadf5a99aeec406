//! Errors of reading shared tables. Each variant says whether a retry could help, so an HTTP edge can
//! answer 4xx (the Python client retries 5xx ten times) or 5xx.

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while answering a table request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request parameter is invalid (bad version, timestamp, option combination, history not shared).
    #[error("{0}")]
    InvalidParameter(String),
    /// The table uses a feature the requested response format or client cannot express.
    #[error("{0}")]
    Unsupported(String),
    /// The table's location holds no Delta table.
    #[error("no Delta table was found at the shared location of table '{table}'")]
    TableNotFound {
        /// Table name.
        table: String,
    },
    /// A file of the table's `_delta_log` could not be understood.
    #[error("the Delta log of table '{table}' could not be read: {file}: {reason}")]
    CorruptLog {
        /// Table name.
        table: String,
        /// Log file name (relative to `_delta_log/`).
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// Storage failed: something missing, refused (the server's configuration), or transient.
    #[error("storage error: {message}")]
    Storage {
        /// What kind of failure.
        failure: crate::Failure,
        /// What the store said, without credentials.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(err: std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        let failure = match err.kind() {
            TimedOut | Interrupted | WouldBlock | ConnectionReset | ConnectionAborted => {
                crate::Failure::Transient
            }
            NotFound => crate::Failure::Missing,
            PermissionDenied => crate::Failure::Refused,
            _ => crate::Failure::Missing,
        };
        Error::Storage {
            failure,
            message: err.to_string(),
        }
    }
}
