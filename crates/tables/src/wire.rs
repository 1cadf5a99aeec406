//! Delta Sharing request and response types as they cross the wire (NDJSON lines, JSON bodies).
//!
//! Two response formats exist. The *parquet* format describes files in the protocol's own words; the
//! *delta* format wraps Delta log actions (`deltaProtocol`, `deltaMetadata`, `deltaSingleAction`) for
//! clients that replay them with a Delta kernel.

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Response formats a client can ask for in `delta-sharing-capabilities`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `responseformat=parquet`, the default.
    Parquet,
    /// `responseformat=delta`.
    Delta,
}

impl Format {
    /// The value of the `delta-sharing-capabilities` response header.
    pub fn header_value(self) -> &'static str {
        match self {
            Format::Parquet => "responseformat=parquet",
            Format::Delta => "responseformat=delta",
        }
    }
}

/// The parsed `delta-sharing-capabilities` request header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Formats the client accepts, in its order; empty means parquet only.
    pub formats: Vec<Format>,
    /// Reader features the client supports, lowercased.
    pub reader_features: Vec<String>,
}

impl Capabilities {
    /// Parses `key=v1,v2;key2=...` (keys and values case-insensitive). Unknown keys and formats are ignored.
    pub fn parse(header: Option<&str>) -> Self {
        let mut caps = Capabilities::default();
        for pair in header.unwrap_or("").split(';') {
            let Some((key, values)) = pair.split_once('=') else {
                continue;
            };
            let values = values
                .split(',')
                .map(|v| v.trim().to_ascii_lowercase())
                .filter(|v| !v.is_empty());
            match key.trim().to_ascii_lowercase().as_str() {
                "responseformat" => {
                    caps.formats = values
                        .filter_map(|v| match v.as_str() {
                            "parquet" => Some(Format::Parquet),
                            "delta" => Some(Format::Delta),
                            _ => None,
                        })
                        .collect()
                }
                "readerfeatures" => caps.reader_features = values.collect(),
                _ => {}
            }
        }
        caps
    }
}

fn lenient_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    // Clients send numbers; some send them as strings.
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected an integer")),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("expected an integer")),
        Some(_) => Err(serde::de::Error::custom("expected an integer")),
    }
}

/// The JSON body of `POST .../query`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryRequest {
    /// SQL predicate hints (accepted, never evaluated: they are optional).
    #[serde(default)]
    pub predicate_hints: Option<Vec<String>>,
    /// A JSON predicate, as a string.
    #[serde(default)]
    pub json_predicate_hints: Option<Value>,
    /// Return at least this many rows if the table has them; fewer files may be returned.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub limit_hint: Option<i64>,
    /// Time travel to a version.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub version: Option<i64>,
    /// Time travel to the version current at a time.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Return the changes since a version (streaming).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub starting_version: Option<i64>,
    /// Last version of a `startingVersion` query.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub ending_version: Option<i64>,
}

impl QueryRequest {
    /// The JSON predicate text, whether it was sent as a string (as the spec says) or inline.
    pub fn json_predicate(&self) -> Option<String> {
        match &self.json_predicate_hints {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        }
    }
}

/// The query parameters of `GET .../changes`.
#[derive(Debug, Default, Clone)]
pub struct ChangesRequest {
    /// `startingVersion`.
    pub starting_version: Option<i64>,
    /// `startingTimestamp`.
    pub starting_timestamp: Option<String>,
    /// `endingVersion`.
    pub ending_version: Option<i64>,
    /// `endingTimestamp`.
    pub ending_timestamp: Option<String>,
    /// `includeHistoricalMetadata`.
    pub include_historical_metadata: bool,
}

/// A finished NDJSON response: the version for the `Delta-Table-Version` header, the format for the
/// capabilities header, and the body.
#[derive(Debug)]
pub struct TableResponse {
    /// `Delta-Table-Version`.
    pub version: i64,
    /// Format of the lines.
    pub format: Format,
    /// NDJSON, one line per action, each ending in `\n`.
    pub body: Vec<u8>,
}

pub(crate) struct Lines {
    pub(crate) body: Vec<u8>,
}

impl Lines {
    pub(crate) fn new() -> Self {
        Lines {
            body: Vec::with_capacity(4096),
        }
    }

    pub(crate) fn push(&mut self, value: &Value) {
        serde_json::to_writer(&mut self.body, value).expect("JSON values serialize");
        self.body.push(b'\n');
    }
}

