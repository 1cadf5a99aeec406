//! JSON and NDJSON: an array of objects, one object per line, or a single object (one row).
//!
//! - Nested objects become `parent_child` columns, up to [`MAX_DEPTH`] keys deep (`a_b_c`); a deeper
//!   object, and every array, is kept as compact JSON text (keys in their order, `[1,2]`).
//! - Strings are typed by the CSV rules (`"2024-01-05"` is a date, `"007"` stays text); numbers are
//!   int64 or float64, `true`/`false` boolean; `null` and a missing key are nulls.
//! - Columns are in the order their keys first appear. A key first seen after the sample the preview
//!   read becomes a new column at the end (the rows before it hold nulls there), or, with `--strict`,
//!   an error naming its row.
//! - Rows are numbered by line for NDJSON, and by position (1-based) in an array. A line that is not
//!   JSON, or a record that is not an object, is an error naming it.
//!
//! The file is read as a stream, one record at a time, in constant memory.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::cells::{Cell, infer_cells};
use crate::convert::{Body, Feed, Part, PassError};
use crate::preview::{Column, MAX_HEAD_BYTES, Options, Preview, SAMPLE_ROWS, columns_of};
use crate::source::{Counting, Format, dialect, io};
use crate::{Error, Result};

/// One record's fields: each flattened key (its path of names) and its cell.
type Fields = Vec<(Vec<String>, Cell)>;

/// The deepest key path that becomes a column of its own (`a_b_c`).
pub const MAX_DEPTH: usize = 3;
/// Rows per chunk handed to the workers.
const CHUNK_ROWS: usize = 16 * 1024;

/// How the records are laid out in the file.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    /// `[{...}, {...}]`
    Array,
    /// One object per line.
    Lines,
    /// One object: one row.
    Single,
}

/// A JSON file being converted.
pub(crate) struct JsonInput {
    file: PathBuf,
    layout: Layout,
    part: Arc<Part>,
    /// Each column's key path, and the column of each path.
    keys: Vec<Vec<String>>,
    columns_by_key: HashMap<Vec<String>, usize>,
}

