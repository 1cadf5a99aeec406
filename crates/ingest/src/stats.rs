//! Delta `stats` for a data file, from the column statistics its Parquet writer kept: `numRecords`, and
//! per column `minValues`, `maxValues` and `nullCount`, in the forms Delta readers expect (dates as
//! `YYYY-MM-DD`, timestamps as UTC milliseconds). A value that could mislead a reader is left out: a
//! string maximum longer than 32 characters (its prefix would be below the true maximum), NaN, text bounds
//! in Parquet's deprecated `min`/`max` fields (ordered as signed bytes by old writers).

use chrono::DateTime;
use deltalake::arrow::array::{Array, StringArray};
use deltalake::parquet::data_type::ByteArray;
use deltalake::parquet::file::metadata::ParquetMetaData;
use deltalake::parquet::file::statistics::{Statistics, ValueStatistics};
use serde_json::{Map, Value, json};

use crate::infer::ColumnType;
use crate::preview::Column;

/// Longest string statistic kept; a longer max is left out (a prefix would be below the true max).
const STRING_STAT_CHARS: usize = 32;

/// Longest text bound kept in a Parquet column chunk's statistics (Parquet's own default): a longer
/// minimum is cut to a prefix (still a lower bound), a longer maximum is left out.
const PARQUET_STAT_BYTES: usize = 64;

/// The smallest and largest value and the null count of a text column, as the writer sees its
/// batches. Values are compared by their first eight bytes as one number, and byte by byte only
/// when those are equal: the order is the same (bytes, as Parquet orders UTF-8) and most values
/// are settled without a call to `memcmp`.
#[derive(Debug, Default)]
pub(crate) struct TextBounds {
    min: Option<String>,
    max: Option<String>,
    nulls: u64,
}

impl TextBounds {
    pub(crate) fn add(&mut self, values: &StringArray) {
        self.nulls += values.null_count() as u64;
        let (data, offsets) = (values.value_data(), values.value_offsets());
        let value = |i: usize| &data[offsets[i] as usize..offsets[i + 1] as usize];
        let mut indices = (0..values.len()).filter(|&i| values.is_valid(i));
        let Some(first) = indices.next() else {
            return;
        };
        let (mut min, mut max) = (first, first);
        let (mut min_key, mut max_key) = (
            order_key(data, offsets, first),
            order_key(data, offsets, first),
        );
        for i in indices {
            let key = order_key(data, offsets, i);
            // Keys order values of up to eight bytes exactly (their length is in the key);
            // longer ones with equal keys are compared byte by byte.
            let long = key & 0xF > 8;
            if key < min_key || (key == min_key && long && value(i) < value(min)) {
                (min, min_key) = (i, key);
            }
            if key > max_key || (key == max_key && long && value(i) > value(max)) {
                (max, max_key) = (i, key);
            }
        }
        let (min, max) = (values.value(min), values.value(max));
        if self.min.as_deref().is_none_or(|m| min < m) {
            self.min = Some(min.to_string());
        }
        if self.max.as_deref().is_none_or(|m| max > m) {
            self.max = Some(max.to_string());
        }
    }

    /// The Parquet statistics of the column chunk.
    pub(crate) fn statistics(&self) -> Statistics {
        let min = self.min.as_deref().map(|m| {
            let mut end = m.len().min(PARQUET_STAT_BYTES);
            while !m.is_char_boundary(end) {
                end -= 1;
            }
            (ByteArray::from(&m.as_bytes()[..end]), end == m.len())
        });
        let max = self
            .max
            .as_deref()
            .filter(|m| m.len() <= PARQUET_STAT_BYTES)
            .map(|m| ByteArray::from(m.as_bytes()));
        let exact_min = min.as_ref().is_some_and(|(_, exact)| *exact);
        Statistics::ByteArray(
            ValueStatistics::new(min.map(|(m, _)| m), max, None, Some(self.nulls), false)
                .with_min_is_exact(exact_min),
        )
    }
}

/// The order key of value `i` of an array: its first eight bytes as a big-endian number (zeros
/// after a shorter value), then its length up to 9 in the low bits. Read straight from the
/// array's buffer where eight bytes remain.
#[inline(always)]
fn order_key(data: &[u8], offsets: &[i32], i: usize) -> u128 {
    let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
    let len = end - start;
    let head = match data.get(start..).and_then(|rest| rest.first_chunk::<8>()) {
        Some(word) if len >= 8 => u64::from_be_bytes(*word),
        Some(word) => u64::from_be_bytes(*word) & !(u64::MAX >> (8 * len)),
        None => prefix(&data[start..end]),
    };
    u128::from(head) << 8 | len.min(9) as u128
}

