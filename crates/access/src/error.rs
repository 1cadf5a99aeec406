//! What can go wrong with the access log; every message names the path, object or segment.

use std::path::PathBuf;

/// An access log failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory of the journal or of a directory destination.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`creating`, `writing`, ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Another process holds the journal directory.
    #[error(
        "the access journal {} is in use by another process (each sharing server needs its own)",
        path.display()
    )]
    InUse {
        /// The journal directory.
        path: PathBuf,
    },
    /// A file of the journal does not hold what this crate writes there.
    #[error("{} is not an access journal's file: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An S3 call on the destination.
    #[error("{action} s3://{bucket}/{key}: {message}")]
    S3 {
        /// What was being done (`putting`, `listing`, ...).
        action: &'static str,
        /// The bucket.
        bucket: String,
        /// The object's key (or the prefix listed).
        key: String,
        /// The SDK's error, with its causes.
        message: String,
    },
    /// A shipped segment holds a line that is not a record.
    #[error("{segment} line {line}: not an access record: {message}")]
    Parse {
        /// The segment (its path or `s3://` URL).
        segment: String,
        /// 1-based.
        line: usize,
        /// Why it could not be read.
        message: String,
    },
    /// The journal cannot be written now (the reason was logged once); the request must not be answered.
    #[error("the access journal cannot be written: {reason}")]
    Unavailable {
        /// What failed, naming the file.
        reason: String,
    },
    /// The journal was shut down.
    #[error("the access journal is shut down")]
    Closed,
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}
