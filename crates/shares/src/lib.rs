//! The `share.yaml` model: which tables are shared, in which shares and schemas, and who may read them.
//!
//! The file format is the Delta Sharing reference server's (`version`, `shares[].schemas[].tables[]`,
//! `authorization.bearerToken`, `endpoint`, `preSignedUrlTimeoutSeconds`, ...), with the same defaults and
//! `cdfEnabled` accepted as an alias of `historyShared`. It adds one thing users of the reference server
//! asked for: per-recipient tokens, stored only as hashes, scoped to shares, with an optional expiry
//! (`authorization.tokens[]`); and two keys of its own: `generation` (the writer's share generation,
//! [`ShareConfig::generation`]) and `staleConfigGraceSeconds` (how long a server keeps serving a config
//! after refusing a newer file).
//!
//! Parsing never fails open. Unknown keys, duplicate names, unsupported table locations or malformed
//! tokens make the whole file invalid; a server keeps serving its last good config for at most
//! `staleConfigGraceSeconds`, then refuses every request until a valid file arrives.
//!
//! ```
//! let yaml = "version: 1\nshares:\n- name: s\n  schemas:\n  - name: d\n    tables:\n    - name: t\n      location: file:///data/t\n";
//! let config = delta_bridge_shares::ShareConfig::from_yaml(yaml).unwrap();
//! let anyone = config.authenticate(None, chrono::Utc::now()).unwrap();
//! assert_eq!(config.table(&anyone, "s", "d", "T").unwrap().name, "t");
//! ```
#![warn(missing_docs)]

mod auth;
mod config;
mod file;
mod location;
mod pages;

pub use auth::{AuthError, Recipient, hash_token};
pub use config::{
    ConfigError, RawAuthorization, RawConfig, RawSchema, RawShare, RawTable, RawToken, Schema,
    Settings, Share, ShareConfig, Table,
};
pub use file::{to_yaml, write_atomically};
pub use location::ConfigLocation;
pub use pages::{Page, PageError, PageRequest};

/// Why a share, schema or table could not be returned to a recipient.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    /// The share does not exist, or the recipient may not see it (the two are indistinguishable on purpose).
    #[error("share '{0}' does not exist or is not shared with you")]
    Share(String),
    /// The schema does not exist in the share.
    #[error("schema '{share}.{schema}' does not exist")]
    Schema {
        /// Share name as requested.
        share: String,
        /// Schema name as requested.
        schema: String,
    },
    /// The table does not exist in the schema.
    #[error("table '{share}.{schema}.{table}' does not exist")]
    Table {
        /// Share name as requested.
        share: String,
        /// Schema name as requested.
        schema: String,
        /// Table name as requested.
        table: String,
    },
    /// A list request carried a bad page token or page size.
    #[error(transparent)]
    Page(#[from] PageError),
}
