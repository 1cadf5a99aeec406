//! What a data file written by [`crate::convert`] holds, read from its Parquet footer alone: the columns
//! and their types, the row count and the Delta `stats` of its add action. A server that commits files
//! it did not write (the backend) checks an upload this way without reading its data.
//!
//! A footer is held to what [`crate::convert`] writes: column names as [`crate::names`] makes them (not
//! empty, no control characters, at most 255 characters, unique ignoring case), and statistics that
//! fit their column (values of its type, minimum not above maximum, no more nulls than rows), because the
//! Delta schema and the stats a sharing server skips files by are made from them.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate};
use deltalake::arrow::datatypes::{DataType, TimeUnit};
use deltalake::parquet::arrow::parquet_to_arrow_schema;
use deltalake::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use deltalake::parquet::file::statistics::Statistics;

use crate::infer::{ColumnType, DateOrder};
use crate::preview::Column;

/// Bytes at the end of a Parquet file after its footer: the footer length and the magic `PAR1`.
pub const FOOTER_TRAILER: usize = 8;

/// A data file, as its footer describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    /// Columns in file order, with the types this crate writes.
    pub columns: Vec<(String, ColumnType)>,
    /// Rows in the file.
    pub rows: u64,
    /// The Delta `stats` JSON of its add action (`numRecords`, `minValues`, `maxValues`, `nullCount`).
    pub stats: String,
}

/// Why a footer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FooterError {
    /// The bytes do not end like a Parquet file.
    #[error("this is not a Parquet file")]
    NotParquet,
    /// The footer is longer than the bytes given; read this many bytes from the end and try again.
    #[error("the footer needs the last {0} bytes of the file")]
    NeedTail(usize),
    /// The footer does not decode.
    #[error("the Parquet footer is damaged: {0}")]
    Damaged(String),
    /// A column of a type Delta-Bridge does not write (nested, decimal, binary, ...).
    #[error(
        "column {column:?} has type {found}, which is not one of int64, float64, boolean, date, timestamp (UTC, microseconds) or string"
    )]
    Unsupported {
        /// Column name.
        column: String,
        /// Its Arrow type.
        found: String,
    },
    /// A column name [`crate::names`] would not make.
    #[error("column {position} ({name}): {reason}")]
    BadName {
        /// 1-based position of the column.
        position: usize,
        /// The name, quoted and escaped, cut when long.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Column statistics that do not fit the column.
    #[error("column {column:?}: the statistics of row group {row_group} {reason}")]
    BadStatistics {
        /// Column name.
        column: String,
        /// 0-based row group.
        row_group: usize,
        /// What is wrong with them.
        reason: String,
    },
}

/// Reads a data file's footer from `tail`, the last bytes of the file (64 KiB is usually enough; when
/// it is not, [`FooterError::NeedTail`] says how many are needed).
pub fn read_footer(tail: &[u8]) -> Result<DataFile, FooterError> {
    if tail.len() < FOOTER_TRAILER || &tail[tail.len() - 4..] != b"PAR1" {
        return Err(FooterError::NotParquet);
    }
    let length_bytes: [u8; 4] = tail[tail.len() - 8..tail.len() - 4]
        .try_into()
        .expect("four bytes");
    let length = u32::from_le_bytes(length_bytes) as usize;
    let needed = length + FOOTER_TRAILER;
    if tail.len() < needed {
        return Err(FooterError::NeedTail(needed));
    }
    let metadata =
        ParquetMetaDataReader::decode_metadata(&tail[tail.len() - needed..tail.len() - 8])
            .map_err(|e| FooterError::Damaged(e.to_string()))?;
    let file = metadata.file_metadata();
    let schema = parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
        .map_err(|e| FooterError::Damaged(e.to_string()))?;
    if schema.fields().len() != file.schema_descr().num_columns() {
        let nested = schema
            .fields()
            .iter()
            .find(|f| f.data_type().is_nested())
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .unwrap_or_default();
        return Err(FooterError::Unsupported {
            column: nested.0,
            found: nested.1,
        });
    }
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column_type =
                column_type(field.data_type()).ok_or_else(|| FooterError::Unsupported {
                    column: field.name().clone(),
                    found: field.data_type().to_string(),
                })?;
            Ok((field.name().clone(), column_type))
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_names(&columns)?;
    let rows = u64::try_from(file.num_rows())
        .map_err(|_| FooterError::Damaged("negative row count".into()))?;
    check_statistics(&metadata, &columns)?;
    let described: Vec<Column> = columns
        .iter()
        .map(|(name, column_type)| Column {
            name: name.clone(),
            header: name.clone(),
            column_type: column_type.clone(),
            nullable: true,
            ambiguous_dates: false,
            repetitive: false,
        })
        .collect();
    let stats = crate::stats::file_stats(&metadata, &described, rows);
    Ok(DataFile {
        columns,
        rows,
        stats,
    })
}

