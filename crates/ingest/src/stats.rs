//! Delta `stats` for a data file, from the column statistics its Parquet writer kept: `numRecords`, and
//! per column `minValues`, `maxValues` and `nullCount`, in the forms Delta readers expect (dates as
//! `YYYY-MM-DD`, timestamps as UTC milliseconds). A value that could mislead a reader is left out: a
//! string maximum longer than 32 characters (its prefix would be below the true maximum), NaN.

use chrono::{DateTime, NaiveDate};
use deltalake::parquet::file::metadata::ParquetMetaData;
use deltalake::parquet::file::statistics::Statistics;
use serde_json::{Map, Value, json};

use crate::infer::ColumnType;
use crate::preview::Column;

/// Longest string statistic kept; a longer max is left out (a prefix would be below the true max).
const STRING_STAT_CHARS: usize = 32;

/// The Delta `stats` JSON of a file, from its Parquet column statistics.
pub(crate) fn file_stats(metadata: &ParquetMetaData, columns: &[Column], rows: u64) -> String {
    let (mut mins, mut maxes, mut nulls) = (Map::new(), Map::new(), Map::new());
    for (i, column) in columns.iter().enumerate() {
        let mut null_count = 0u64;
        let mut min: Option<Value> = None;
        let mut max: Option<Value> = None;
        let mut complete = true;
        for group in metadata.row_groups() {
            let Some(statistics) = group.column(i).statistics() else {
                complete = false;
                continue;
            };
            null_count += statistics.null_count_opt().unwrap_or(0);
            let (lo, hi) = stat_values(statistics, &column.column_type);
            min = pick(min, lo, true);
            max = pick(max, hi, false);
        }
        if !complete {
            continue;
        }
        nulls.insert(column.name.clone(), json!(null_count));
        if let Some(Value::String(s)) = &min
            && s.chars().count() > STRING_STAT_CHARS
        {
            min = Some(Value::String(s.chars().take(STRING_STAT_CHARS).collect()));
        }
        if let Some(Value::String(s)) = &max
            && s.chars().count() > STRING_STAT_CHARS
        {
            max = None;
        }
        if let Some(v) = min {
            mins.insert(column.name.clone(), v);
        }
        if let Some(v) = max {
            maxes.insert(column.name.clone(), v);
        }
    }
    json!({"numRecords": rows, "minValues": mins, "maxValues": maxes, "nullCount": nulls})
        .to_string()
}

fn pick(current: Option<Value>, candidate: Option<Value>, lower: bool) -> Option<Value> {
    let (Some(a), Some(b)) = (&current, &candidate) else {
        return current.or(candidate);
    };
    let b_wins = match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            if lower { y < x } else { y > x }
        }
        (Value::String(x), Value::String(y)) => {
            if lower {
                y < x
            } else {
                y > x
            }
        }
        _ => false,
    };
    if b_wins { candidate } else { current }
}

fn stat_values(
    statistics: &Statistics,
    column_type: &ColumnType,
) -> (Option<Value>, Option<Value>) {
    match (statistics, column_type) {
        (Statistics::Int64(s), ColumnType::Int64) => {
            (s.min_opt().map(|v| json!(v)), s.max_opt().map(|v| json!(v)))
        }
        (Statistics::Double(s), ColumnType::Float64 { .. }) => {
            let finite = |v: Option<&f64>| v.filter(|v| v.is_finite()).map(|v| json!(v));
            (finite(s.min_opt()), finite(s.max_opt()))
        }
        (Statistics::Int32(s), ColumnType::Date { .. }) => {
            let date = |days: Option<&i32>| {
                days.and_then(|d| NaiveDate::from_num_days_from_ce_opt(719_163 + d))
                    .map(|d| json!(d.to_string()))
            };
            (date(s.min_opt()), date(s.max_opt()))
        }
        (Statistics::Int64(s), ColumnType::Timestamp) => {
            // Milliseconds, as Delta writers store them (the max is truncated, and readers allow for it).
            let time = |micros: Option<&i64>| {
                micros
                    .and_then(|m| DateTime::from_timestamp_micros(*m))
                    .map(|t| json!(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()))
            };
            (time(s.min_opt()), time(s.max_opt()))
        }
        (Statistics::ByteArray(s), ColumnType::String) => {
            let text = |v: Option<&deltalake::parquet::data_type::ByteArray>| {
                v.and_then(|b| b.as_utf8().ok()).map(|t| json!(t))
            };
            (text(s.min_opt()), text(s.max_opt()))
        }
        _ => (None, None),
    }
}
