//! Values that arrive typed, from workbooks and JSON, on their way to the same columns as CSV fields.
//!
//! A CSV field is text, and [`crate::infer`] decides what it is. A workbook cell or a JSON value often
//! says what it is already: a number, a date, a boolean, or text that must stay text (an Excel cell
//! holding `00123` as text is a code, not a number). [`Cell`] keeps that, [`infer_cells`] chooses a
//! column's type from a sample of cells by a small lattice (int64 and float64 make float64, date and
//! timestamp make timestamp, any other mix makes string), and [`Cell::text`] writes a cell as text
//! when its column is text (numbers in their shortest form, dates and times in ISO 8601).

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate};

use crate::infer::{ColumnType, DateOrder, Inference, infer_column_with};

/// One value of a row that does not come from CSV text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// Empty, `null`, or an error value.
    Null,
    /// A whole number.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A calendar date: days since 1970-01-01.
    Date(i32),
    /// An instant: microseconds since 1970-01-01 UTC (times without a zone are taken as UTC).
    Timestamp(i64),
    /// Text that stays text whatever it looks like (a workbook's text cell, JSON kept as text).
    Text(String),
    /// Text typed by the CSV rules (a JSON string: `"2024-01-05"` is a date).
    Raw(String),
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

impl Cell {
    /// The cell as text, as a text column holds it; `None` for a null.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Cell::Null => None,
            Cell::Int(v) => Some(v.to_string().into()),
            Cell::Float(v) => Some(v.to_string().into()),
            Cell::Bool(v) => Some(if *v { "true" } else { "false" }.into()),
            Cell::Date(days) => Some(date_text(*days).into()),
            Cell::Timestamp(micros) => Some(timestamp_text(*micros).into()),
            Cell::Text(s) | Cell::Raw(s) if s.is_empty() => None,
            Cell::Text(s) | Cell::Raw(s) => Some(Cow::Borrowed(s)),
        }
    }

    /// A whole float that fits an int64 is that int64.
    pub(crate) fn whole(value: f64) -> Option<i64> {
        (value.fract() == 0.0 && value.abs() < 9.007_199_254_740_992e15).then_some(value as i64)
    }

    /// The type this value alone asks for, if it asks for one (`None` for a null or raw text).
    fn kind(&self) -> Option<ColumnType> {
        match self {
            Cell::Null | Cell::Raw(_) => None,
            Cell::Text(s) if s.is_empty() => None,
            Cell::Int(_) => Some(ColumnType::Int64),
            Cell::Float(_) => Some(ColumnType::Float64 {
                decimal_comma: false,
            }),
            Cell::Bool(_) => Some(ColumnType::Boolean),
            Cell::Date(_) => Some(ColumnType::Date {
                order: DateOrder::Ymd,
            }),
            Cell::Timestamp(_) => Some(ColumnType::Timestamp),
            Cell::Text(_) => Some(ColumnType::String),
        }
    }

    /// The type a column of type `column` must become to hold this value (it does not fit as it is).
    pub(crate) fn widened(&self, column: &ColumnType) -> ColumnType {
        match self {
            Cell::Raw(s) => column.widen(s.trim(), false),
            other => match other.kind() {
                Some(kind) => join(column, &kind),
                None => column.clone(),
            },
        }
    }
}

/// The narrowest type holding values of both types.
pub(crate) fn join(a: &ColumnType, b: &ColumnType) -> ColumnType {
    use ColumnType::*;
    match (a, b) {
        _ if a == b => a.clone(),
        (Int64, Float64 { .. }) | (Float64 { .. }, Int64) => Float64 {
            decimal_comma: false,
        },
        (Date { .. }, Timestamp) | (Timestamp, Date { .. }) => Timestamp,
        (Date { .. }, Date { .. }) => a.clone(),
        _ => String,
    }
}

