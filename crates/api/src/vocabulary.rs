//! The words every layer shares: how a version is written ([`Mode`]), which dataset ([`DatasetId`]), and
//! how a person names one ([`DatasetRef`]). Each is parsed from text here and nowhere else; on the wire
//! they are the same strings as ever (`"create"`, `"ds0123…"`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Text that is not what it should be: what it should have been, and what was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    what: &'static str,
    given: String,
    expected: &'static str,
}

impl ParseError {
    /// What was being parsed (`mode`, `dataset id`, `dataset`).
    pub fn what(&self) -> &'static str {
        self.what
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?} is not {}", self.what, self.given, self.expected)
    }
}

impl std::error::Error for ParseError {}

/// How an upload's files become a version: a new dataset, more rows, or new rows in place of the old.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Mode {
    /// A new dataset (version 0); refused if one of that name exists.
    #[default]
    Create,
    /// More rows for an existing dataset with the same columns.
    Append,
    /// New rows (and columns) replacing every old row of an existing dataset.
    Overwrite,
}

impl Mode {
    /// Every mode, in the order people are offered them.
    pub const ALL: [Mode; 3] = [Mode::Create, Mode::Append, Mode::Overwrite];

    /// `create`, `append` or `overwrite`: the name on the wire, in journals and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Create => "create",
            Mode::Append => "append",
            Mode::Overwrite => "overwrite",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Mode, ParseError> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str() == text)
            .ok_or_else(|| ParseError {
                what: "mode",
                given: text.to_string(),
                expected: "one of create, append, overwrite",
            })
    }
}

/// A dataset's id: `ds` and 20 lowercase hex digits (80 random bits), as the backend makes them. Only
/// such text becomes one, so an id can go into a storage key or a path as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub struct DatasetId(String);

impl DatasetId {
    /// The prefix of every dataset id.
    pub const PREFIX: &'static str = "ds";
    /// Hex digits after the prefix.
    pub const DIGITS: usize = 20;

    /// Whether `text` is a dataset id (the one rule).
    pub fn is_valid(text: &str) -> bool {
        text.len() == Self::PREFIX.len() + Self::DIGITS
            && text.starts_with(Self::PREFIX)
            && text[Self::PREFIX.len()..]
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    /// A new id from 10 random bytes (the backend's); `None` unless there are exactly 10.
    pub fn from_random(bytes: &[u8]) -> Option<DatasetId> {
        (bytes.len() * 2 == Self::DIGITS).then(|| {
            let mut text = String::from(Self::PREFIX);
            for b in bytes {
                text.push_str(&format!("{b:02x}"));
            }
            DatasetId(text)
        })
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DatasetId {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<DatasetId, ParseError> {
        if DatasetId::is_valid(text) {
            Ok(DatasetId(text.to_string()))
        } else {
            Err(ParseError {
                what: "dataset id",
                given: text.to_string(),
                expected: "\"ds\" followed by 20 lowercase hex digits",
            })
        }
    }
}

impl TryFrom<String> for DatasetId {
    type Error = ParseError;

    fn try_from(text: String) -> Result<DatasetId, ParseError> {
        text.parse()
    }
}

impl From<DatasetId> for String {
    fn from(id: DatasetId) -> String {
        id.0
    }
}

impl AsRef<str> for DatasetId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A dataset as a person names it: by id, or by name. Text that is an id is the id (names that look
/// like ids cannot be reached by name; the backend never gives a dataset such a name by itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DatasetRef {
    /// By id.
    Id(DatasetId),
    /// By name (exact, as listed).
    Name(String),
}

impl fmt::Display for DatasetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetRef::Id(id) => id.fmt(f),
            DatasetRef::Name(name) => f.write_str(name),
        }
    }
}

impl FromStr for DatasetRef {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<DatasetRef, ParseError> {
        if let Ok(id) = text.parse() {
            return Ok(DatasetRef::Id(id));
        }
        if text.trim().is_empty() {
            return Err(ParseError {
                what: "dataset",
                given: text.to_string(),
                expected: "a dataset's id or name",
            });
        }
        Ok(DatasetRef::Name(text.to_string()))
    }
}

impl From<DatasetId> for DatasetRef {
    fn from(id: DatasetId) -> DatasetRef {
        DatasetRef::Id(id)
    }
}

/// A recipient's name, as its owner calls a colleague: 1 to 100 characters, no control characters, no
/// `/`, trimmed; `link` is the reserved name of a dataset's link recipient (whoever holds its snippet).
/// Unique per owner, exactly as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub struct RecipientName(String);

