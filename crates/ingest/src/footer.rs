//! What a data file written by [`crate::convert`] holds, read from its Parquet footer alone: the columns
//! and their types, the row count and the Delta `stats` of its add action. A server that commits files
//! it did not write (the backend) checks an upload this way without reading its data.

use deltalake::arrow::datatypes::{DataType, TimeUnit};
use deltalake::parquet::arrow::parquet_to_arrow_schema;
use deltalake::parquet::file::metadata::ParquetMetaDataReader;

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
    let rows = u64::try_from(file.num_rows())
        .map_err(|_| FooterError::Damaged("negative row count".into()))?;
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

impl ColumnType {
    /// The Delta primitive type this column is stored as (`long`, `double`, `boolean`, `date`,
    /// `timestamp`, `string`).
    pub fn delta_name(&self) -> &'static str {
        match self {
            ColumnType::Int64 => "long",
            ColumnType::Float64 { .. } => "double",
            ColumnType::Boolean => "boolean",
            ColumnType::Date { .. } => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::String => "string",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
