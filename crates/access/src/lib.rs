//! The access log: every request the sharing server answers for a recipient, on record.
//!
//! The sharing server appends one [`Record`] per answered request to a local journal and makes it durable
//! before the answer leaves; closed segments are shipped to a [`Destination`] (a directory, or a prefix in
//! S3) as `<prefix>/<server>/<segment>.jsonl`, one JSON record per line; the backend reads shipped
//! segments, stores their records (each [`Record::id`] once) and removes them.
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

/// One request the sharing server answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Unique across servers and restarts: `<server>-<segment>-<line>`.
    pub id: String,
    /// When it was answered (RFC 3339, milliseconds, UTC).
    pub at: String,
    /// The token's name in `share.yaml` (who read).
    pub recipient: String,
    /// What was asked: `listShares`, `getShare`, `listSchemas`, `listTables`, `listAllTables`, `head`,
    /// `version`, `metadata`, `query`, `changes`, `file`.
    pub operation: String,
    /// The share, when the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    /// The schema, when the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The table, when the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The table's id in `share.yaml` (the backend's dataset id), when the request named a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_id: Option<String>,
    /// The table version answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Data files in the answer (query, changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<i64>,
    /// Bytes of file data served by the sharing server itself (local files; S3 serves its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
    /// The HTTP status answered.
    pub status: u16,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}