impl JsonInput {
    pub(crate) fn open(path: &Path, format: Format, options: &Options) -> Result<(Self, Preview)> {
        let file = File::open(path).map_err(io(path))?;
        let file_size = file.metadata().map_err(io(path))?.len();
        let layout = layout(path, format)?;
        let mut input = JsonInput {
            file: path.to_path_buf(),
            layout,
            part: Arc::new(Part {
                label: Arc::from(path),
                dialect: dialect(true),
            }),
            keys: Vec::new(),
            columns_by_key: HashMap::new(),
        };
        // The sample: up to SAMPLE_ROWS records, columns in the order their keys appear.
        let mut sample: Vec<(u64, Fields)> = Vec::new();
        let mut read = 0u64;
        input
            .records(
                std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
                &mut |row, fields| {
                    sample.push((row, fields));
                    read += 1;
                    Ok(read < SAMPLE_ROWS as u64)
                },
                Some(MAX_HEAD_BYTES as u64),
            )
            .map_err(|e| match e {
                PassError::Fatal(e) => e,
                _ => unreachable!("reading records only fails"),
            })?;
        for (_, fields) in &sample {
            for (key, _) in fields {
                if !input.columns_by_key.contains_key(key) {
                    input.columns_by_key.insert(key.clone(), input.keys.len());
                    input.keys.push(key.clone());
                }
            }
        }
        if input.keys.is_empty() {
            return Err(Error::NoData {
                file: path.to_path_buf(),
            });
        }
        let width = input.keys.len();
        let rows: Vec<Vec<Cell>> = sample
            .into_iter()
            .map(|(_, fields)| input.row(fields, width).expect("every key has a column"))
            .collect();
        let header: Vec<String> = input.keys.iter().map(|k| k.join("_")).collect();
        let inferences = (0..width)
            .map(|i| infer_cells(rows.iter().map(move |row| &row[i])))
            .collect();
        let texts: Vec<Vec<String>> = rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| c.text().map(|t| t.into_owned()).unwrap_or_default())
                    .collect()
            })
            .collect();
        let mut warnings = Vec::new();
        let columns = columns_of(
            path,
            Some(&header),
            inferences,
            &texts,
            1,
            options,
            &mut warnings,
        )?;
        let wanted = options.rows.unwrap_or(100);
        let preview = Preview {
            file: path.to_path_buf(),
            format,
            sheets: Vec::new(),
            sheet: None,
            file_size,
            dialect: dialect(true),
            columns,
            rows: rows
                .iter()
                .take(wanted)
                .map(|row| {
                    row.iter()
                        .map(|c| c.text().map(|t| t.into_owned()))
                        .collect()
                })
                .collect(),
            sampled_rows: rows.len(),
            complete: (read as usize) < SAMPLE_ROWS,
            warnings,
        };
        Ok((input, preview))
    }

    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    /// A column for a key first seen during a conversion.
    pub(crate) fn add_column(&mut self, key: &[String], cell: &Cell, columns: &[Column]) -> Column {
        let mut seen = columns.iter().map(|c| c.name.to_lowercase()).collect();
        let cleaned = crate::names::clean(&key.join("_"));
        let base = if cleaned.is_empty() {
            format!("column_{}", columns.len() + 1)
        } else {
            cleaned
        };
        self.columns_by_key.insert(key.to_vec(), self.keys.len());
        self.keys.push(key.to_vec());
        let inference = infer_cells(std::iter::once(cell));
        Column {
            name: crate::names::unique(base, &mut seen),
            header: key.join("_"),
            column_type: inference.column_type,
            nullable: true,
            ambiguous_dates: false,
            repetitive: false,
        }
    }

    pub(crate) fn feed(
        &mut self,
        columns: &[Column],
        feed: &mut Feed,
    ) -> std::result::Result<(), PassError> {
        feed.total = std::fs::metadata(&self.file).map(|m| m.len()).unwrap_or(0);
        let width = columns.len();
        let mut cells = Vec::with_capacity(CHUNK_ROWS * width);
        let mut numbers = Vec::with_capacity(CHUNK_ROWS);
        let part = self.part.clone();
        let done = feed.done.clone();
        let mut workers_gone = false;
        let this = &*self;
        this.records(
            done,
            &mut |row, fields| {
                if feed.stopped() {
                    return Ok(false);
                }
                match this.row(fields, width) {
                    Ok(values) => cells.extend(values),
                    Err((key, cell)) => {
                        return Err(PassError::NewColumn {
                            file: part.label.clone(),
                            row,
                            key,
                            cell,
                        });
                    }
                }
                numbers.push(row);
                if numbers.len() == CHUNK_ROWS {
                    let first = numbers[0];
                    let body =
                        Body::Cells(std::mem::take(&mut cells), std::mem::take(&mut numbers));
                    if !feed.send(&part, body, first) {
                        workers_gone = true;
                        return Ok(false);
                    }
                    feed.report();
                }
                Ok(true)
            },
            None,
        )?;
        if !numbers.is_empty() && !workers_gone && !feed.stopped() {
            let first = numbers[0];
            feed.send(&part, Body::Cells(cells, numbers), first);
        }
        feed.report();
        Ok(())
    }

    /// A record's fields placed in their columns; a key without a column is returned with its value.
    fn row(
        &self,
        fields: Fields,
        width: usize,
    ) -> std::result::Result<Vec<Cell>, (Vec<String>, Cell)> {
        let mut row = vec![Cell::Null; width];
        for (key, cell) in fields {
            match self.columns_by_key.get(&key) {
                Some(&i) if i < width => row[i] = cell,
                _ => return Err((key, cell)),
            }
        }
        Ok(row)
    }

    /// Reads the records in order, each flattened, handing them to `each` with their row number
    /// until it answers `false`; `limit` stops after about that many bytes (for a preview).
    fn records(
        &self,
        done: Arc<std::sync::atomic::AtomicU64>,
        each: &mut dyn FnMut(u64, Fields) -> std::result::Result<bool, PassError>,
        limit: Option<u64>,
    ) -> std::result::Result<(), PassError> {
        let path = &self.file;
        let fatal = |e: Error| PassError::Fatal(e);
        let file = File::open(path).map_err(io(path)).map_err(fatal)?;
        let reader = BufReader::with_capacity(1 << 20, Counting { inner: file, done });
        let malformed = |row: u64, message: String| {
            PassError::Fatal(Error::Malformed {
                file: path.to_path_buf(),
                row,
                message,
            })
        };
        let mut record = |row: u64, value: Value| -> std::result::Result<bool, PassError> {
            match value {
                Value::Object(fields) => {
                    let mut flat = Vec::with_capacity(fields.len());
                    flatten(fields, &mut Vec::new(), &mut flat);
                    each(row, flat)
                }
                other => Err(malformed(
                    row,
                    format!("a record must be a JSON object, this is {}", other.kind()),
                )),
            }
        };
        match self.layout {
            Layout::Lines => {
                let mut reader = reader;
                let mut line = String::new();
                let (mut number, mut bytes) = (0u64, 0u64);
                loop {
                    line.clear();
                    let n = reader.read_line(&mut line).map_err(|e| {
                        if e.kind() == std::io::ErrorKind::InvalidData {
                            malformed(number + 1, "this line is not UTF-8 text".into())
                        } else {
                            fatal(Error::Io {
                                file: path.to_path_buf(),
                                source: e,
                            })
                        }
                    })?;
                    if n == 0 {
                        return Ok(());
                    }
                    number += 1;
                    bytes += n as u64;
                    let text = line.trim();
                    if text.is_empty() {
                        continue;
                    }
                    let value: Value = serde_json::from_str(text)
                        .map_err(|e| malformed(number, format!("this line is not JSON: {e}")))?;
                    if !record(number, value)? || limit.is_some_and(|l| bytes >= l) {
                        return Ok(());
                    }
                }
            }
            Layout::Single => {
                let value: Value = serde_json::from_reader(reader.take(u64::MAX))
                    .map_err(|e| malformed(e.line() as u64, format!("this is not JSON: {e}")))?;
                record(1, value).map(|_| ())
            }
            Layout::Array => {
                let mut outcome: Option<PassError> = None;
                let mut stopped = false;
                let mut deserializer = serde_json::Deserializer::from_reader(reader);
                let seed = EachElement {
                    each: &mut |index: u64, value: Value| match record(index, value) {
                        Ok(true) => true,
                        Ok(false) => {
                            stopped = true;
                            false
                        }
                        Err(e) => {
                            outcome = Some(e);
                            false
                        }
                    },
                };
                let parsed = seed.deserialize(&mut deserializer);
                if let Some(e) = outcome {
                    return Err(e);
                }
                if stopped {
                    // Enough read (a preview), or the conversion stopped: the rest is not read.
                    return Ok(());
                }
                match parsed {
                    Ok(()) => deserializer
                        .end()
                        .map_err(|e| malformed(e.line() as u64, format!("after the array: {e}"))),
                    Err(e) => Err(malformed(
                        e.line() as u64,
                        format!(
                            "this is not a JSON array of objects: {e} (the row is the line of the file)"
                        ),
                    )),
                }
            }
        }
    }
}