impl RecipientName {
    /// The reserved name of a dataset's link recipient.
    pub const LINK: &'static str = "link";
    /// Longest name, in characters.
    pub const MAX_CHARS: usize = 100;

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The link recipient's name (shown where a read came through a dataset's snippet).
    pub fn link() -> RecipientName {
        RecipientName(Self::LINK.to_string())
    }

    /// Whether this is the link recipient's name.
    pub fn is_link(&self) -> bool {
        self.0 == Self::LINK
    }
}

impl fmt::Display for RecipientName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RecipientName {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<RecipientName, ParseError> {
        let name = text.trim();
        let error = |expected| ParseError {
            what: "recipient name",
            given: text.to_string(),
            expected,
        };
        if name.is_empty() || name.chars().count() > Self::MAX_CHARS {
            return Err(error("1 to 100 characters"));
        }
        if name.chars().any(|c| c.is_control() || c == '/') {
            return Err(error("free of control characters and '/'"));
        }
        Ok(RecipientName(name.to_string()))
    }
}

impl TryFrom<String> for RecipientName {
    type Error = ParseError;

    fn try_from(text: String) -> Result<RecipientName, ParseError> {
        text.parse()
    }
}

impl From<RecipientName> for String {
    fn from(name: RecipientName) -> String {
        name.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_names_are_trimmed_bounded_and_plain() {
        let name: RecipientName = "  Zoë Müller ".parse().unwrap();
        assert_eq!(name.as_str(), "Zoë Müller");
        for bad in ["", "   ", "a/b", "tab\there", &"x".repeat(101)] {
            assert!(bad.parse::<RecipientName>().is_err(), "{bad:?}");
        }
        assert!(RecipientName::link().is_link());
        assert!(serde_json::from_str::<RecipientName>("\"\"").is_err());
    }

    #[test]
    fn modes_parse_print_and_travel_as_their_lowercase_names() {
        for mode in Mode::ALL {
            assert_eq!(mode.to_string().parse::<Mode>(), Ok(mode));
            assert_eq!(
                serde_json::to_value(mode).unwrap(),
                serde_json::json!(mode.as_str())
            );
        }
        assert_eq!("append".parse(), Ok(Mode::Append));
        let e = "Append".parse::<Mode>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "mode \"Append\" is not one of create, append, overwrite"
        );
        assert_eq!(e.what(), "mode");
        assert!(serde_json::from_str::<Mode>("\"replace\"").is_err());
        assert_eq!(
            serde_json::from_str::<Mode>("\"overwrite\"").unwrap(),
            Mode::Overwrite
        );
        let request: crate::ProcessRequest =
            serde_json::from_str(r#"{"uploadId": "up1", "mode": "create"}"#).unwrap();
        assert_eq!(request.mode, Mode::Create);
        assert_eq!(
            serde_json::to_value(&request).unwrap()["mode"],
            serde_json::json!("create")
        );
    }

    #[test]
    fn a_dataset_id_is_ds_and_twenty_lowercase_hex_digits() {
        let id: DatasetId = "ds0123456789abcdef0123".parse().unwrap();
        assert_eq!(id.as_str(), "ds0123456789abcdef0123");
        assert_eq!(id.to_string(), "ds0123456789abcdef0123");
        for bad in [
            "",
            "ds",
            "ds0123456789abcdef012",   // 19 digits
            "ds0123456789abcdef01234", // 21
            "ds0123456789ABCDEF0123",  // uppercase
            "dx0123456789abcdef0123",
            "ds0123456789abcdef012g",
            "ds/../../etc/passwd/xx",
        ] {
            let e = bad.parse::<DatasetId>().unwrap_err();
            assert!(e.to_string().contains("20 lowercase hex digits"), "{e}");
        }
        assert_eq!(
            serde_json::from_str::<DatasetId>("\"ds0123456789abcdef0123\"").unwrap(),
            id
        );
        assert!(serde_json::from_str::<DatasetId>("\"ds1\"").is_err());
        assert_eq!(
            DatasetId::from_random(&[0xab; 10]).unwrap().as_str(),
            "dsabababababababababab"
        );
        assert!(DatasetId::from_random(&[1; 9]).is_none());
    }

    #[test]
    fn a_reference_is_an_id_when_it_is_one_else_a_name() {
        let id = "ds0123456789abcdef0123";
        assert_eq!(
            id.parse::<DatasetRef>().unwrap(),
            DatasetRef::Id(id.parse().unwrap())
        );
        for name in ["sales", "Q3 sales", "ds1", "DS0123456789ABCDEF0123"] {
            assert_eq!(
                name.parse::<DatasetRef>().unwrap(),
                DatasetRef::Name(name.into())
            );
            assert_eq!(name.parse::<DatasetRef>().unwrap().to_string(), name);
        }
        for empty in ["", "  "] {
            let e = empty.parse::<DatasetRef>().unwrap_err();
            assert_eq!(e.what(), "dataset");
        }
    }
}