/// The first eight bytes of `value` as a big-endian number, zeros after a shorter value: if one
/// value's number is smaller, so is the value.
fn prefix(value: &[u8]) -> u64 {
    match value.first_chunk::<8>() {
        Some(head) => u64::from_be_bytes(*head),
        None => value
            .iter()
            .enumerate()
            .fold(0, |key, (i, &b)| key | u64::from(b) << (56 - 8 * i)),
    }
}

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
                days.and_then(|d| crate::footer::date(*d))
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
        // Text bounds in the deprecated fields were ordered as signed bytes, wrongly for UTF-8.
        (Statistics::ByteArray(_), ColumnType::String) if statistics.is_min_max_deprecated() => {
            (None, None)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bounds_order_values_as_bytes() {
        let values = [
            "b",
            "ab",
            "a",
            "abcdefgh",
            "abcdefgha",
            "abcdefg",
            "abcdefgh\u{0}",
            "é",
            "z",
            "Z",
            "",
            "\u{0}",
            "zzzzzzzzzzz",
            "zzzzzzzzzz",
        ];
        let mut bounds = TextBounds::default();
        // In two batches, with nulls, in every rotation of the order.
        for turn in 0..values.len() {
            let mut rotated = values.to_vec();
            rotated.rotate_left(turn);
            let (a, b) = rotated.split_at(5);
            let mut one = TextBounds::default();
            for batch in [a, b] {
                let array: StringArray = batch.iter().map(|v| Some(*v)).chain([None]).collect();
                one.add(&array);
            }
            assert_eq!(one.min.as_deref(), Some(""));
            assert_eq!(one.max.as_deref(), Some("é"));
            assert_eq!(one.nulls, 2);
            bounds = one;
        }
        let Statistics::ByteArray(s) = bounds.statistics() else {
            panic!("byte array statistics");
        };
        assert_eq!(s.min_opt().map(|b| b.data()), Some(&b""[..]));
        assert_eq!(s.max_opt().map(|b| b.data()), Some("é".as_bytes()));
        assert_eq!(s.null_count_opt(), Some(2));
        for a in values {
            for b in values {
                let (x, y) = (a.as_bytes(), b.as_bytes());
                assert_eq!(
                    prefix(x).cmp(&prefix(y)).then(a.cmp(b)),
                    a.cmp(b),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn text_bounds_agree_with_sorting() {
        let mut next = crate::testing::draws(5);
        for _ in 0..2000 {
            let values: Vec<Option<String>> = (0..1 + next(12))
                .map(|_| {
                    (next(8) > 0).then(|| {
                        // Half share their first eight bytes, so that keys tie.
                        let shared = ["", "abcdefgh"][next(2)];
                        (0..next(12)).fold(shared.to_string(), |mut v, _| {
                            v.push_str(["a", "b", "é", "\u{0}", "ab"][next(5)]);
                            v
                        })
                    })
                })
                .collect();
            let mut bounds = TextBounds::default();
            bounds.add(&values.iter().map(|v| v.as_deref()).collect::<StringArray>());
            let present = values.iter().flatten();
            assert_eq!(bounds.min.as_ref(), present.clone().min(), "{values:?}");
            assert_eq!(bounds.max.as_ref(), present.max(), "{values:?}");
        }
    }

    #[test]
    fn long_text_bounds_are_cut_or_left_out() {
        let mut bounds = TextBounds::default();
        let long_min = format!("a{}", "é".repeat(40));
        let long_max = format!("z{}", "x".repeat(80));
        bounds.add(&StringArray::from(vec![
            long_min.as_str(),
            long_max.as_str(),
        ]));
        let Statistics::ByteArray(s) = bounds.statistics() else {
            panic!("byte array statistics");
        };
        let min = s
            .min_opt()
            .expect("a minimum")
            .as_utf8()
            .expect("whole characters");
        assert!(min.len() <= 64 && long_min.starts_with(min));
        assert!(!s.min_is_exact());
        assert!(s.max_opt().is_none());
    }
}
