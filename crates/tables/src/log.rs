//! The Delta log as this server needs it: actions of commits and checkpoints, parsed once.
//!
//! Every action keeps its original JSON (`raw`) because the delta response format sends log actions
//! back nearly verbatim, with only the file path replaced by a signed URL.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::{Map, Value};

use crate::predicate::Stats;

/// A data file action: `add`, `remove` or `cdc`.
#[derive(Debug)]
pub struct FileAction {
    /// `path` as written in the log (percent-encoded, usually relative).
    pub path: String,
    /// Partition values by (physical) column name; `None` is null.
    pub partition_values: BTreeMap<String, Option<String>>,
    /// Size in bytes (0 when the log does not say, as `remove` may not).
    pub size: i64,
    /// `dataChange`.
    pub data_change: bool,
    /// The `stats` JSON string, if any.
    pub stats: Option<String>,
    /// Whether the action carries a deletion vector.
    pub has_deletion_vector: bool,
    /// The action's JSON object as written.
    pub raw: Map<String, Value>,
    parsed_stats: OnceLock<Option<Stats>>,
    rendered: OnceLock<Rendered>,
}

/// The parts of a file's response lines that do not change between requests, rendered once.
#[derive(Debug)]
pub struct Rendered {
    /// Stable id of the file.
    pub id: String,
    /// Parquet format: `,"id":..,"partitionValues":..,"size":..[,"stats":..]` (follows the URL).
    pub parquet_fields: String,
    /// Delta format: the action's fields other than `path`, each preceded by a comma.
    pub delta_fields: String,
}