/// Infers a column's type from a sample of its cells.
pub(crate) fn infer_cells<'a>(cells: impl Iterator<Item = &'a Cell> + Clone) -> Inference {
    let mut typed: Option<ColumnType> = None;
    let mut nulls = 0;
    let mut raw = false;
    for cell in cells.clone() {
        match cell {
            Cell::Raw(s) if !s.trim().is_empty() => raw = true,
            other => match other.kind() {
                Some(kind) => typed = Some(typed.map_or(kind.clone(), |t| join(&t, &kind))),
                None => nulls += 1,
            },
        }
    }
    if !raw {
        return Inference {
            column_type: typed.unwrap_or(ColumnType::String),
            ambiguous_dates: false,
            nulls,
        };
    }
    let texts = cells.filter_map(|c| match c {
        Cell::Raw(s) => Some(s.as_str()),
        _ => None,
    });
    let inferred = infer_column_with(texts, false);
    let column_type = match typed {
        None => inferred.column_type,
        Some(t) => join(&t, &inferred.column_type),
    };
    Inference {
        ambiguous_dates: inferred.ambiguous_dates && column_type == ColumnType::String,
        nulls: nulls + inferred.nulls,
        column_type,
    }
}

/// `2024-01-05`.
pub(crate) fn date_text(days: i32) -> String {
    NaiveDate::from_num_days_from_ce_opt(days + 719_163)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| days.to_string())
}

/// `2024-01-05 10:30:00`, with a fraction only when there is one.
pub(crate) fn timestamp_text(micros: i64) -> String {
    match DateTime::from_timestamp_micros(micros) {
        Some(t) if micros % 1_000_000 == 0 => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        None => micros.to_string(),
    }
}

/// Days since 1970-01-01 of a timestamp at midnight, if it is at midnight.
pub(crate) fn midnight_days(micros: i64) -> Option<i32> {
    (micros % MICROS_PER_DAY == 0).then_some((micros / MICROS_PER_DAY) as i32)
}

/// Microseconds of midnight of a date.
pub(crate) fn date_micros(days: i32) -> i64 {
    i64::from(days) * MICROS_PER_DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inferred(cells: &[Cell]) -> ColumnType {
        infer_cells(cells.iter()).column_type
    }

    #[test]
    fn typed_cells_choose_their_column_by_the_lattice() {
        use Cell::*;
        assert_eq!(inferred(&[Int(1), Null, Int(2)]), ColumnType::Int64);
        assert_eq!(
            inferred(&[Int(1), Float(1.5)]),
            ColumnType::Float64 {
                decimal_comma: false
            }
        );
        assert_eq!(inferred(&[Date(1), Timestamp(5)]), ColumnType::Timestamp);
        assert_eq!(inferred(&[Int(1), Text("a".into())]), ColumnType::String);
        // Numbers stored as text stay text.
        assert_eq!(inferred(&[Text("123".into())]), ColumnType::String);
        // Raw text is typed as a CSV field would be, and joins the typed cells.
        assert_eq!(inferred(&[Raw("12".into()), Int(3)]), ColumnType::Int64);
        assert_eq!(
            inferred(&[Raw("2024-01-05".into())]),
            ColumnType::Date {
                order: DateOrder::Ymd
            }
        );
        assert_eq!(inferred(&[Raw("007".into())]), ColumnType::String);
        assert_eq!(inferred(&[Null, Null]), ColumnType::String);
    }

    #[test]
    fn cells_as_text() {
        assert_eq!(Cell::Float(12.0).text().as_deref(), Some("12"));
        assert_eq!(Cell::Float(12.5).text().as_deref(), Some("12.5"));
        assert_eq!(Cell::Date(19727).text().as_deref(), Some("2024-01-05"));
        assert_eq!(
            Cell::Timestamp(date_micros(19727) + 37_800_000_000)
                .text()
                .as_deref(),
            Some("2024-01-05 10:30:00")
        );
        assert_eq!(Cell::Text(String::new()).text(), None);
    }
}