/// One `file` line of a snapshot query, from the file's pre-rendered parts and its fresh URL.
pub(crate) fn push_file_line(
    lines: &mut Lines,
    format: Format,
    file: &crate::log::Rendered,
    url: &str,
    expiration_ms: i64,
) {
    let body = &mut lines.body;
    let url_json = Value::String(url.to_string()).to_string();
    match format {
        Format::Parquet => {
            body.extend_from_slice(b"{\"file\":{\"url\":");
            body.extend_from_slice(url_json.as_bytes());
            body.extend_from_slice(file.parquet_fields.as_bytes());
            body.extend_from_slice(
                format!(",\"expirationTimestamp\":{expiration_ms}}}}}\n").as_bytes(),
            );
        }
        Format::Delta => {
            body.extend_from_slice(format!("{{\"file\":{{\"id\":\"{}\",\"expirationTimestamp\":{expiration_ms},\"deltaSingleAction\":{{\"add\":{{\"path\":", file.id).as_bytes());
            body.extend_from_slice(url_json.as_bytes());
            body.extend_from_slice(file.delta_fields.as_bytes());
            body.extend_from_slice(b"}}}}\n");
        }
    }
}

/// The `protocol` line.
pub(crate) fn protocol_line(format: Format, raw: &Map<String, Value>) -> Value {
    match format {
        Format::Parquet => json!({"protocol": {"minReaderVersion": 1}}),
        Format::Delta => json!({"protocol": {"deltaProtocol": raw}}),
    }
}

/// The `metaData` line. `version` is added when given (change data feed, historical metadata).
pub(crate) fn metadata_line(
    format: Format,
    raw: &Map<String, Value>,
    configuration: Value,
    version: Option<i64>,
) -> Value {
    let mut inner = Map::new();
    match format {
        Format::Parquet => {
            for key in ["id", "name", "description"] {
                if let Some(v) = raw.get(key).filter(|v| !v.is_null()) {
                    inner.insert(key.into(), v.clone());
                }
            }
            inner.insert("format".into(), json!({"provider": "parquet"}));
            let schema = raw
                .get("schemaString")
                .and_then(Value::as_str)
                .unwrap_or("{}");
            inner.insert(
                "schemaString".into(),
                Value::String(trim_schema_metadata(schema)),
            );
            inner.insert(
                "partitionColumns".into(),
                raw.get("partitionColumns").cloned().unwrap_or(json!([])),
            );
            inner.insert("configuration".into(), configuration);
        }
        Format::Delta => {
            let mut delta = raw.clone();
            // Delta kernels require both maps, even when empty.
            let format = delta
                .entry("format")
                .or_insert_with(|| json!({"provider": "parquet"}));
            if let Value::Object(f) = format {
                f.entry("options").or_insert_with(|| json!({}));
            }
            let config = delta.entry("configuration").or_insert_with(|| json!({}));
            if config.is_null() {
                *config = json!({});
            }
            inner.insert("deltaMetadata".into(), Value::Object(delta));
        }
    }
    if let Some(v) = version {
        inner.insert("version".into(), json!(v));
    }
    json!({"metaData": inner})
}

/// Keeps only `comment` in each field's metadata, as the reference server does for the parquet format.
fn trim_schema_metadata(schema: &str) -> String {
    fn trim(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
                    metadata.retain(|k, _| k == "comment");
                }
                for v in map.values_mut() {
                    trim(v);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(trim),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(schema) {
        Ok(mut value) => {
            trim(&mut value);
            value.to_string()
        }
        Err(_) => schema.to_string(),
    }
}

/// A log action's JSON with the path replaced by a signed URL and checkpoint-only columns dropped.
pub(crate) fn action_with_url(raw: &Map<String, Value>, url: &str) -> Value {
    let mut action: Map<String, Value> = raw
        .iter()
        .filter(|(k, v)| !v.is_null() && !k.ends_with("_parsed"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    action.insert("path".into(), Value::String(url.to_string()));
    Value::Object(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_parse_case_insensitively() {
        let caps = Capabilities::parse(Some(
            "responseFormat=Delta,parquet;readerfeatures=deletionvectors,columnMapping",
        ));
        assert_eq!(caps.formats, vec![Format::Delta, Format::Parquet]);
        assert_eq!(
            caps.reader_features,
            vec!["deletionvectors", "columnmapping"]
        );
        assert_eq!(Capabilities::parse(None), Capabilities::default());
    }

    #[test]
    fn parquet_metadata_trims_field_metadata() {
        let raw: Map<String, Value> = serde_json::from_value(json!({
            "id": "x", "format": {"provider": "parquet", "options": {}},
            "schemaString": "{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"long\",\"nullable\":true,\"metadata\":{\"comment\":\"c\",\"delta.generationExpression\":\"1\"}}]}",
            "partitionColumns": [], "configuration": {"delta.appendOnly": "true"}
        }))
        .unwrap();
        let line = metadata_line(Format::Parquet, &raw, json!({}), None);
        let schema = line["metaData"]["schemaString"].as_str().unwrap();
        assert!(schema.contains("comment") && !schema.contains("generationExpression"));
        assert_eq!(line["metaData"]["configuration"], json!({}));
        let delta = metadata_line(Format::Delta, &raw, json!({}), Some(3));
        assert_eq!(delta["metaData"]["version"], 3);
        assert_eq!(
            delta["metaData"]["deltaMetadata"]["configuration"]["delta.appendOnly"],
            "true"
        );
    }
}