/// The names must be ones [`crate::names`] could have made.
fn check_names(columns: &[(String, ColumnType)]) -> Result<(), FooterError> {
    use crate::names::{MAX_CHARS, Problem, check};
    let Err((i, problem)) = check(columns.iter().map(|(name, _)| name.as_str())) else {
        return Ok(());
    };
    let reason = match problem {
        Problem::Empty => "the name is empty".to_string(),
        Problem::Control => "the name holds a control character".to_string(),
        Problem::TooLong => format!("the name is longer than {MAX_CHARS} characters"),
        Problem::Repeats(j) => format!(
            "the name equals that of column {} ({}) but for case, and Delta tells names apart ignoring case",
            j + 1,
            shown(&columns[j].0)
        ),
    };
    Err(FooterError::BadName {
        position: i + 1,
        name: shown(&columns[i].0),
        reason,
    })
}

/// A name for a message: quoted, escaped, and cut after 64 characters.
fn shown(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((end, _)) => format!("{:?}…", &name[..end]),
        None => format!("{name:?}"),
    }
}

/// Every row group's statistics must fit their column: no more nulls than rows, bounds that are
/// values of the column's type (UTF-8 text, dates and timestamps in range), the minimum not above the
/// maximum, and no bounds for a column chunk whose values are all null.
fn check_statistics(
    metadata: &ParquetMetaData,
    columns: &[(String, ColumnType)],
) -> Result<(), FooterError> {
    for (g, group) in metadata.row_groups().iter().enumerate() {
        let rows = u64::try_from(group.num_rows())
            .map_err(|_| FooterError::Damaged(format!("row group {g} has a negative row count")))?;
        for (i, (name, column_type)) in columns.iter().enumerate() {
            let Some(statistics) = group.column(i).statistics() else {
                continue;
            };
            let bad = |reason: String| FooterError::BadStatistics {
                column: name.clone(),
                row_group: g,
                reason,
            };
            let nulls = statistics.null_count_opt();
            if let Some(nulls) = nulls
                && nulls > rows
            {
                return Err(bad(format!("count {nulls} nulls in {rows} rows")));
            }
            let bounded =
                statistics.min_bytes_opt().is_some() || statistics.max_bytes_opt().is_some();
            if bounded && nulls == Some(rows) {
                return Err(bad(format!(
                    "give a minimum or maximum, but all {rows} values are null"
                )));
            }
            if bounds_order(statistics, column_type).map_err(bad)? == Some(Ordering::Greater) {
                return Err(bad("have a minimum above their maximum".into()));
            }
        }
    }
    Ok(())
}

