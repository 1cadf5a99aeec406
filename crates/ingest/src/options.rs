//! Read options as people write them: the CLI's flags and the app's edits of a preview are the same
//! text ([`ReadText`]), parsed here into [`Options`] by one set of rules.
//!
//! - delimiter: one ASCII character, or a tab written `tab`, as the tab character itself, or as the two
//!   characters `\t` (what a shell passes for `--delimiter '\t'`); empty means "detect";
//! - encoding: a name [`Encoding::from_name`] knows; empty means "detect";
//! - quote: one ASCII character;
//! - column types and names by 0-based position, or `N=TYPE` and `N=NAME` with a 1-based `N`
//!   ([`column_spec`]); a type is a name [`ColumnType::from_name`] knows.

use serde::{Deserialize, Serialize};

use crate::infer::ColumnType;
use crate::preview::Options;
use crate::sniff::Encoding;

/// Read options that are not ones: says which and why (nothing about a file: none was read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OptionError(String);

/// The types a column may be given, as listed in messages.
const TYPE_NAMES: &str =
    "int64, float64, float64:comma, boolean, date, date:dmy, date:mdy, timestamp, string";
/// The encodings, as listed in messages.
const ENCODING_NAMES: &str = "utf-8, utf-8-bom, utf-16le, utf-16be, windows-1252";

/// Overrides of what is detected, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReadText {
    /// Column names by 0-based position.
    #[serde(default)]
    pub names: Vec<(usize, String)>,
    /// Column types by 0-based position (`int64`, `date:dmy`, ...).
    #[serde(default)]
    pub types: Vec<(usize, String)>,
    /// The delimiter (`;`, `tab`, `\t`).
    #[serde(default)]
    pub delimiter: Option<String>,
    /// The encoding (`windows-1252`).
    #[serde(default)]
    pub encoding: Option<String>,
    /// The quote character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// Whether the first row holds column names.
    #[serde(default)]
    pub has_header: Option<bool>,
    /// A workbook's sheet: its name or its 1-based position (default: the first visible one with data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
}

