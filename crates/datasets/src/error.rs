//! What went wrong, in words a caller can act on. Messages name the dataset, upload or file concerned and
//! never carry internals (SQL, paths on the server, credentials); those go to the log.

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not there, or not the caller's (the two look the same from outside).
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the current state (a name in use, an upload already processed).
    #[error("{0}")]
    Conflict(String),
    /// More bytes than were presigned.
    #[error("{0}")]
    TooLarge(String),
    /// The caller's quota of datasets or stored bytes would be exceeded.
    #[error("{0}")]
    Quota(String),
    /// The caller already has a request of this kind under way.
    #[error("{0}")]
    Busy(String),
    /// Was there, and is no more (a used or expired activation link).
    #[error("{0}")]
    Gone(String),
    /// A signed URL that is forged, tampered with or expired.
    #[error("{0}")]
    Forbidden(String),
    /// The metadata store failed.
    #[error("the metadata store failed")]
    Database(#[source] sqlx::Error),
    /// Object storage failed (the detail is logged, not shown).
    #[error("storage is unavailable, try again")]
    Storage(String),
    /// Object storage refuses the server's requests as it is configured (credentials, permissions, the
    /// bucket): a retry does not help; the log says what the operator should fix.
    #[error("storage refuses this server's requests; its operator must fix the configuration")]
    StorageRefused(String),
    /// The secret file does not hold a secret the store knows: replicas must share one secret file.
    #[error("{0}")]
    SecretMismatch(String),
    /// A share was made with a secret this server's secret file does not hold (a rotation not rolled out
    /// to every replica); the fingerprint is logged.
    #[error(
        "this server lacks the secret this share was made with; its operator must give it the current secret file"
    )]
    SecretUnknown(String),
    /// `share.yaml` could not be written.
    #[error("the sharing configuration could not be written")]
    ShareFile(#[source] std::io::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Database(e)
    }
}

impl Error {
    /// The detail behind a server-side failure, for the log (never for the response).
    pub fn detail(&self) -> Option<String> {
        match self {
            Error::Database(e) => Some(e.to_string()),
            Error::Storage(detail) | Error::StorageRefused(detail) => Some(detail.clone()),
            Error::ShareFile(e) => Some(e.to_string()),
            Error::SecretUnknown(fingerprint) => Some(format!(
                "no secret with fingerprint {fingerprint} in the secret file; roll out the rotated secret file and restart"
            )),
            _ => None,
        }
    }
}
