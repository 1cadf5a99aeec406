//! Recipients, grants, activation links and the access log: the bodies of `/recipients`, `/grants`,
//! `/unshare`'s `recipients`, `/snippet?recipient=` and `/activity`.

use serde::{Deserialize, Serialize};

use crate::{RecipientName, Revocation, ShareResponse};

/// `POST /recipients`: a new recipient.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewRecipient {
    /// Unique among the owner's recipients.
    pub name: RecipientName,
    /// Where the owner reaches them (shown to the owner only; nothing is sent to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When the credential stops working (RFC 3339); none: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A recipient, as its owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RecipientInfo {
    /// The name.
    pub name: RecipientName,
    /// The email, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub email: Option<String>,
    /// When the credential stops working (RFC 3339); none: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub expires_at: Option<String>,
    /// Until when the credential a rotation replaced still works (RFC 3339), while it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub previous_until: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Its last read on record (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub last_read_at: Option<String>,
    /// The datasets granted to it.
    pub datasets: Vec<GrantInfo>,
}

/// One dataset granted to a recipient.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GrantInfo {
    /// The dataset.
    pub dataset_id: String,
    /// Its name.
    pub dataset_name: String,
    /// `share.schema.table` in the recipient's profile.
    pub table: String,
    /// The first version the recipient reaches.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub start_version: i64,
    /// Whether the versions before the one current when granted are shared too.
    pub history: bool,
    /// When it was granted (RFC 3339).
    pub granted_at: String,
}

/// `GET /recipients`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RecipientList {
    /// By name.
    pub recipients: Vec<RecipientInfo>,
}

/// `POST /recipients/{name}/rotate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the credential being replaced keeps working, in seconds (0: it stops at once).
    #[serde(default)]
    pub overlap_seconds: u64,
}

/// The answer of revoking or rotating: the recipient as it is now, and whether the sharing
/// configuration that refuses the old credential is written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RecipientChange {
    /// The recipient after the change (none once revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub recipient: Option<RecipientInfo>,
    /// Whether the change is in the sharing configuration (`pending`: it lands by itself).
    pub revocation: Revocation,
}

/// `POST /recipients/{name}/link`: a one-time activation link.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ActivationLink {
    /// The page to open in a browser (it holds a one-time code, never the credential).
    pub url: String,
    /// When it stops working if unused (RFC 3339).
    pub expires_at: String,
}

/// `POST /grants`: grant a dataset to recipients (creating those that do not exist yet).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantRequest {
    /// The dataset.
    pub dataset_id: String,
    /// Who gets it.
    pub recipients: Vec<RecipientName>,
    /// Also the versions before the current one.
    #[serde(default)]
    pub with_history: bool,
}

/// The answer of `POST /grants`: one share per recipient, each with its snippet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GrantResponse {
    /// In the order asked.
    pub grants: Vec<ShareResponse>,
}

/// One read on record, as the owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReadInfo {
    /// When the sharing server answered (RFC 3339).
    pub at: String,
    /// Who read (`link` for a dataset's snippet).
    pub recipient: RecipientName,
    /// The dataset, when the request named one of the owner's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub dataset_id: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub dataset_name: Option<String>,
    /// What was asked: `query`, `metadata`, `version`, `changes`, `file`, `listShares`, ...
    pub operation: String,
    /// The table version answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional, type = "number"))]
    pub version: Option<i64>,
    /// Data files in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional, type = "number"))]
    pub files: Option<i64>,
    /// Bytes the sharing server served itself (local files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional, type = "number"))]
    pub bytes: Option<i64>,
    /// The HTTP status answered.
    pub status: u16,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub user_agent: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub address: Option<String>,
}

/// `GET /activity`: the owner's reads, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Activity {
    /// At most the limit asked (default 200, at most 1,000).
    pub reads: Vec<ReadInfo>,
}