impl ReadText {
    /// The options these overrides make, reading at most `rows` rows in a preview.
    pub fn options(&self, rows: Option<usize>) -> Result<Options, OptionError> {
        let types = self
            .types
            .iter()
            .map(|(i, name)| {
                ColumnType::from_name(name.trim())
                    .map(|t| (*i, t))
                    .ok_or_else(|| {
                        OptionError(format!(
                            "column {}: unknown type {name:?}; use one of {TYPE_NAMES}",
                            i + 1
                        ))
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Options {
            rows,
            encoding: self
                .encoding
                .as_deref()
                .map(encoding)
                .transpose()?
                .flatten(),
            delimiter: self
                .delimiter
                .as_deref()
                .map(delimiter)
                .transpose()?
                .flatten(),
            quote: self.quote.as_deref().map(quote).transpose()?.flatten(),
            has_header: self.has_header,
            names: self.names.clone(),
            types,
            sheet: self.sheet.clone().filter(|s| !s.trim().is_empty()),
        })
    }
}

/// A delimiter as written: empty (detect), `tab`, a tab, `\t`, or one ASCII character.
pub fn delimiter(text: &str) -> Result<Option<u8>, OptionError> {
    match text {
        "" => Ok(None),
        "\t" | "\\t" => Ok(Some(b'\t')),
        _ if text.eq_ignore_ascii_case("tab") => Ok(Some(b'\t')),
        _ => one_ascii(text).map(Some).ok_or_else(|| {
            OptionError(format!(
                "the delimiter must be one character or tab, not {text:?}"
            ))
        }),
    }
}

/// An encoding as written: empty (detect) or a name.
pub fn encoding(text: &str) -> Result<Option<Encoding>, OptionError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    Encoding::from_name(text)
        .map(Some)
        .ok_or_else(|| OptionError(format!("unknown encoding {text:?}; use {ENCODING_NAMES}")))
}

/// A quote character as written: empty (the default `"`) or one ASCII character.
pub fn quote(text: &str) -> Result<Option<u8>, OptionError> {
    if text.is_empty() {
        return Ok(None);
    }
    one_ascii(text).map(Some).ok_or_else(|| {
        OptionError(format!(
            "the quote must be one ASCII character, not {text:?}"
        ))
    })
}

fn one_ascii(text: &str) -> Option<u8> {
    match text.as_bytes() {
        [b] if b.is_ascii() => Some(*b),
        _ => None,
    }
}

/// `N=VALUE` with a 1-based column number: the 0-based position and the value.
pub fn column_spec(spec: &str) -> Result<(usize, &str), OptionError> {
    let (index, value) = spec
        .split_once('=')
        .ok_or_else(|| OptionError(format!("{spec:?}: expected N=VALUE")))?;
    let index: usize = index
        .trim()
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| OptionError(format!("{spec:?}: N is a column number from 1")))?;
    Ok((index - 1, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tab_is_written_tab_as_a_tab_or_as_backslash_t() {
        for text in ["tab", "TAB", "\t", "\\t"] {
            assert_eq!(delimiter(text), Ok(Some(b'\t')), "{text:?}");
        }
        assert_eq!(delimiter(";"), Ok(Some(b';')));
        assert_eq!(delimiter(""), Ok(None));
        for bad in [";;", "é", "\\n"] {
            let e = delimiter(bad).unwrap_err().to_string();
            assert!(e.contains("one character or tab"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_cli_and_the_app_write_the_same_options() {
        // What the app sends (0-based positions, JSON) and what the CLI's flags make (1-based N=...).
        let app: ReadText = serde_json::from_value(serde_json::json!({
            "names": [[0, "postcode"]], "types": [[0, "string"], [2, "date:dmy"]],
            "delimiter": "\\t", "encoding": "windows-1252", "hasHeader": true
        }))
        .unwrap();
        let (i, t) = column_spec("1=string").unwrap();
        let (j, u) = column_spec("3=date:dmy").unwrap();
        let (k, n) = column_spec("1=postcode").unwrap();
        let cli = ReadText {
            names: vec![(k, n.into())],
            types: vec![(i, t.into()), (j, u.into())],
            delimiter: Some("tab".into()),
            encoding: Some("windows-1252".into()),
            quote: None,
            has_header: Some(true),
            sheet: None,
        };
        let options = app.options(Some(10)).unwrap();
        assert_eq!(
            format!("{options:?}"),
            format!("{:?}", cli.options(Some(10)).unwrap())
        );
        assert_eq!(options.delimiter, Some(b'\t'));
        assert_eq!(options.encoding, Some(Encoding::Windows1252));
        assert_eq!(options.names, vec![(0, "postcode".to_string())]);
        assert_eq!(options.types[0], (0, ColumnType::String));
        assert_eq!(options.has_header, Some(true));
    }

    #[test]
    fn bad_options_say_which_and_what_is_allowed() {
        let bad = ReadText {
            types: vec![(1, "uuid".into())],
            ..Default::default()
        };
        let e = bad.options(None).unwrap_err().to_string();
        assert!(
            e.contains("column 2") && e.contains("uuid") && e.contains("int64"),
            "{e}"
        );
        let e = encoding("ebcdic").unwrap_err().to_string();
        assert!(e.contains("ebcdic") && e.contains("windows-1252"), "{e}");
        assert_eq!(encoding(""), Ok(None));
        assert_eq!(quote("'"), Ok(Some(b'\'')));
        assert!(quote("«").is_err());
        assert!(
            column_spec("0=string")
                .unwrap_err()
                .to_string()
                .contains("from 1")
        );
        assert!(
            column_spec("string")
                .unwrap_err()
                .to_string()
                .contains("N=VALUE")
        );
    }
}
