//! What a dropped file is, and reading it: the one place that tells formats apart.
//!
//! [`Format::of`] decides by the name (and, for a name that says nothing, the first bytes). [`preview`]
//! and [`Input`] (the reader side of [`crate::convert`]) hand each format to its module: CSV text
//! (plain, `.tsv`, gzip, a zip of CSVs) to [`crate::text`], workbooks to [`crate::workbook`], JSON and
//! NDJSON to [`crate::json`], Parquet to [`crate::parquet_input`]. Everything after the reader (types,
//! widening, row order, files, the commit) is the same for all of them.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cells::Cell;
use crate::convert::{Feed, PassError};
use crate::preview::{Column, Options, Preview};
use crate::{Error, Result};

/// The formats a file can be dropped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Format {
    /// Delimited text (the delimiter is detected).
    #[serde(rename = "csv")]
    Csv,
    /// Tab-separated text.
    #[serde(rename = "tsv")]
    Tsv,
    /// Gzip-compressed delimited text (`.csv.gz`, `.tsv.gz`; several members are read one after the other).
    #[serde(rename = "csv.gz")]
    Gzip,
    /// A zip archive of delimited text files with the same columns.
    #[serde(rename = "zip")]
    Zip,
    /// An Excel workbook.
    #[serde(rename = "xlsx")]
    Xlsx,
    /// An Excel workbook with macros (which are not run).
    #[serde(rename = "xlsm")]
    Xlsm,
    /// An Excel binary workbook.
    #[serde(rename = "xlsb")]
    Xlsb,
    /// An Excel 97-2003 workbook.
    #[serde(rename = "xls")]
    Xls,
    /// An OpenDocument spreadsheet.
    #[serde(rename = "ods")]
    Ods,
    /// JSON: an array of objects (or one object, or one object per line).
    #[serde(rename = "json")]
    Json,
    /// One JSON object per line.
    #[serde(rename = "ndjson")]
    Ndjson,
    /// A Parquet file.
    #[serde(rename = "parquet")]
    Parquet,
}

/// The file name endings a drop zone or file picker should accept, lower case, without the dot.
pub const EXTENSIONS: &[&str] = &[
    "csv", "txt", "tsv", "tab", "gz", "zip", "xlsx", "xlsm", "xlsb", "xls", "ods", "json",
    "ndjson", "jsonl", "parquet",
];

impl Format {
    /// The format of `path`: by its name, and by its first bytes when the name does not say.
    pub fn of(path: &Path) -> Format {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let extension = name.rsplit('.').next().unwrap_or("");
        match extension {
            "tsv" | "tab" => Format::Tsv,
            "gz" | "gzip" => Format::Gzip,
            "zip" => Format::Zip,
            "xlsx" => Format::Xlsx,
            "xlsm" => Format::Xlsm,
            "xlsb" => Format::Xlsb,
            "xls" => Format::Xls,
            "ods" => Format::Ods,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "parquet" => Format::Parquet,
            _ => Format::by_content(path).unwrap_or(Format::Csv),
        }
    }

