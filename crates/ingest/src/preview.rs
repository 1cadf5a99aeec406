//! The preview: dialect, schema and first rows, from the head of a file only.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::source::{Format, Sheet};

use serde::Serialize;

use crate::infer::{ColumnType, Inference, infer_column_with, value_fits};
use crate::names::{column_names, unique};
use crate::sniff::{self, Dialect, Encoding, complete_records, detect_encoding, records};
use crate::{Error, Result};

/// How much of a file a preview reads at first; more only if the requested rows need it.
pub const HEAD_BYTES: usize = 1 << 20;
/// The most a preview ever reads (a single field may be this large).
pub const MAX_HEAD_BYTES: usize = 16 << 20;
/// Rows used to infer types (all the rows in the head, up to this many).
pub const SAMPLE_ROWS: usize = 10_000;

/// Choices a user can make instead of the detected ones.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Rows to return (default 100).
    pub rows: Option<usize>,
    /// Encoding instead of the detected one.
    pub encoding: Option<Encoding>,
    /// Delimiter instead of the detected one.
    pub delimiter: Option<u8>,
    /// Quote character instead of `"`.
    pub quote: Option<u8>,
    /// Whether the first row is a header, instead of the detected answer.
    pub has_header: Option<bool>,
    /// Per-column names, by 0-based position.
    pub names: Vec<(usize, String)>,
    /// Per-column types, by 0-based position.
    pub types: Vec<(usize, ColumnType)>,
    /// A workbook's sheet: its name, or its 1-based position (default: the first visible sheet with data).
    pub sheet: Option<String>,
}

/// One column of the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Column {
    /// Name in the table.
    pub name: String,
    /// The header cell it came from (empty without a header).
    pub header: String,
    /// Type.
    #[serde(flatten)]
    pub column_type: ColumnType,
    /// Whether empty fields (nulls) were seen.
    pub nullable: bool,
    /// Every date read both day-first and month-first; the column was left as text until the user chooses.
    pub ambiguous_dates: bool,
    /// Text whose values repeat in the sample (at most half are distinct): worth a Parquet dictionary.
    #[serde(skip)]
    pub repetitive: bool,
}

/// What a preview shows.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Preview {
    /// The file.
    pub file: PathBuf,
    /// What kind of file it is.
    pub format: Format,
    /// A workbook's sheets, in workbook order (empty for other formats).
    pub sheets: Vec<Sheet>,
    /// The sheet previewed (workbooks only).
    pub sheet: Option<String>,
    /// Size of the file in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub file_size: u64,
    /// How the file is written (CSV text; for other formats, UTF-8 and whether there is a header row).
    pub dialect: Dialect,
    /// Columns, in file order.
    pub columns: Vec<Column>,
    /// The first rows (`None` is an empty field, a null).
    pub rows: Vec<Vec<Option<String>>>,
    /// Rows the types were inferred from.
    pub sampled_rows: usize,
    /// Whether the whole file was read (small files).
    pub complete: bool,
    /// Things the user should know (ambiguous dates, ...).
    pub warnings: Vec<String>,
}

/// Previews CSV text from `input`, reading only its head; `label` names it, `file_size` is the size
/// of the file it is in.
pub(crate) fn preview_text(
    mut input: impl Read,
    label: &Path,
    file_size: u64,
    options: &Options,
) -> Result<Preview> {
    let wanted_rows = options.rows.unwrap_or(100);
    let mut head = Vec::new();
    let mut limit = HEAD_BYTES;
    loop {
        let want = limit - head.len();
        let n = (&mut input)
            .take(want as u64)
            .read_to_end(&mut head)
            .map_err(|source| Error::Io {
                file: label.to_path_buf(),
                source,
            })?;
        let complete = n < want;
        let preview = preview_bytes(&head, complete, label, options)?;
        // Read further only when the head holds too few rows (very wide rows or huge fields).
        if complete || preview.sampled_rows >= wanted_rows || limit >= MAX_HEAD_BYTES {
            return Ok(Preview {
                file_size,
                ..preview
            });
        }
        limit = (limit * 4).min(MAX_HEAD_BYTES);
    }
}

/// Previews the first bytes of a file; `complete` says whether they are all of it.
pub fn preview_bytes(
    head: &[u8],
    complete: bool,
    file: &Path,
    options: &Options,
) -> Result<Preview> {
    let at = |e: Error| e.with_file(file);
    let encoding = match options.encoding {
        Some(e) => e,
        None => detect_encoding(head, complete).map_err(at)?,
    };
    let text = sniff::decode(head, encoding, complete).map_err(at)?;
    if text.trim().is_empty() {
        return Err(Error::Empty {
            file: file.to_path_buf(),
        });
    }
    let detected = sniff::sniff_text(&text, encoding, complete).map_err(at)?;
    let dialect = Dialect {
        delimiter: options.delimiter.unwrap_or(detected.delimiter),
        quote: options.quote.unwrap_or(detected.quote),
        has_header: options.has_header.unwrap_or(detected.has_header),
        ..detected
    };
    let (end, open_quote) = complete_records(&text, dialect.quote, complete);
    if let (true, Some(row)) = (complete, open_quote) {
        return Err(Error::UnterminatedQuote {
            file: file.to_path_buf(),
            row,
        });
    }
    let mut rows = records(
        &text[..end],
        dialect.delimiter,
        dialect.quote,
        SAMPLE_ROWS + 1,
    );
    let header = if dialect.has_header && !rows.is_empty() {
        Some(rows.remove(0))
    } else {
        None
    };
    let width = header
        .as_ref()
        .map(Vec::len)
        .or_else(|| rows.first().map(Vec::len))
        .unwrap_or(0);
    let first_data_row = if header.is_some() { 2 } else { 1 };
    for (i, row) in rows.iter().enumerate() {
        if row.len() != width {
            return Err(Error::RaggedRow {
                file: file.to_path_buf(),
                row: first_data_row + i as u64,
                found: row.len(),
                expected: width,
                what: if header.is_some() {
                    "header"
                } else {
                    "first row"
                },
            });
        }
    }
    let inferences = (0..width)
        .map(|i| {
            infer_column_with(
                rows.iter().map(|r| r[i].as_str()),
                dialect.delimiter != b',',
            )
        })
        .collect();
    let mut warnings = Vec::new();
    let columns = columns_of(
        file,
        header.as_deref(),
        inferences,
        &rows,
        first_data_row,
        options,
        &mut warnings,
    )?;
    if rows.is_empty() {
        warnings.push("the file has no data rows".into());
    }
    let sampled_rows = rows.len();
    let wanted = options.rows.unwrap_or(100);
    let shown = rows
        .into_iter()
        .take(wanted)
        .map(|row| {
            row.into_iter()
                .map(|v| if v.is_empty() { None } else { Some(v) })
                .collect()
        })
        .collect();
    Ok(Preview {
        file: file.to_path_buf(),
        format: Format::Csv,
        sheets: Vec::new(),
        sheet: None,
        file_size: head.len() as u64,
        dialect,
        columns,
        rows: shown,
        sampled_rows,
        complete,
        warnings,
    })
}