/// How a chunk's minimum compares with its maximum (`None` when either is missing or they do not
/// compare, as NaN), or why they are not values of the column's type.
fn bounds_order(
    statistics: &Statistics,
    column_type: &ColumnType,
) -> Result<Option<Ordering>, String> {
    fn order<T: PartialOrd + ?Sized>(min: Option<&T>, max: Option<&T>) -> Option<Ordering> {
        min.zip(max).and_then(|(min, max)| min.partial_cmp(max))
    }
    fn each<T>(
        min: Option<&T>,
        max: Option<&T>,
        fits: impl Fn(&T) -> Result<(), String>,
    ) -> Result<(), String> {
        for (which, value) in [("minimum", min), ("maximum", max)] {
            if let Some(value) = value {
                fits(value).map_err(|why| format!("have a {which} that {why}"))?;
            }
        }
        Ok(())
    }
    match (statistics, column_type) {
        (Statistics::Int64(s), ColumnType::Int64) => Ok(order(s.min_opt(), s.max_opt())),
        (Statistics::Double(s), ColumnType::Float64 { .. }) => Ok(order(s.min_opt(), s.max_opt())),
        (Statistics::Boolean(s), ColumnType::Boolean) => Ok(order(s.min_opt(), s.max_opt())),
        (Statistics::Int32(s), ColumnType::Date { .. }) => {
            each(s.min_opt(), s.max_opt(), |days| match date(*days) {
                Some(_) => Ok(()),
                None => Err(format!("is not a date ({days} days from 1970-01-01)")),
            })?;
            Ok(order(s.min_opt(), s.max_opt()))
        }
        (Statistics::Int64(s), ColumnType::Timestamp) => {
            each(
                s.min_opt(),
                s.max_opt(),
                |micros| match DateTime::from_timestamp_micros(*micros) {
                    Some(_) => Ok(()),
                    None => Err(format!(
                        "is not a timestamp ({micros} microseconds from 1970-01-01)"
                    )),
                },
            )?;
            Ok(order(s.min_opt(), s.max_opt()))
        }
        // Text bounds in the deprecated fields were ordered as signed bytes: they are not used.
        (Statistics::ByteArray(_), ColumnType::String) if statistics.is_min_max_deprecated() => {
            Ok(None)
        }
        (Statistics::ByteArray(s), ColumnType::String) => {
            each(s.min_opt(), s.max_opt(), |text| match text.as_utf8() {
                Ok(_) => Ok(()),
                Err(_) => Err("is not UTF-8 text".into()),
            })?;
            Ok(order(
                s.min_opt().map(|b| b.data()),
                s.max_opt().map(|b| b.data()),
            ))
        }
        _ => Err(format!(
            "are of Parquet type {}, which a {} column is not",
            statistics.physical_type(),
            column_type.delta_name()
        )),
    }
}

