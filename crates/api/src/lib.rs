//! The JSON bodies of the backend's routes, shared by the backend and its clients (the client library
//! builds and reads them), and the vocabulary every layer shares: [`Mode`], [`DatasetId`] and
//! [`DatasetRef`], each parsed from text in one place. Serde only, so a client depends on nothing else
//! of the backend.
#![warn(missing_docs)]

mod duration;
mod recipients;
mod vocabulary;

use serde::{Deserialize, Serialize};

pub use duration::parse_duration;
pub use recipients::*;
pub use vocabulary::{DatasetId, DatasetRef, Mode, ParseError, RecipientName};

/// `POST /presign`: upload URLs for the data files of a new version.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PresignRequest {
    /// The dataset's name: an existing dataset of the caller's, or a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An existing dataset of the caller's (instead of `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<String>,
    /// An unprocessed upload: without `files`, its URLs are made again (to resume it, or to fetch the
    /// next page of its URLs); with `files`, those are added to it (a client that uploads each file as
    /// soon as its conversion closes it). Adding a file the upload already has, with the same size and
    /// SHA-256, answers its URLs again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// With `uploadId`: the page of URLs to answer, as a previous answer's `nextPage` said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// The Parquet files to upload.
    #[serde(default)]
    pub files: Vec<FileSpec>,
}

/// A file to upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileSpec {
    /// The client's name for it, unique in the upload.
    pub name: String,
    /// Exact size in bytes.
    pub size: i64,
    /// SHA-256 of its bytes, 64 hex digits.
    pub sha256: String,
}

/// Upload URLs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PresignResponse {
    /// Pass it to `POST /process` once every file is uploaded.
    pub upload_id: String,
    /// The dataset the upload will create or change.
    pub dataset_id: String,
    /// When the URLs stop working (RFC 3339); `POST /presign` with the `uploadId` makes new ones.
    pub expires_at: String,
    /// One entry per file, in request order (when files are added to an upload: its files from the
    /// first of those on). An answer holds at most 10,000 URLs: a file whose parts continue on the next
    /// page appears on both, each with its own parts.
    pub files: Vec<FileUpload>,
    /// When more URLs follow: `POST /presign {uploadId, page}` with this value answers them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page: Option<String>,
}

/// How to upload one file: one PUT (`url`), or one PUT per part (`parts`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FileUpload {
    /// The client's name for it.
    pub name: String,
    /// The one PUT, when the file is not split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Headers to send with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
    /// Bytes per part (the last part has the rest), when the file is split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_size: Option<i64>,
    /// One PUT per part, numbered from 1; keep each response's `ETag` for `POST /process`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartUpload>,
    /// When resuming: storage already holds the whole file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uploaded: bool,
    /// When resuming: parts storage already holds (their ETags when storage tells them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub received: Vec<ReceivedPart>,
}

/// A part storage already holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceivedPart {
    /// Part number.
    pub number: i64,
    /// Its ETag (empty when storage does not say).
    pub etag: String,
}

/// A header to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Header {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// One part's PUT.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PartUpload {
    /// Part number, from 1.
    pub number: i64,
    /// URL.
    pub url: String,
    /// Headers to send with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
}

/// `POST /process`: commit an upload as a new version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProcessRequest {
    /// The upload.
    pub upload_id: String,
    /// `create`, `append` or `overwrite`.
    pub mode: Mode,
    /// The ETags of each split file's parts, in part order, by file name.
    #[serde(default)]
    pub parts: std::collections::BTreeMap<String, Vec<String>>,
    /// The files that make the version, by name, in the order of their rows; the upload's other files
    /// are discarded (a conversion that started over made them obsolete). Default: every file, in the
    /// order they were presigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
}

/// A column of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ColumnInfo {
    /// Name.
    pub name: String,
    /// Delta type: `long`, `double`, `boolean`, `date`, `timestamp` or `string`.
    #[serde(rename = "type")]
    pub data_type: String,
}

