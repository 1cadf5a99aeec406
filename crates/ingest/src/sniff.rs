//! Detecting how a CSV file is written: encoding, delimiter, quote, header and line endings.

use std::path::PathBuf;

use serde::Serialize;

use crate::infer::{ColumnType, infer_column, value_fits};
use crate::{Error, Result};

/// Text encodings a CSV file may be in. Everything is transcoded to UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Encoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark (what Excel writes as "CSV UTF-8").
    Utf8Bom,
    /// UTF-16, little endian, with a byte-order mark (Excel's "Unicode text").
    Utf16Le,
    /// UTF-16, big endian, with a byte-order mark.
    Utf16Be,
    /// Windows-1252 (Western European), the fallback for bytes that are not UTF-8.
    Windows1252,
}

impl Encoding {
    /// A human name, as used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 (with BOM)",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Windows1252 => "Windows-1252",
        }
    }

    /// Parses a name as a user would type it (`utf-8`, `utf8-bom`, `utf-16le`, `windows-1252`, `latin1`...).
    pub fn from_name(name: &str) -> Option<Encoding> {
        let key: String = name
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        Some(match key.as_str() {
            "utf8" => Encoding::Utf8,
            "utf8bom" | "utf8sig" => Encoding::Utf8Bom,
            "utf16" | "utf16le" => Encoding::Utf16Le,
            "utf16be" => Encoding::Utf16Be,
            "windows1252" | "cp1252" | "latin1" | "iso88591" => Encoding::Windows1252,
            _ => return None,
        })
    }

    /// Length of the byte-order mark this encoding starts with.
    pub fn bom_len(self) -> usize {
        match self {
            Encoding::Utf8Bom => 3,
            Encoding::Utf16Le | Encoding::Utf16Be => 2,
            Encoding::Utf8 | Encoding::Windows1252 => 0,
        }
    }

    pub(crate) fn codec(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Utf8 | Encoding::Utf8Bom => encoding_rs::UTF_8,
            Encoding::Utf16Le => encoding_rs::UTF_16LE,
            Encoding::Utf16Be => encoding_rs::UTF_16BE,
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252,
        }
    }
}

/// How lines end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LineEnding {
    /// `\n` (Unix, macOS).
    Lf,
    /// `\r\n` (Windows, Excel).
    CrLf,
    /// `\r` (classic Mac OS).
    Cr,
}

/// How a CSV file is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Dialect {
    /// Text encoding.
    pub encoding: Encoding,
    /// Field delimiter: `,`, `;`, tab or `|`.
    #[serde(serialize_with = "as_char")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub delimiter: u8,
    /// Quote character.
    #[serde(serialize_with = "as_char")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub quote: u8,
    /// Whether the first row holds column names.
    pub has_header: bool,
    /// Line endings.
    pub line_ending: LineEnding,
}

fn as_char<S: serde::Serializer>(byte: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&(*byte as char).to_string())
}

/// Delimiters tried, in order of preference when they score the same.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Detects the encoding from the first bytes of a file. `complete` says whether `head` is the whole file.
pub(crate) fn detect_encoding(head: &[u8], complete: bool) -> Result<Encoding> {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(Encoding::Utf8Bom);
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return Ok(Encoding::Utf16Le);
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Ok(Encoding::Utf16Be);
    }
    if let Some(offset) = head.iter().position(|b| *b == 0) {
        return Err(Error::Binary {
            file: PathBuf::new(),
            offset,
        });
    }
    match std::str::from_utf8(head) {
        Ok(_) => Ok(Encoding::Utf8),
        // Cut in the middle of a character at the end of the head: still UTF-8.
        Err(e) if !complete && e.error_len().is_none() => Ok(Encoding::Utf8),
        Err(_) => Ok(Encoding::Windows1252),
    }
}