    /// Gzip and Parquet under another name (a download saved as `.csv` or with no extension).
    fn by_content(path: &Path) -> Option<Format> {
        let mut magic = [0u8; 4];
        std::fs::File::open(path)
            .ok()?
            .read_exact(&mut magic)
            .ok()?;
        match magic {
            [0x1f, 0x8b, _, _] => Some(Format::Gzip),
            [b'P', b'A', b'R', b'1'] => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// A sheet of a workbook, as the preview lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Sheet {
    /// Its name.
    pub name: String,
    /// Hidden in the workbook (it can still be chosen).
    pub hidden: bool,
}

/// Previews any supported file, reading only what the preview needs.
pub fn preview(path: &Path, options: &Options) -> Result<Preview> {
    Input::open(path, options).map(|(_, preview)| preview)
}

/// A file being converted: the reader side of a conversion, one per format family.
pub(crate) enum Input {
    Text(crate::text::TextInput),
    Workbook(crate::workbook::SheetInput),
    Json(crate::json::JsonInput),
    Parquet(crate::parquet_input::ParquetInput),
}

impl Input {
    /// Opens `path` and previews it.
    pub(crate) fn open(path: &Path, options: &Options) -> Result<(Input, Preview)> {
        let format = Format::of(path);
        let (input, preview) = match format {
            Format::Csv | Format::Tsv | Format::Gzip | Format::Zip => {
                let (input, preview) = crate::text::TextInput::open(path, format, options)?;
                (Input::Text(input), preview)
            }
            Format::Xlsx | Format::Xlsm | Format::Xlsb | Format::Xls | Format::Ods => {
                let (input, preview) = crate::workbook::SheetInput::open(path, format, options)?;
                (Input::Workbook(input), preview)
            }
            Format::Json | Format::Ndjson => {
                let (input, preview) = crate::json::JsonInput::open(path, format, options)?;
                (Input::Json(input), preview)
            }
            Format::Parquet => {
                let (input, preview) = crate::parquet_input::ParquetInput::open(path, options)?;
                (Input::Parquet(input), preview)
            }
        };
        Ok((input, Preview { format, ..preview }))
    }

    /// The file.
    pub(crate) fn file(&self) -> &Path {
        match self {
            Input::Text(input) => input.file(),
            Input::Workbook(input) => input.file(),
            Input::Json(input) => input.file(),
            Input::Parquet(input) => input.file(),
        }
    }

    /// Reads the whole input once, handing its rows to `feed` in order.
    pub(crate) fn feed(
        &mut self,
        columns: &[Column],
        block_bytes: usize,
        feed: &mut Feed,
    ) -> std::result::Result<(), PassError> {
        match self {
            Input::Text(input) => input.feed(block_bytes, feed),
            Input::Workbook(input) => input.feed(columns, feed),
            Input::Json(input) => input.feed(columns, feed),
            Input::Parquet(input) => input.feed(columns, feed),
        }
    }

    /// A column for a key first seen during a conversion (JSON only), typed by its first value.
    pub(crate) fn add_column(&mut self, key: &[String], cell: &Cell, columns: &[Column]) -> Column {
        match self {
            Input::Json(input) => input.add_column(key, cell, columns),
            _ => unreachable!("only JSON adds columns"),
        }
    }
}

/// A reader that counts the bytes read through it into `done` (progress of compressed or archived input).
pub(crate) struct Counting<R> {
    pub(crate) inner: R,
    pub(crate) done: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// The dialect the preview of a file that is not delimited text reports: only the header is its own.
pub(crate) fn dialect(has_header: bool) -> crate::sniff::Dialect {
    crate::sniff::Dialect {
        encoding: crate::sniff::Encoding::Utf8,
        delimiter: b',',
        quote: b'"',
        has_header,
        line_ending: crate::sniff::LineEnding::Lf,
    }
}

/// The name errors give a part of a file (a zip's member, a workbook's sheet).
pub(crate) fn label(file: &Path, part: &str) -> PathBuf {
    PathBuf::from(format!("{}{part}", file.display()))
}

/// An I/O error naming the file.
pub(crate) fn io(file: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        file: file.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_name() {
        for (name, format) in [
            ("a.csv", Format::Csv),
            ("a.TSV", Format::Tsv),
            ("a.csv.gz", Format::Gzip),
            ("a.zip", Format::Zip),
            ("Book.XLSX", Format::Xlsx),
            ("b.xlsm", Format::Xlsm),
            ("b.xls", Format::Xls),
            ("b.ods", Format::Ods),
            ("c.json", Format::Json),
            ("c.jsonl", Format::Ndjson),
            ("d.parquet", Format::Parquet),
        ] {
            assert_eq!(Format::of(Path::new(name)), format, "{name}");
        }
    }
}