/// A dataset, as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DatasetInfo {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Current version.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub version: i64,
    /// Rows in it.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub rows: i64,
    /// Bytes of data in it.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: i64,
    /// Columns.
    pub schema: Vec<ColumnInfo>,
    /// Whether it is shared.
    pub shared: bool,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When its last version was committed (RFC 3339).
    pub updated_at: String,
}

/// A page of datasets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DatasetPage {
    /// Newest first.
    pub datasets: Vec<DatasetInfo>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A version of a dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VersionInfo {
    /// Delta version.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub version: i64,
    /// How the version was made: `create`, `append` or `overwrite`.
    pub operation: Mode,
    /// Rows after it.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub rows: i64,
    /// Bytes after it.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: i64,
    /// Files it added.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub files_added: i64,
    /// Rows it added.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub rows_added: i64,
    /// When (RFC 3339).
    pub committed_at: String,
}

/// A dataset with its history.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DatasetDetail {
    /// The dataset.
    #[serde(flatten)]
    pub dataset: DatasetInfo,
    /// Versions, oldest first.
    pub versions: Vec<VersionInfo>,
}

/// `POST /share` and `POST /unshare`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShareRequest {
    /// The dataset (`tableId` is accepted too, as the prototype named it).
    #[serde(alias = "tableId")]
    pub dataset_id: String,
    /// `POST /share` only: also share the versions before the current one (time travel and the change
    /// feed reach back to the first version still whole). Without it, recipients see the current
    /// version and later ones only.
    #[serde(default)]
    pub with_history: bool,
    /// `POST /unshare` only: the recipients whose grants end (`link` for the snippet's); none: every
    /// grant of the dataset, the link's included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<RecipientName>,
}

/// The answer of `POST /share` and `GET /snippet`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ShareResponse {
    /// Whether it is shared (always true here).
    pub shared: bool,
    /// Who it is shared with: `link` (whoever holds the snippet), or a named recipient.
    #[serde(default = "RecipientName::link")]
    pub recipient: RecipientName,
    /// The first version recipients can reach.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub start_version: i64,
    /// Whether the versions before the one current when it was shared are shared too.
    #[serde(default)]
    pub history: bool,
    /// The snippet.
    pub snippet: Snippet,
}

/// The answer of `POST /unshare`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UnshareResponse {
    /// The dataset.
    pub dataset_id: String,
    /// Whether it is still shared with anyone (false after unsharing from everyone).
    pub shared: bool,
    /// Whether this call stopped a share (false if it was not shared).
    pub was_shared: bool,
    /// Whether the sharing configuration that refuses the token is written (`inForce`), or not yet
    /// (`pending`: it lands by itself once the fault clears; asking again says where it stands).
    #[serde(default)]
    pub revocation: Revocation,
}

/// Where a revocation stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Revocation {
    /// The sharing configuration without the share is written.
    #[default]
    InForce,
    /// Not yet written; the backend keeps trying.
    Pending,
}

/// The answer of `DELETE /datasets/{id}` when something is left to finish in the background (202).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Removal {
    /// Whether the sharing configuration no longer serves the dataset.
    pub revocation: Revocation,
    /// Whether its storage is deleted (otherwise it is deleted once the revocation is in force).
    pub storage_deleted: bool,
}

/// What the owner copies to a colleague. It holds the recipient token, so its `Debug` output hides it.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Snippet {
    /// The dataset.
    pub dataset_id: String,
    /// `share.schema.table`, the part after `#` in a table URL.
    pub table: String,
    /// The profile file's JSON.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub profile: serde_json::Value,
    /// The install line.
    pub install: String,
    /// Python that loads the table into pandas.
    pub python: String,
    /// Python for Spark (with the delta-sharing-spark package).
    pub spark: String,
}

impl std::fmt::Debug for Snippet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snippet")
            .field("dataset_id", &self.dataset_id)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// The error body of every route: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable code: `UNAUTHENTICATED`, `NOT_FOUND`, `INVALID_REQUEST`, `CONFLICT`, `TOO_LARGE`, `FORBIDDEN`,
    /// `UNAVAILABLE`, `INTERNAL`, ...
    pub code: String,
    /// For people.
    pub message: String,
}
