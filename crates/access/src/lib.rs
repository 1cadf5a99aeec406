//! The access log: every request the sharing server answers for a recipient, on record.
//!
//! The sharing server appends one [`Record`] per answered request to a local journal and makes it durable
//! before the answer leaves; closed segments are shipped to a [`Destination`] (a directory, or a prefix in
//! S3) as `<prefix>/<server>/<segment>.jsonl`, one JSON record per line; the backend reads shipped
//! segments, stores their records (each [`Record::id`] once) and removes them.
//!
//! Writer side: [`Journal`] (group-committed appends, segments closed every ship interval and shipped,
//! leftovers of a killed process shipped at the next start). Reader side: [`list_shipped`],
//! [`read_shipped`], [`remove_shipped`]. Where segments go: [`Location`] (the `--access-log` text) and
//! [`Destination`].
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

mod destination;
mod error;
mod journal;

pub use destination::{
    Destination, Location, SegmentKey, list_shipped, read_shipped, remove_shipped,
};
pub use error::Error;
pub use journal::{Journal, Stats};

/// One request the sharing server answered, under its id: the [`Access`] with a [`Record::id`], one JSON
/// object per line (the id beside the access's fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Unique across servers and restarts: `<server>-<segment>-<line>`.
    pub id: String,
    /// What was answered.
    #[serde(flatten)]
    pub access: Access,
}

impl std::ops::Deref for Record {
    type Target = Access;

    fn deref(&self) -> &Access {
        &self.access
    }
}

/// One request the sharing server answered, before the journal gives it its [`Record::id`]: the same
/// fields, serialized the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    /// When it was answered (RFC 3339, milliseconds, UTC; [`timestamp`]).
    pub at: String,
    /// The token's name in `share.yaml` (who read).
    pub recipient: String,
    /// What was asked (see [`Record::operation`]).
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
    /// The table's id in `share.yaml`, when the request named a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_id: Option<String>,
    /// The table version answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Data files in the answer (query, changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<i64>,
    /// Bytes of file data served by the sharing server itself.
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

impl Access {
    /// The record of this access under `id`.
    pub fn into_record(self, id: String) -> Record {
        Record { id, access: self }
    }
}

/// `at` of a record: RFC 3339 with milliseconds, in UTC (`2025-01-31T12:00:00.123Z`).
pub fn timestamp(at: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_line_with_its_id_is_a_record() {
        let access = Access {
            at: timestamp(std::time::UNIX_EPOCH),
            recipient: "alice".into(),
            operation: "query".into(),
            share: Some("s".into()),
            schema: Some("d".into()),
            table: Some("t".into()),
            table_id: Some("id-1".into()),
            version: Some(3),
            files: Some(2),
            bytes: None,
            status: 200,
            user_agent: Some("delta-sharing-python/1.4.2".into()),
            address: Some("127.0.0.1:5000".into()),
        };
        assert_eq!(access.at, "1970-01-01T00:00:00.000Z");
        let line = journal::line(
            "abc-0000000000000001-1",
            &serde_json::to_vec(&access).unwrap(),
        );
        assert!(line.ends_with(b"\n"));
        let record: Record = serde_json::from_slice(&line).unwrap();
        assert_eq!(record, access.into_record("abc-0000000000000001-1".into()));
        let text = String::from_utf8(line).unwrap();
        assert!(
            text.contains(r#""tableId":"id-1""#) && text.contains(r#""userAgent""#),
            "{text}"
        );
        assert!(
            !text.contains("bytes"),
            "absent fields are left out: {text}"
        );
    }
}