impl FileAction {
    fn from_json(raw: Map<String, Value>) -> Option<Self> {
        let path = raw.get("path")?.as_str()?.to_string();
        let partition_values = raw
            .get("partitionValues")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
                    .collect()
            })
            .unwrap_or_default();
        Some(FileAction {
            path,
            partition_values,
            size: raw.get("size").and_then(Value::as_i64).unwrap_or(0),
            data_change: raw
                .get("dataChange")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            stats: raw.get("stats").and_then(Value::as_str).map(str::to_string),
            has_deletion_vector: raw.get("deletionVector").is_some_and(|v| !v.is_null()),
            raw,
            parsed_stats: OnceLock::new(),
            rendered: OnceLock::new(),
        })
    }

    /// Parsed statistics, computed once.
    pub fn stats(&self) -> Option<&Stats> {
        self.parsed_stats
            .get_or_init(|| self.stats.as_deref().and_then(Stats::parse))
            .as_ref()
    }

    /// The constant parts of this file's response lines.
    pub fn rendered(&self) -> &Rendered {
        self.rendered.get_or_init(|| {
            use sha2::Digest;
            // Stable and file-name safe: the first 16 bytes of the path's SHA-256, in hex.
            let id = hex::encode(&sha2::Sha256::digest(self.path.as_bytes())[..16]);
            let mut parquet = serde_json::json!({"id": id, "partitionValues": self.partition_values, "size": self.size});
            if let Some(stats) = &self.stats {
                parquet["stats"] = Value::String(stats.clone());
            }
            let delta: Map<String, Value> = self
                .raw
                .iter()
                .filter(|(k, v)| *k != "path" && !v.is_null() && !k.ends_with("_parsed"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Rendered { id, parquet_fields: object_fields(&parquet), delta_fields: object_fields(&Value::Object(delta)) }
        })
    }

    /// Key that identifies the file in log replay: the decoded path plus the deletion vector, if any.
    pub(crate) fn replay_key(&self) -> String {
        let path = percent_encoding::percent_decode_str(&self.path)
            .decode_utf8_lossy()
            .into_owned();
        match self.raw.get("deletionVector").filter(|v| !v.is_null()) {
            Some(dv) => format!(
                "{path}\u{0}{}{}{}",
                dv["storageType"], dv["pathOrInlineDv"], dv["offset"]
            ),
            None => path,
        }
    }
}

/// `{"a":1,"b":2}` → `,"a":1,"b":2` (empty for an empty object).
fn object_fields(object: &Value) -> String {
    let text = object.to_string();
    let inner = &text[1..text.len() - 1];
    if inner.is_empty() {
        String::new()
    } else {
        format!(",{inner}")
    }
}

/// A `metaData` action.
#[derive(Debug)]
pub struct Metadata {
    /// Table id.
    pub id: String,
    /// The Spark-JSON schema.
    pub schema_string: String,
    /// Partition columns (logical names).
    pub partition_columns: Vec<String>,
    /// Table properties.
    pub configuration: HashMap<String, String>,
    /// The action's JSON object as written.
    pub raw: Map<String, Value>,
}

impl Metadata {
    fn from_json(raw: Map<String, Value>) -> Option<Self> {
        Some(Metadata {
            id: raw.get("id")?.as_str()?.to_string(),
            schema_string: raw.get("schemaString")?.as_str()?.to_string(),
            partition_columns: raw
                .get("partitionColumns")
                .and_then(Value::as_array)
                .map(|cols| {
                    cols.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            configuration: raw
                .get("configuration")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
            raw,
        })
    }

    /// Whether a table property is set to `true` (case-insensitively).
    pub fn flag(&self, key: &str) -> bool {
        self.configuration
            .get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// `delta.columnMapping.mode`, `none` when unset.
    pub fn column_mapping_mode(&self) -> &str {
        self.configuration
            .get("delta.columnMapping.mode")
            .map(String::as_str)
            .unwrap_or("none")
    }
}

/// A `protocol` action.
#[derive(Debug)]
pub struct Protocol {
    /// `minReaderVersion`.
    pub min_reader_version: i64,
    /// `readerFeatures` (reader version 3 only).
    pub reader_features: Vec<String>,
    /// The action's JSON object as written.
    pub raw: Map<String, Value>,
}

impl Protocol {
    fn from_json(raw: Map<String, Value>) -> Option<Self> {
        Some(Protocol {
            min_reader_version: raw.get("minReaderVersion")?.as_i64()?,
            reader_features: raw
                .get("readerFeatures")
                .and_then(Value::as_array)
                .map(|f| {
                    f.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            raw,
        })
    }

    /// Reader features a client must support, legacy versions included (reader 2 means column mapping).
    pub fn required_reader_features(&self) -> Vec<String> {
        match self.min_reader_version {
            ..=1 => Vec::new(),
            2 => vec!["columnMapping".into()],
            _ => self.reader_features.clone(),
        }
    }
}

/// One action of a commit or checkpoint.
#[derive(Debug, Clone)]
pub enum Action {
    /// `add`.
    Add(Arc<FileAction>),
    /// `remove`.
    Remove(Arc<FileAction>),
    /// `cdc`.
    Cdc(Arc<FileAction>),
    /// `metaData`.
    Metadata(Arc<Metadata>),
    /// `protocol`.
    Protocol(Arc<Protocol>),
}

/// Why a log file could not be parsed.
#[derive(Debug)]
pub struct ParseError(pub String);

fn action_from_json(key: &str, value: Value) -> Result<Option<Action>, ParseError> {
    let Value::Object(raw) = value else {
        return if value.is_null() {
            Ok(None)
        } else {
            Err(ParseError(format!("'{key}' is not an object")))
        };
    };
    let bad = || ParseError(format!("'{key}' action is missing required fields"));
    Ok(Some(match key {
        "add" => Action::Add(Arc::new(FileAction::from_json(raw).ok_or_else(bad)?)),
        "remove" => Action::Remove(Arc::new(FileAction::from_json(raw).ok_or_else(bad)?)),
        "cdc" => Action::Cdc(Arc::new(FileAction::from_json(raw).ok_or_else(bad)?)),
        "metaData" => Action::Metadata(Arc::new(Metadata::from_json(raw).ok_or_else(bad)?)),
        "protocol" => Action::Protocol(Arc::new(Protocol::from_json(raw).ok_or_else(bad)?)),
        "sidecar" => {
            return Err(ParseError(
                "V2 checkpoints with sidecar files are not supported".into(),
            ));
        }
        _ => return Ok(None),
    }))
}

/// Parses a commit file (`NNN.json`): one JSON object per line.
pub fn parse_commit(bytes: &[u8]) -> Result<Vec<Action>, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ParseError("not UTF-8".into()))?;
    let mut actions = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line).map_err(|e| ParseError(format!("line {}: {e}", n + 1)))?;
        let Value::Object(object) = value else {
            return Err(ParseError(format!("line {}: not a JSON object", n + 1)));
        };
        for (key, value) in object {
            if let Some(action) = action_from_json(&key, value)
                .map_err(|e| ParseError(format!("line {}: {}", n + 1, e.0)))?
            {
                actions.push(action);
            }
        }
    }
    Ok(actions)
}

/// Parses a parquet checkpoint (or one part of a multi-part checkpoint).
pub fn parse_checkpoint(bytes: Bytes) -> Result<Vec<Action>, ParseError> {
    let reader = SerializedFileReader::new(bytes).map_err(|e| ParseError(e.to_string()))?;
    let wanted = ["add", "remove", "metaData", "protocol", "sidecar"];
    let mut actions = Vec::new();
    for row in reader
        .get_row_iter(None)
        .map_err(|e| ParseError(e.to_string()))?
    {
        let row = row.map_err(|e| ParseError(e.to_string()))?;
        for (name, field) in row.get_column_iter() {
            if !wanted.contains(&name.as_str()) || matches!(field, parquet::record::Field::Null) {
                continue;
            }
            if let Some(action) = action_from_json(name, field.to_json_value())? {
                actions.push(action);
            }
        }
    }
    Ok(actions)
}

/// Kinds of files in `_delta_log/`.
#[derive(Debug, PartialEq, Eq)]
pub enum LogFileKind {
    /// `NNN.json`.
    Commit(i64),
    /// A parquet checkpoint file: version, part number (1-based) and number of parts.
    Checkpoint {
        /// Table version the checkpoint is of.
        version: i64,
        /// This file's part number, from 1.
        part: u32,
        /// How many parts the checkpoint has.
        parts: u32,
    },
    /// Anything else (`_last_checkpoint`, `.crc`, temporary files, JSON V2 checkpoints).
    Other,
}

/// Classifies a `_delta_log/` file name.
pub fn classify(name: &str) -> LogFileKind {
    let Some((digits, rest)) = name.split_once('.') else {
        return LogFileKind::Other;
    };
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return LogFileKind::Other;
    }
    let Ok(version) = digits.parse::<i64>() else {
        return LogFileKind::Other;
    };
    if rest == "json" {
        return LogFileKind::Commit(version);
    }
    let Some(checkpoint) = rest.strip_prefix("checkpoint.") else {
        return LogFileKind::Other;
    };
    if checkpoint == "parquet" {
        return LogFileKind::Checkpoint {
            version,
            part: 1,
            parts: 1,
        };
    }
    let pieces: Vec<&str> = checkpoint.split('.').collect();
    match pieces.as_slice() {
        [part, parts, "parquet"] if part.len() == 10 && parts.len() == 10 => {
            match (part.parse(), parts.parse()) {
                (Ok(part), Ok(parts)) => LogFileKind::Checkpoint {
                    version,
                    part,
                    parts,
                },
                _ => LogFileKind::Other,
            }
        }
        [_uuid, "parquet"] => LogFileKind::Checkpoint {
            version,
            part: 1,
            parts: 1,
        },
        _ => LogFileKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_log_files() {
        assert_eq!(
            classify("00000000000000000010.json"),
            LogFileKind::Commit(10)
        );
        assert_eq!(
            classify("00000000000000000010.checkpoint.parquet"),
            LogFileKind::Checkpoint {
                version: 10,
                part: 1,
                parts: 1
            }
        );
        assert_eq!(
            classify("00000000000000000010.checkpoint.0000000002.0000000003.parquet"),
            LogFileKind::Checkpoint {
                version: 10,
                part: 2,
                parts: 3
            }
        );
        assert_eq!(classify("_last_checkpoint"), LogFileKind::Other);
        assert_eq!(classify("00000000000000000010.crc"), LogFileKind::Other);
        assert_eq!(
            classify(".00000000000000000010.json.tmp"),
            LogFileKind::Other
        );
    }

    #[test]
    fn parses_commit_lines() {
        let commit = br#"{"commitInfo":{"timestamp":1}}
{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}
{"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{}","partitionColumns":["p"],"configuration":{"delta.enableChangeDataFeed":"true"}}}
{"add":{"path":"p=a/f%20.parquet","partitionValues":{"p":"a"},"size":10,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":3}"}}
{"remove":{"path":"old.parquet","deletionTimestamp":1,"dataChange":true}}
"#;
        let actions = parse_commit(commit).unwrap();
        assert_eq!(actions.len(), 4);
        let Action::Metadata(m) = &actions[1] else {
            panic!()
        };
        assert!(m.flag("delta.enableChangeDataFeed"));
        let Action::Add(add) = &actions[2] else {
            panic!()
        };
        assert_eq!(add.replay_key(), "p=a/f .parquet");
        assert_eq!(add.stats().unwrap().num_records, Some(3));
        assert!(parse_commit(b"{not json").unwrap_err().0.contains("line 1"));
    }
}
