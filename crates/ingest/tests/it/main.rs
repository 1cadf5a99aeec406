//! Integration tests of the ingest library.
//! - `golden`: sniffing and inference on a checked-in corpus of small awkward files.
//! - `bad_input`: every kind of bad file gets an error naming file, row and column.

mod bad_input;
mod golden;