/// The columns of a preview: names from the header cells (or `column_N`) and the user's renames,
/// types inferred (`inferences`, one per column) or forced by the user, checked against the sampled
/// rows (as text, an empty string for a null; the first is row `first_data_row`).
pub(crate) fn columns_of(
    file: &Path,
    header: Option<&[String]>,
    inferences: Vec<Inference>,
    rows: &[Vec<String>],
    first_data_row: u64,
    options: &Options,
    warnings: &mut Vec<String>,
) -> Result<Vec<Column>> {
    let width = inferences.len();
    let mut names = column_names(header, width);
    for (index, name) in &options.names {
        if *index >= width {
            return Err(Error::BadOverride {
                file: file.to_path_buf(),
                message: format!(
                    "there is no column {} to rename (the file has {width})",
                    index + 1
                ),
            });
        }
        let mut others: std::collections::HashSet<String> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| i != index)
            .map(|(_, n)| n.to_lowercase())
            .collect();
        let cleaned = crate::names::clean(name);
        if cleaned.is_empty() {
            return Err(Error::BadOverride {
                file: file.to_path_buf(),
                message: format!("'{name}' is not a usable column name"),
            });
        }
        names[*index] = unique(cleaned, &mut others);
    }
    if let Some((index, _)) = options.types.iter().find(|(index, _)| *index >= width) {
        return Err(Error::BadOverride {
            file: file.to_path_buf(),
            message: format!(
                "there is no column {} to give a type (the file has {width})",
                index + 1
            ),
        });
    }
    let mut columns = Vec::with_capacity(width);
    for ((i, name), inference) in names.into_iter().enumerate().zip(inferences) {
        let column_type = match options.types.iter().find(|(index, _)| *index == i) {
            Some((_, forced)) => {
                if let Some((row, value)) = rows
                    .iter()
                    .enumerate()
                    .map(|(r, row)| (r, row[i].trim()))
                    .find(|(_, v)| !v.is_empty() && !value_fits(v, forced))
                {
                    return Err(Error::BadOverride {
                        file: file.to_path_buf(),
                        message: format!(
                            "row {}, column '{name}': '{value}' is not a {}",
                            first_data_row + row as u64,
                            forced.name()
                        ),
                    });
                }
                forced.clone()
            }
            None => inference.column_type,
        };
        if inference.ambiguous_dates && column_type == ColumnType::String {
            warnings.push(format!(
                "column '{name}': every date reads both day-first and month-first (such as 01/02/2024); it is kept as text until you choose date:dmy or date:mdy"
            ));
        }
        let repetitive =
            column_type == ColumnType::String && repeats(rows.iter().map(|r| r[i].as_str()));
        columns.push(Column {
            name,
            header: header.and_then(|h| h.get(i)).cloned().unwrap_or_default(),
            column_type,
            nullable: inference.nulls > 0,
            ambiguous_dates: inference.ambiguous_dates,
            repetitive,
        });
    }
    Ok(columns)
}

/// Whether at most half of the non-empty values are distinct.
fn repeats<'a>(values: impl Iterator<Item = &'a str>) -> bool {
    let mut distinct = std::collections::HashSet::new();
    let mut count = 0usize;
    for value in values.filter(|v| !v.is_empty()) {
        distinct.insert(value);
        count += 1;
    }
    distinct.len() * 2 <= count
}

impl Error {
    /// The same error, naming `file`.
    pub fn with_file(mut self, path: &Path) -> Self {
        match &mut self {
            Error::Io { file, .. }
            | Error::Empty { file }
            | Error::Binary { file, .. }
            | Error::InvalidBytes { file, .. }
            | Error::RaggedRow { file, .. }
            | Error::UnterminatedQuote { file, .. }
            | Error::BadOverride { file, .. }
            | Error::NoData { file }
            | Error::ValueDoesNotFit { file, .. }
            | Error::Malformed { file, .. }
            | Error::NewKey { file, .. }
            | Error::Unreadable { file, .. }
            | Error::Cancelled { file } => *file = path.to_path_buf(),
            Error::TableExists { .. }
            | Error::NoTable { .. }
            | Error::SchemaMismatch { .. }
            | Error::Delta { .. } => {}
        }
        self
    }
}