/// How a file's records are laid out: `.ndjson` and `.jsonl` by name; a `.json` by its first
/// character (`[` an array) and, for `{`, whether its first line is a whole object (NDJSON).
fn layout(path: &Path, format: Format) -> Result<Layout> {
    if format == Format::Ndjson {
        return Ok(Layout::Lines);
    }
    let mut reader = BufReader::new(File::open(path).map_err(io(path))?);
    let mut first_line = String::new();
    loop {
        first_line.clear();
        let n = reader.read_line(&mut first_line).map_err(io(path))?;
        if n == 0 {
            return Err(Error::Empty {
                file: path.to_path_buf(),
            });
        }
        if !first_line.trim().is_empty() {
            break;
        }
    }
    let text = first_line.trim().trim_start_matches('\u{feff}');
    if text.starts_with('[') {
        Ok(Layout::Array)
    } else if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() && text.starts_with('{') {
        Ok(Layout::Lines)
    } else {
        Ok(Layout::Single)
    }
}

/// Fields of an object, flattened: `{"a": {"b": 1}}` → `(["a", "b"], 1)`.
fn flatten(fields: Vec<(String, Value)>, path: &mut Vec<String>, out: &mut Fields) {
    for (key, value) in fields {
        path.push(key);
        match value {
            Value::Object(inner) if path.len() < MAX_DEPTH && !inner.is_empty() => {
                flatten(inner, path, out)
            }
            other => {
                let cell = other.into_cell();
                // A key given twice: the last value, as JSON parsers do.
                if let Some(existing) = out.iter_mut().find(|(k, _)| k == path) {
                    existing.1 = cell;
                } else {
                    out.push((path.clone(), cell));
                }
            }
        }
        path.pop();
    }
}

/// A JSON value with its object keys in file order.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    fn into_cell(self) -> Cell {
        match self {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Cell::Int(i),
                None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Cell::Raw(s),
            other => {
                let mut text = String::new();
                other.write(&mut text);
                Cell::Text(text)
            }
        }
    }

    /// Compact JSON, keys in their order.
    fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::String(s) => out.push_str(&serde_json::to_string(s).expect("a string")),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Value::Object(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(key).expect("a string"));
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut fields = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            fields.push((key, value));
        }
        Ok(Value::Object(fields))
    }
}

/// Streams the elements of a top-level array to `each` (with their 1-based position) without holding
/// the array; `each` answers whether to go on. When it does not, the array is left unread (an error
/// that the caller, which knows it stopped, ignores).
struct EachElement<'a> {
    each: &'a mut dyn FnMut(u64, Value) -> bool,
}

impl<'de> DeserializeSeed<'de> for EachElement<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EachElement<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let mut index = 0u64;
        while let Some(value) = seq.next_element::<Value>()? {
            index += 1;
            if !(self.each)(index, value) {
                return Err(serde::de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Fields {
        let Value::Object(fields) = serde_json::from_str::<Value>(text).unwrap() else {
            panic!("an object")
        };
        let mut out = Vec::new();
        flatten(fields, &mut Vec::new(), &mut out);
        out
    }

    #[test]
    fn objects_flatten_to_a_depth_and_keep_the_rest_as_json_text() {
        let flat = parse(
            r#"{"id": 1, "a": {"b": {"c": "x", "d": {"e": [1, "é"]}}}, "tags": [1,2], "z": null}"#,
        );
        let keys: Vec<String> = flat.iter().map(|(k, _)| k.join("_")).collect();
        assert_eq!(keys, ["id", "a_b_c", "a_b_d", "tags", "z"]);
        assert_eq!(flat[0].1, Cell::Int(1));
        assert_eq!(flat[1].1, Cell::Raw("x".into()));
        assert_eq!(flat[2].1, Cell::Text(r#"{"e":[1,"é"]}"#.into()));
        assert_eq!(flat[3].1, Cell::Text("[1,2]".into()));
        assert_eq!(flat[4].1, Cell::Null);
    }
}