/// Transcodes bytes (without their byte-order mark) to UTF-8. Invalid bytes are an error naming the row.
pub fn decode(bytes: &[u8], encoding: Encoding, complete: bool) -> Result<String> {
    let bytes = &bytes[encoding.bom_len().min(bytes.len())..];
    if matches!(encoding, Encoding::Utf8 | Encoding::Utf8Bom) {
        return match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_string()),
            Err(e) if !complete && e.error_len().is_none() => {
                Ok(String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned())
            }
            Err(e) => {
                let row = 1 + bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count() as u64;
                Err(Error::InvalidBytes {
                    file: PathBuf::new(),
                    row,
                    encoding: encoding.name(),
                })
            }
        };
    }
    let mut decoder = encoding.codec().new_decoder_without_bom_handling();
    let mut text = String::with_capacity(bytes.len() + 16);
    text.reserve(
        decoder
            .max_utf8_buffer_length(bytes.len())
            .unwrap_or(bytes.len() * 3),
    );
    let (result, _, had_errors) = decoder.decode_to_string(bytes, &mut text, complete);
    debug_assert_eq!(result, encoding_rs::CoderResult::InputEmpty);
    if had_errors && complete {
        let row = 1 + text
            .split('\u{FFFD}')
            .next()
            .unwrap_or("")
            .matches('\n')
            .count() as u64;
        return Err(Error::InvalidBytes {
            file: PathBuf::new(),
            row,
            encoding: encoding.name(),
        });
    }
    Ok(text)
}

/// Where complete records end in `text`, given the quote character: the byte offset after the last line
/// break outside quotes (or the end, when `complete`), and, if a quote is still open at the end, the
/// 1-based record where it opened.
pub(crate) fn complete_records(text: &str, quote: u8, complete: bool) -> (usize, Option<u64>) {
    let mut in_quotes = false;
    let mut record = 1u64;
    let mut quote_record = 0u64;
    let mut last_break = 0usize;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == quote {
            if !in_quotes {
                quote_record = record;
            }
            in_quotes = !in_quotes;
        } else if !in_quotes && (b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))) {
            record += 1;
            last_break = i + 1;
        }
    }
    let open = in_quotes.then_some(quote_record);
    if complete {
        (bytes.len(), open)
    } else {
        (last_break, open)
    }
}

/// The end of the first record of `bytes` (just after its line break outside quotes), if it is complete.
pub(crate) fn complete_records_first(bytes: &[u8], quote: u8) -> Option<usize> {
    let mut in_quotes = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == quote {
            in_quotes = !in_quotes;
        } else if !in_quotes && (b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))) {
            // A \r at the very end may be the first half of \r\n: not complete yet.
            return (b == b'\n' || i + 1 < bytes.len()).then_some(i + 1);
        }
    }
    None
}

fn detect_line_ending(text: &str) -> LineEnding {
    let crlf = text.matches("\r\n").count();
    let lf = text.matches('\n').count() - crlf;
    let cr = text.matches('\r').count() - crlf;
    if crlf >= lf && crlf >= cr && crlf > 0 {
        LineEnding::CrLf
    } else if cr > lf {
        LineEnding::Cr
    } else {
        LineEnding::Lf
    }
}

/// Splits `text` into records (at most `limit`) with the csv parser; ragged rows are kept as they are.
pub(crate) fn records(text: &str, delimiter: u8, quote: u8, limit: usize) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quote(quote)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for record in reader.records().take(limit) {
        let Ok(record) = record else { break };
        if record.len() == 1 && record.get(0) == Some("") {
            continue; // blank line
        }
        out.push(record.iter().map(str::to_string).collect());
    }
    out
}

fn delimiter_score(text: &str, delimiter: u8, quote: u8) -> (usize, usize) {
    let rows = records(text, delimiter, quote, 200);
    if rows.is_empty() {
        return (0, 0);
    }
    let mut counts = std::collections::HashMap::new();
    for row in &rows {
        *counts.entry(row.len()).or_insert(0usize) += 1;
    }
    let (&fields, &agreeing) = counts
        .iter()
        .max_by_key(|(fields, n)| (**n, **fields))
        .expect("not empty");
    if fields < 2 {
        return (0, 0);
    }
    // Rows agreeing on the field count, in thousandths, then the field count itself.
    (agreeing * 1000 / rows.len(), fields)
}

