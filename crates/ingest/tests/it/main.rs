//! Integration tests of the ingest library.
//! - `golden`: sniffing and inference on a checked-in corpus of small awkward files.
//! - `bad_input`: every kind of bad file gets an error naming file, row and column.
//! - `convert`: whole files into Delta tables (read back through the log), widening, cancellation.
//! - `formats`: TSV, gzip, zip, JSON, NDJSON and Parquet inputs.
//! - `order`: rows read back in log order are the CSV's rows in order, for every size and line ending.

mod bad_input;
mod convert;
mod formats;
mod golden;
mod order;
