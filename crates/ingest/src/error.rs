//! Errors that say what is wrong and where: file, row (1-based, as a spreadsheet counts them, the header
//! being row 1 when there is one) and column.

use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What is wrong with an input file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file holds no bytes at all (or only a byte-order mark or blank lines).
    #[error("{}: the file is empty", file.display())]
    Empty {
        /// The file.
        file: PathBuf,
    },
    /// The file is not text (it holds NUL bytes outside UTF-16).
    #[error("{}: this is not a CSV file (it contains binary data near byte {offset})", file.display())]
    Binary {
        /// The file.
        file: PathBuf,
        /// Where the first binary byte was found.
        offset: usize,
    },
    /// Bytes that are not valid in the file's encoding.
    #[error("{}: row {row}: bytes that are not valid {encoding}", file.display())]
    InvalidBytes {
        /// The file.
        file: PathBuf,
        /// Row of the first invalid byte.
        row: u64,
        /// The encoding the file was read as.
        encoding: &'static str,
    },
    /// A row has a different number of fields than the header (or first row).
    #[error("{}: row {row} has {found} fields, but the {what} has {expected}", file.display())]
    RaggedRow {
        /// The file.
        file: PathBuf,
        /// The row, 1-based.
        row: u64,
        /// Fields in that row.
        found: usize,
        /// Fields expected.
        expected: usize,
        /// `header` or `first row`.
        what: &'static str,
    },
    /// A quoted field is never closed.
    #[error("{}: row {row}: a quoted field starting here is never closed", file.display())]
    UnterminatedQuote {
        /// The file.
        file: PathBuf,
        /// Row where the quoted field starts.
        row: u64,
    },
    /// An override names a column that does not exist or a type that does not fit.
    #[error("{}: {message}", file.display())]
    BadOverride {
        /// The file.
        file: PathBuf,
        /// What is wrong with the override.
        message: String,
    },
}