/// Whether the first row looks like column names rather than data.
///
/// A typed column (numbers, dates, booleans) whose first cell does not fit its type decides: names.
/// A typed column whose first cell fits decides the other way. With only text columns, a first row
/// with no numbers or dates is taken as names. Empty or repeated names do not matter (see `names`).
pub(crate) fn looks_like_header(rows: &[Vec<String>]) -> bool {
    let Some((first, data)) = rows.split_first() else {
        return false;
    };
    let is_text =
        |cell: &str| infer_column(std::iter::once(cell)).column_type == ColumnType::String;
    if first.iter().all(|cell| cell.trim().is_empty()) {
        return false;
    }
    let mut first_row_fits_a_type = false;
    for (i, name) in first.iter().enumerate() {
        let name = name.trim();
        let column_type =
            infer_column(data.iter().filter_map(|row| row.get(i)).map(String::as_str)).column_type;
        if column_type == ColumnType::String || name.is_empty() {
            continue;
        }
        if !value_fits(name, &column_type) {
            return true;
        }
        first_row_fits_a_type = true;
    }
    !first_row_fits_a_type
        && first
            .iter()
            .filter(|c| !c.trim().is_empty())
            .all(|c| is_text(c.trim()))
}

/// Detects the dialect of a file from its first bytes; `complete` says whether they are the whole file.
pub fn sniff(head: &[u8], complete: bool) -> Result<Dialect> {
    let encoding = detect_encoding(head, complete)?;
    let text = decode(head, encoding, complete)?;
    sniff_text(&text, encoding, complete)
}

pub(crate) fn sniff_text(text: &str, encoding: Encoding, complete: bool) -> Result<Dialect> {
    let quote = b'"';
    let (end, _) = complete_records(text, quote, complete);
    let sample = &text[..end];
    let delimiter = DELIMITERS
        .iter()
        .enumerate()
        .map(|(i, d)| (delimiter_score(sample, *d, quote), std::cmp::Reverse(i), *d))
        .max()
        .filter(|(score, _, _)| score.1 >= 2)
        .map(|(_, _, d)| d)
        .unwrap_or(b',');
    let rows = records(sample, delimiter, quote, 1000);
    Ok(Dialect {
        encoding,
        delimiter,
        quote,
        has_header: looks_like_header(&rows),
        line_ending: detect_line_ending(sample),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(detect_encoding(b"a,b\n", true).unwrap(), Encoding::Utf8);
        assert_eq!(
            detect_encoding(b"\xEF\xBB\xBFa,b\n", true).unwrap(),
            Encoding::Utf8Bom
        );
        assert_eq!(
            detect_encoding(b"\xFF\xFEa\x00", true).unwrap(),
            Encoding::Utf16Le
        );
        assert_eq!(
            detect_encoding(b"caf\xE9,1\n", true).unwrap(),
            Encoding::Windows1252
        );
        assert_eq!(
            detect_encoding(b"caf\xC3", false).unwrap(),
            Encoding::Utf8,
            "a character cut at the end of the head"
        );
        assert!(matches!(
            detect_encoding(b"PK\x03\x04\x00\x00", true),
            Err(Error::Binary { offset: 4, .. })
        ));
        assert_eq!(
            decode(b"caf\xE9", Encoding::Windows1252, true).unwrap(),
            "café"
        );
        assert_eq!(
            decode(b"\xFF\xFEh\x00i\x00", Encoding::Utf16Le, true).unwrap(),
            "hi"
        );
        assert!(matches!(
            decode(b"a\nb\xFF", Encoding::Utf8, true),
            Err(Error::InvalidBytes { row: 2, .. })
        ));
    }

    #[test]
    fn delimiters_headers_and_line_endings() {
        let d = sniff(b"name;amount\r\nAnna;1,5\r\nBo;2\r\n", true).unwrap();
        assert_eq!(
            (d.delimiter, d.has_header, d.line_ending),
            (b';', true, LineEnding::CrLf)
        );
        let d = sniff(b"1\t2\t3\n4\t5\t6\n", true).unwrap();
        assert_eq!((d.delimiter, d.has_header), (b'\t', false));
        let d = sniff(b"a|b\n\"x|y\"|2\n", true).unwrap();
        assert_eq!(d.delimiter, b'|');
        let d = sniff(b"\"a, b\",c\n\"1,2\",3\n", true).unwrap();
        assert_eq!(d.delimiter, b',');
    }

    #[test]
    fn records_end_outside_quotes() {
        assert_eq!(complete_records("a,\"b\nc\"\nd,e", b'"', false), (8, None));
        assert_eq!(complete_records("a,\"b\nc", b'"', true), (6, Some(1)));
    }
}
