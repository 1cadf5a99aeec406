//! The Delta log entries the backend writes. It is the only writer of a dataset's `_delta_log`: clients
//! upload immutable data files, and a commit adds them (and, for an overwrite, removes the old ones) in
//! one JSON file named after the version.

use delta_bridge_api::Mode;
use delta_bridge_ingest::ColumnType;
use serde_json::{Value, json};

use crate::store::FileRecord;

/// An added data file.
#[derive(Debug, Clone)]
pub struct Added {
    /// Path relative to the table root.
    pub path: String,
    /// Bytes.
    pub size: i64,
    /// Delta `stats` JSON.
    pub stats: String,
}

/// The key of a version's log entry under the table root.
pub fn entry_key(table_key: &str, version: i64) -> String {
    format!("{table_key}/_delta_log/{version:020}.json")
}

/// The Delta `schemaString` of columns.
pub fn schema_string(columns: &[(String, ColumnType)]) -> String {
    let fields: Vec<Value> = columns
        .iter()
        .map(|(name, t)| json!({"name": name, "type": t.delta_name(), "nullable": true, "metadata": {}}))
        .collect();
    json!({"type": "struct", "fields": fields}).to_string()
}

/// The newline-delimited JSON of a commit. Its `commitInfo` names the upload it commits, so a later
/// `process` can tell an entry left by a failed commit of its own upload (adopted) from another's.
#[allow(clippy::too_many_arguments)]
pub fn entry(
    upload_id: &str,
    operation: Mode,
    table_name: &str,
    columns: &[(String, ColumnType)],
    added: &[Added],
    removed: &[FileRecord],
    now_ms: i64,
) -> String {
    let mode = match operation {
        Mode::Create => "ErrorIfExists",
        Mode::Append => "Append",
        Mode::Overwrite => "Overwrite",
    };
    let mut lines = vec![json!({"commitInfo": {
        "timestamp": now_ms,
        "operation": if operation == Mode::Create { "CREATE TABLE" } else { "WRITE" },
        "operationParameters": {"mode": mode},
        "isBlindAppend": operation != Mode::Overwrite,
        "engineInfo": concat!("delta-bridge-backend/", env!("CARGO_PKG_VERSION")),
        "uploadId": upload_id,
    }})];
    if operation == Mode::Create {
        lines.push(json!({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}));
        lines.push(json!({"metaData": {
            "id": uuid_v4(),
            "name": table_name,
            "format": {"provider": "parquet", "options": {}},
            "schemaString": schema_string(columns),
            "partitionColumns": [],
            "configuration": {},
            "createdTime": now_ms,
        }}));
    }
    for file in removed {
        lines.push(json!({"remove": {
            "path": file.path,
            "deletionTimestamp": now_ms,
            "dataChange": true,
            "extendedFileMetadata": true,
            "partitionValues": {},
            "size": file.size,
        }}));
    }
    for file in added {
        lines.push(json!({"add": {
            "path": file.path,
            "partitionValues": {},
            "size": file.size,
            "modificationTime": now_ms,
            "dataChange": true,
            "stats": file.stats,
        }}));
    }
    let mut text = lines
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    text.push('\n');
    text
}

/// The upload a log entry commits (from its `commitInfo`), if it names one.
pub fn upload_of(entry: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(entry).ok()?;
    text.lines().find_map(|line| {
        let value: Value = serde_json::from_str(line).ok()?;
        value
            .get("commitInfo")?
            .get("uploadId")?
            .as_str()
            .map(str::to_string)
    })
}

/// The files a log entry adds and removes, in its order (`("add", path)`, `("remove", path)`).
pub fn files_of(entry: &[u8]) -> Vec<(&'static str, String)> {
    let Ok(text) = std::str::from_utf8(entry) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let value: Value = serde_json::from_str(line).ok()?;
            ["add", "remove"].into_iter().find_map(|action| {
                let path = value.get(action)?.get("path")?.as_str()?;
                Some((action, path.to_string()))
            })
        })
        .collect()
}

/// The commit time (`commitInfo.timestamp`, ms since the epoch) of a log entry, if it has one.
pub fn timestamp_of(entry: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(entry).ok()?;
    text.lines().find_map(|line| {
        let value: Value = serde_json::from_str(line).ok()?;
        value.get("commitInfo")?.get("timestamp")?.as_i64()
    })
}

fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system's random source works");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_entry_has_protocol_metadata_and_files() {
        let columns = vec![
            ("zip".to_string(), ColumnType::String),
            ("n".to_string(), ColumnType::Int64),
        ];
        let added = vec![Added {
            path: "a.parquet".into(),
            size: 10,
            stats: "{\"numRecords\":1}".into(),
        }];
        let text = entry("up1", Mode::Create, "t", &columns, &added, &[], 5);
        assert_eq!(upload_of(text.as_bytes()).as_deref(), Some("up1"));
        assert_eq!(timestamp_of(text.as_bytes()), Some(5));
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1]["protocol"]["minReaderVersion"], 1);
        let schema: Value =
            serde_json::from_str(lines[2]["metaData"]["schemaString"].as_str().unwrap()).unwrap();
        assert_eq!(schema["fields"][0]["type"], "string");
        assert_eq!(schema["fields"][1]["type"], "long");
        assert_eq!(lines[3]["add"]["path"], "a.parquet");
        assert_eq!(
            entry_key("datasets/x", 3),
            "datasets/x/_delta_log/00000000000000000003.json"
        );
    }

    #[test]
    fn an_overwrite_removes_the_old_files() {
        let removed = vec![FileRecord {
            path: "old.parquet".into(),
            size: 7,
            rows: 1,
        }];
        let text = entry("up2", Mode::Overwrite, "t", &[], &[], &removed, 5);
        assert!(text.contains("\"remove\""));
        assert!(!text.contains("metaData"));
    }
}
