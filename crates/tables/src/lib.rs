//! Reading Delta tables for Delta Sharing.
//!
//! [`Tables`] answers the table operations of the protocol (version, metadata, query, changes) for
//! tables on local disk or S3, from a cached replay of each table's `_delta_log` ([`snapshot`]).
//! Files are handed out as URLs that expire: presigned S3 URLs, or URLs signed by [`LocalSigner`] for
//! files the sharing server serves itself. `jsonPredicateHints` and `limitHint` skip files ([`predicate`]);
//! a file is only skipped when it cannot hold a matching row.
//!
//! This crate knows nothing of HTTP: the server maps [`Error`] to status codes and writes the
//! [`TableResponse`] it gets back.
#![warn(missing_docs)]

mod error;
mod location;
pub mod log;
pub mod predicate;
mod s3;
mod sharing;
mod signing;
pub mod snapshot;
mod store;
pub mod wire;

pub use error::{Error, Result};
pub use location::{Location, is_inside, relative_file_path};
pub use s3::{Failure, S3Failure, S3Settings, S3Timeouts, classify, s3_client};
pub use sharing::{ServeOptions, Tables};
pub use signing::{
    EXPIRES_KEY, LocalSigner, RECIPIENT_KEY, SIGNATURE_KEY, SignatureError, SignedFile,
};
pub use store::{EntryIdentity, LogEntry, Store};
pub use wire::{Capabilities, ChangesRequest, Format, QueryRequest, TableResponse};
