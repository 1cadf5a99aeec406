//! Reading the CSV files people actually export: Excel's semicolons, Windows-1252, byte-order marks,
//! ZIP codes with leading zeros, dates in three orders.
//!
//! - [`sniff`] detects encoding, delimiter, quoting, header and line endings from the head of a file.
//! - [`preview`] reads only the head of a file (so a 5 GB file previews as fast as a 5 KB one) and returns
//!   the first rows and the inferred schema, with the column names the notebook user will see.
//! - [`infer`] decides each column's type: int64, float64, boolean, date, timestamp or string. Codes with
//!   leading zeros stay strings, and a date whose day and month cannot be told apart is never guessed.
//!
//! - [`convert`] streams a whole file into a local Delta table (create, append or overwrite), with bounded
//!   memory on every core, per-file statistics, progress and cancellation; nothing is left behind on failure.
//!
//! - [`read_footer`] describes a data file from its Parquet footer (columns, rows, Delta stats), so a
//!   server can check an uploaded file without reading its data.
//!
//! - Beyond CSV ([`Format`]): `.tsv`, gzip, a zip of CSVs, Excel and OpenDocument workbooks (a sheet at a
//!   time), JSON and NDJSON (flattened), Parquet; [`preview`] and [`convert`] take them all.
//!
//! Every detected choice can be overridden ([`Options`]). This crate knows nothing of HTTP or UI.
//!
//! ```
//! let csv = b"zip;amount;day\n01234;1,5;31/01/2024\n98765;2;01/02/2024\n";
//! let dialect = delta_bridge_ingest::sniff(csv, true).unwrap();
//! assert_eq!(dialect.delimiter, b';');
//! assert!(dialect.has_header);
//! ```
#![warn(missing_docs)]

mod cells;
mod commit;
mod convert;
mod error;
mod footer;
pub mod infer;
mod json;
pub mod names;
pub mod options;
mod parquet_input;
mod preview;
mod sniff;
mod source;
mod stats;
mod text;
mod tokenize;
mod workbook;

pub use commit::table_files;
pub use convert::{
    Codec, ConvertOptions, Converted, FileEvent, OnMismatch, Progress, Widened, convert,
    convert_watching,
};
/// What to do with the table at the destination: make a new one (failing if one exists), add the rows
/// to an existing one with the same columns, or replace its rows (and columns). The one write mode of
/// the workspace.
pub use delta_bridge_api::Mode;
pub use error::{Error, Result};
pub use footer::{DataFile, FOOTER_TRAILER, FooterError, read_footer};
pub use infer::{ColumnType, DateOrder};
pub use options::{OptionError, ReadText};
pub use preview::{Column, Options, Preview, preview_bytes};
pub use sniff::{Dialect, Encoding, LineEnding, decode, sniff};
pub use source::{EXTENSIONS, Format, Sheet, preview};

/// What the crate's randomised unit tests share.
#[cfg(test)]
mod testing {
    /// A reproducible stream of numbers below `n` (a 64-bit linear congruential generator).
    pub(crate) fn draws(mut seed: u64) -> impl FnMut(usize) -> usize {
        move |n| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        }
    }
}
