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
    #[error("{}: row {row}: bytes that are not valid {encoding}; if the file uses another encoding (such as Windows-1252), choose it", file.display())]
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
    /// The file has no data rows to convert.
    #[error("{}: the file has no data rows", file.display())]
    NoData {
        /// The file.
        file: PathBuf,
    },
    /// A value does not fit its column's type (and widening was not allowed).
    #[error("{}: row {row}, column '{column}': '{value}' is not a {expected}", file.display())]
    ValueDoesNotFit {
        /// The file.
        file: PathBuf,
        /// Line the record starts on.
        row: u64,
        /// Column name.
        column: String,
        /// The column's type.
        expected: &'static str,
        /// The value.
        value: String,
    },
    /// The CSV parser refused a record.
    #[error("{}: row {row}: {message}", file.display())]
    Malformed {
        /// The file.
        file: PathBuf,
        /// Line the record starts on.
        row: u64,
        /// What the parser said.
        message: String,
    },
    /// The conversion was cancelled; nothing was left behind.
    #[error("{}: conversion cancelled", file.display())]
    Cancelled {
        /// The file.
        file: PathBuf,
    },
    /// `create` found a table already there.
    #[error("{}: a Delta table already exists here; append to it or overwrite it", table.display())]
    TableExists {
        /// The table directory.
        table: PathBuf,
    },
    /// `append` or `overwrite` found no table.
    #[error("{}: there is no Delta table here to append to or overwrite; create it first", table.display())]
    NoTable {
        /// The table directory.
        table: PathBuf,
    },
    /// The file's columns do not match the table's.
    #[error("{}: {message}", table.display())]
    SchemaMismatch {
        /// The table directory.
        table: PathBuf,
        /// Which columns differ.
        message: String,
    },
    /// The Delta commit failed.
    #[error("{}: the Delta commit failed: {message}", table.display())]
    Delta {
        /// The table directory.
        table: PathBuf,
        /// What deltalake said.
        message: String,
    },
    /// A JSON record has a key the first records did not have (and widening was not allowed).
    #[error("{}: row {row}: the key '{key}' is not among the columns the first records made (without --strict it becomes a new column)", file.display())]
    NewKey {
        /// The file.
        file: PathBuf,
        /// The line (NDJSON) or record (a JSON array, 1-based) it is on.
        row: u64,
        /// The key, its parents joined by dots.
        key: String,
    },
    /// The file is in a format this crate reads, but this one cannot be read (a damaged workbook,
    /// a Parquet column of a type the sharing path cannot carry, a zip of files with different columns).
    #[error("{}: {message}", file.display())]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// What is wrong, and what to do.
        message: String,
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

impl Error {
    /// The input file (or, for table errors, the table directory) it is about.
    pub fn file(&self) -> &std::path::Path {
        match self {
            Error::Io { file, .. }
            | Error::Empty { file }
            | Error::Binary { file, .. }
            | Error::InvalidBytes { file, .. }
            | Error::RaggedRow { file, .. }
            | Error::UnterminatedQuote { file, .. }
            | Error::NoData { file }
            | Error::ValueDoesNotFit { file, .. }
            | Error::Malformed { file, .. }
            | Error::Cancelled { file }
            | Error::NewKey { file, .. }
            | Error::Unreadable { file, .. }
            | Error::BadOverride { file, .. } => file,
            Error::TableExists { table }
            | Error::NoTable { table }
            | Error::SchemaMismatch { table, .. }
            | Error::Delta { table, .. } => table,
        }
    }

    /// The row it is about (1-based, the header included), if one.
    pub fn row(&self) -> Option<u64> {
        match self {
            Error::InvalidBytes { row, .. }
            | Error::RaggedRow { row, .. }
            | Error::UnterminatedQuote { row, .. }
            | Error::ValueDoesNotFit { row, .. }
            | Error::NewKey { row, .. }
            | Error::Malformed { row, .. } => Some(*row),
            _ => None,
        }
    }

    /// The column it is about (its name), if one.
    pub fn column(&self) -> Option<&str> {
        match self {
            Error::ValueDoesNotFit { column, .. } => Some(column),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_tells_its_file_row_and_column() {
        let e = Error::ValueDoesNotFit {
            file: "a.csv".into(),
            row: 7,
            column: "amount".into(),
            expected: "int64",
            value: "x".into(),
        };
        assert_eq!(
            (e.file(), e.row(), e.column()),
            (std::path::Path::new("a.csv"), Some(7), Some("amount"))
        );
        let e = Error::NoData {
            file: "b.csv".into(),
        };
        assert_eq!((e.row(), e.column()), (None, None));
    }
}