/// The date `days` after 1970-01-01, if there is one.
pub(crate) fn date(days: i32) -> Option<NaiveDate> {
    days.checked_add(719_163)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

fn column_type(data_type: &DataType) -> Option<ColumnType> {
    Some(match data_type {
        DataType::Int64 => ColumnType::Int64,
        DataType::Float64 => ColumnType::Float64 {
            decimal_comma: false,
        },
        DataType::Boolean => ColumnType::Boolean,
        DataType::Date32 => ColumnType::Date {
            order: DateOrder::Ymd,
        },
        DataType::Timestamp(TimeUnit::Microsecond, Some(zone))
            if matches!(zone.as_ref(), "UTC" | "+00:00" | "Etc/UTC") =>
        {
            ColumnType::Timestamp
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::String,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use deltalake::arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
        TimestampMicrosecondArray,
    };
    use deltalake::arrow::datatypes::{Field, Schema};
    use deltalake::parquet::arrow::ArrowWriter;
    use deltalake::parquet::data_type::ByteArray;
    use deltalake::parquet::file::metadata::ParquetMetaDataWriter;
    use deltalake::parquet::file::statistics::ValueStatistics;

    use super::*;

    /// A Parquet file of these columns, as `ArrowWriter` writes it (statistics from the values).
    fn parquet(columns: Vec<(&str, ArrayRef)>) -> Vec<u8> {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, values)| Field::new(*name, values.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, values)| values).collect(),
        )
        .unwrap();
        let mut file = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut file, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        file
    }

    fn ints(name: &str) -> (&str, ArrayRef) {
        (
            name,
            Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
        )
    }

    /// The footer of `file` with the statistics of column `column` replaced (as another writer
    /// could have written them).
    fn with_statistics(file: &[u8], column: usize, statistics: Statistics) -> Vec<u8> {
        let length = u32::from_le_bytes(file[file.len() - 8..file.len() - 4].try_into().unwrap());
        let start = file.len() - FOOTER_TRAILER - length as usize;
        let metadata =
            ParquetMetaDataReader::decode_metadata(&file[start..file.len() - FOOTER_TRAILER])
                .unwrap();
        let mut builder = metadata.into_builder();
        let groups = builder
            .take_row_groups()
            .into_iter()
            .map(|group| {
                let chunks = group
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(i, chunk)| match i == column {
                        true => chunk
                            .clone()
                            .into_builder()
                            .set_statistics(statistics.clone())
                            .build()
                            .unwrap(),
                        false => chunk.clone(),
                    })
                    .collect();
                group
                    .into_builder()
                    .set_column_metadata(chunks)
                    .build()
                    .unwrap()
            })
            .collect();
        let metadata = builder.set_row_groups(groups).build();
        let mut footer = b"PAR1".to_vec();
        ParquetMetaDataWriter::new(&mut footer, &metadata)
            .finish()
            .unwrap();
        footer
    }

    fn text(value: &[u8]) -> Option<ByteArray> {
        Some(ByteArray::from(value.to_vec()))
    }

    #[test]
    fn reads_what_a_plain_writer_writes() {
        let file = parquet(vec![
            ints("id"),
            (
                "price",
                Arc::new(Float64Array::from(vec![Some(2.5), Some(-1.0), None])),
            ),
            (
                "ok",
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
            ),
            (
                "day",
                Arc::new(Date32Array::from(vec![Some(19_000), Some(0), None])),
            ),
            (
                "at",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(1_000_000), None, None])
                        .with_timezone("UTC"),
                ),
            ),
            (
                "Prénom",
                Arc::new(StringArray::from(vec![Some("é"), Some("a"), None])),
            ),
        ]);
        let described = read_footer(&file).unwrap();
        assert_eq!(described.rows, 3);
        let names: Vec<&str> = described.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["id", "price", "ok", "day", "at", "Prénom"]);
        let stats: serde_json::Value = serde_json::from_str(&described.stats).unwrap();
        assert_eq!(stats["minValues"]["id"], 1);
        assert_eq!(stats["maxValues"]["id"], 3);
        assert_eq!(stats["minValues"]["day"], "1970-01-01");
        assert_eq!(stats["maxValues"]["Prénom"], "é");
        assert_eq!(stats["nullCount"]["at"], 2);
    }

    #[test]
    fn refuses_names_the_column_rules_would_not_make() {
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (vec!["a", ""], r#"column 2 (""): the name is empty"#),
            (
                vec!["amount", "x", "Amount"],
                r#"column 3 ("Amount"): the name equals that of column 1 ("amount") but for case"#,
            ),
            (
                vec!["a\nb"],
                r#"column 1 ("a\nb"): the name holds a control character"#,
            ),
            (
                vec!["tab\there"],
                r#"column 1 ("tab\there"): the name holds a control character"#,
            ),
        ];
        for (names, message) in cases {
            let file = parquet(names.iter().map(|name| ints(name)).collect());
            let error = read_footer(&file).unwrap_err();
            assert!(matches!(error, FooterError::BadName { .. }), "{error:?}");
            assert!(error.to_string().starts_with(message), "{error}");
        }
        // A long name is refused, and the message shows only its start.
        let long = "x".repeat(100_000);
        let file = parquet(vec![ints("ok"), ints(&long)]);
        let message = read_footer(&file).unwrap_err().to_string();
        assert!(message.starts_with("column 2 (\"xxxx"), "{message}");
        assert!(
            message.ends_with("the name is longer than 255 characters"),
            "{message}"
        );
        assert!(message.len() < 200, "{message}");
        // 255 characters of any script are fine.
        let file = parquet(vec![ints(&"क".repeat(255))]);
        assert!(read_footer(&file).is_ok());
    }

    #[test]
    fn refuses_statistics_that_do_not_fit_their_column() {
        let file = parquet(vec![
            ints("id"),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("b"), Some("a"), None])),
            ),
            (
                "day",
                Arc::new(Date32Array::from(vec![Some(1), Some(2), None])),
            ),
            (
                "at",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(1), None, None]).with_timezone("UTC"),
                ),
            ),
            (
                "price",
                Arc::new(Float64Array::from(vec![Some(1.0), Some(2.0), None])),
            ),
        ]);
        assert!(read_footer(&file).is_ok());
        let cases = [
            (
                0,
                Statistics::int64(Some(5), Some(3), None, Some(1), false),
                "have a minimum above their maximum",
            ),
            (
                0,
                Statistics::int64(Some(1), Some(3), None, Some(4), false),
                "count 4 nulls in 3 rows",
            ),
            (
                0,
                Statistics::int64(Some(1), Some(3), None, Some(3), false),
                "give a minimum or maximum, but all 3 values are null",
            ),
            (
                1,
                Statistics::ByteArray(ValueStatistics::new(
                    text(b"b"),
                    text(b"a"),
                    None,
                    Some(1),
                    false,
                )),
                "have a minimum above their maximum",
            ),
            (
                1,
                Statistics::ByteArray(ValueStatistics::new(
                    text(b"a"),
                    text(b"\xff"),
                    None,
                    Some(1),
                    false,
                )),
                "have a maximum that is not UTF-8 text",
            ),
            (
                2,
                Statistics::int32(Some(i32::MAX), Some(i32::MAX), None, Some(1), false),
                "have a minimum that is not a date (2147483647 days from 1970-01-01)",
            ),
            (
                2,
                Statistics::int32(Some(3), Some(1), None, Some(1), false),
                "have a minimum above their maximum",
            ),
            (
                3,
                Statistics::int64(Some(0), Some(i64::MAX), None, Some(2), false),
                "have a maximum that is not a timestamp",
            ),
            (
                4,
                Statistics::double(Some(2.0), Some(1.0), None, Some(1), false),
                "have a minimum above their maximum",
            ),
        ];
        let columns = ["id", "name", "day", "at", "price"];
        for (column, statistics, reason) in cases {
            let footer = with_statistics(&file, column, statistics);
            let error = read_footer(&footer).unwrap_err();
            let start = format!(
                "column {:?}: the statistics of row group 0 {reason}",
                columns[column]
            );
            assert!(error.to_string().starts_with(&start), "{error}");
        }
    }

    #[test]
    fn text_bounds_in_the_deprecated_fields_are_not_used() {
        let file = parquet(vec![(
            "name",
            Arc::new(StringArray::from(vec![Some("é"), Some("a")])),
        )]);
        // Signed byte order puts "é" below "a".
        let old = Statistics::ByteArray(ValueStatistics::new(
            text("é".as_bytes()),
            text(b"a"),
            None,
            Some(0),
            true,
        ));
        let described = read_footer(&with_statistics(&file, 0, old)).unwrap();
        let stats: serde_json::Value = serde_json::from_str(&described.stats).unwrap();
        assert_eq!(stats["minValues"], serde_json::json!({}));
        assert_eq!(stats["maxValues"], serde_json::json!({}));
        assert_eq!(stats["nullCount"]["name"], 0);
    }

    #[test]
    fn refuses_what_is_not_parquet() {
        assert_eq!(read_footer(b"a,b\n1,2\n"), Err(FooterError::NotParquet));
        assert_eq!(read_footer(b"PAR1"), Err(FooterError::NotParquet));
        let mut short = vec![0u8; 10];
        short.extend_from_slice(&1000u32.to_le_bytes());
        short.extend_from_slice(b"PAR1");
        assert_eq!(read_footer(&short), Err(FooterError::NeedTail(1008)));
    }
}
