//! A Parquet file taken as it is: its columns keep their types (mapped onto the six the sharing path
//! carries), their names get the same cleaning as CSV header cells, and its rows are written again
//! into the table's own files (sized, with statistics, in order).
//!
//! Integers of any width become int64 (an unsigned value beyond int64 is an error naming the column),
//! floats float64, strings and dictionary-encoded strings string, dates date, timestamps of any unit
//! and zone timestamp (UTC; a timestamp without a zone is taken as UTC). Decimal, binary, nested and
//! time-of-day columns are refused with a message naming the column and saying what to do.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use deltalake::arrow::array::{Array, ArrayRef, RecordBatch};
use deltalake::arrow::compute::{CastOptions, cast_with_options};
use deltalake::arrow::datatypes::DataType;
use deltalake::arrow::util::display::{ArrayFormatter, FormatOptions};
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::convert::{Body, Feed, Part, PassError, arrow_schema};
use crate::infer::{ColumnType, DateOrder, Inference};
use crate::preview::{Column, Options, Preview, columns_of};
use crate::source::{Format, io};
use crate::{Error, Result};

/// Rows per batch read.
const BATCH_ROWS: usize = 64 * 1024;

/// A Parquet file being converted.
pub(crate) struct ParquetInput {
    file: PathBuf,
    part: Arc<Part>,
}

impl ParquetInput {
    pub(crate) fn open(path: &Path, options: &Options) -> Result<(Self, Preview)> {
        let unreadable = |message: String| Error::Unreadable {
            file: path.to_path_buf(),
            message,
        };
        let file = File::open(path).map_err(io(path))?;
        let file_size = file.metadata().map_err(io(path))?.len();
        let wanted = options.rows.unwrap_or(100).clamp(1, 10_000);
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| unreadable(format!("this is not a Parquet file that can be read: {e}")))?;
        let schema = builder.schema().clone();
        let mut types = Vec::new();
        for field in schema.fields() {
            let column_type = column_type(field.data_type()).ok_or_else(|| {
                unreadable(format!(
                    "column '{}' is {}, which cannot be shared as it is; cast it to double, string or timestamp first",
                    field.name(),
                    field.data_type()
                ))
            })?;
            types.push(column_type);
        }
        if types.is_empty() {
            return Err(Error::NoData {
                file: path.to_path_buf(),
            });
        }
        let first = builder
            .with_batch_size(wanted)
            .build()
            .map_err(|e| unreadable(e.to_string()))?
            .next()
            .transpose()
            .map_err(|e| unreadable(e.to_string()))?;
        let mut texts: Vec<Vec<String>> = Vec::new();
        let mut nulls = vec![0usize; types.len()];
        if let Some(batch) = &first {
            let formatters = batch
                .columns()
                .iter()
                .map(|a| ArrayFormatter::try_new(a.as_ref(), &FormatOptions::default()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| unreadable(e.to_string()))?;
            for row in 0..batch.num_rows() {
                texts.push(
                    formatters
                        .iter()
                        .zip(batch.columns())
                        .zip(nulls.iter_mut())
                        .map(|((f, a), nulls)| {
                            if a.is_null(row) {
                                *nulls += 1;
                                String::new()
                            } else {
                                f.value(row).to_string()
                            }
                        })
                        .collect(),
                );
            }
        }
        let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let inferences = types
            .into_iter()
            .zip(nulls)
            .map(|(column_type, nulls)| Inference {
                column_type,
                ambiguous_dates: false,
                nulls,
            })
            .collect();
        // A forced type is applied by a cast, which says what does not fit.
        let names_only = Options {
            types: Vec::new(),
            ..options.clone()
        };
        let mut warnings = Vec::new();
        let mut columns = columns_of(
            path,
            Some(&header),
            inferences,
            &texts,
            1,
            &names_only,
            &mut warnings,
        )?;
        for (index, forced) in &options.types {
            let column = columns.get_mut(*index).ok_or_else(|| Error::BadOverride {
                file: path.to_path_buf(),
                message: format!("there is no column {} to give a type", index + 1),
            })?;
            column.column_type = forced.clone();
        }
        let preview = Preview {
            file: path.to_path_buf(),
            format: Format::Parquet,
            sheets: Vec::new(),
            sheet: None,
            file_size,
            dialect: crate::source::dialect(true),
            columns,
            rows: texts
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|v| (!v.is_empty()).then(|| v.clone()))
                        .collect()
                })
                .collect(),
            sampled_rows: texts.len(),
            complete: true,
            warnings,
        };
        let input = ParquetInput {
            file: path.to_path_buf(),
            part: Arc::new(Part {
                label: Arc::from(path),
                dialect: preview.dialect.clone(),
            }),
        };
        Ok((input, preview))
    }

    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    pub(crate) fn feed(
        &self,
        columns: &[Column],
        feed: &mut Feed,
    ) -> std::result::Result<(), PassError> {
        let path = &self.file;
        let fatal = |message: String| {
            PassError::Fatal(Error::Unreadable {
                file: path.to_path_buf(),
                message,
            })
        };
        let file = File::open(path)
            .map_err(io(path))
            .map_err(PassError::Fatal)?;
        feed.total = file.metadata().map(|m| m.len()).unwrap_or(0);
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| fatal(e.to_string()))?;
        let total_rows = builder.metadata().file_metadata().num_rows().max(1) as u64;
        let reader = builder
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| fatal(e.to_string()))?;
        let schema = arrow_schema(columns);
        let options = CastOptions {
            safe: false,
            ..CastOptions::default()
        };
        let (mut rows_done, mut first_row) = (0u64, 1u64);
        for batch in reader {
            if feed.stopped() {
                return Ok(());
            }
            let batch = batch.map_err(|e| fatal(e.to_string()))?;
            let arrays = batch
                .columns()
                .iter()
                .zip(schema.fields())
                .zip(columns)
                .map(|((array, field), column)| {
                    cast_with_options(array, field.data_type(), &options).map_err(|e| {
                        fatal(format!(
                            "column '{}' does not fit {} (rows {first_row} to {}): {e}",
                            column.name,
                            column.column_type.name(),
                            first_row + batch.num_rows() as u64 - 1
                        ))
                    })
                })
                .collect::<std::result::Result<Vec<ArrayRef>, _>>()?;
            let rows = batch.num_rows() as u64;
            let converted =
                RecordBatch::try_new(schema.clone(), arrays).map_err(|e| fatal(e.to_string()))?;
            if !feed.send(&self.part, Body::Batch(converted), first_row) {
                return Ok(());
            }
            first_row += rows;
            rows_done += rows;
            feed.done
                .store(feed.total * rows_done / total_rows, Ordering::Relaxed);
            feed.report();
        }
        Ok(())
    }
}

/// The column type an Arrow type becomes, if the sharing path can carry it.
fn column_type(data_type: &DataType) -> Option<ColumnType> {
    use DataType::*;
    Some(match data_type {
        Boolean => ColumnType::Boolean,
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => ColumnType::Int64,
        Float16 | Float32 | Float64 => ColumnType::Float64 {
            decimal_comma: false,
        },
        Utf8 | LargeUtf8 | Utf8View | Null => ColumnType::String,
        Dictionary(_, value) if matches!(**value, Utf8 | LargeUtf8 | Utf8View) => {
            ColumnType::String
        }
        Date32 | Date64 => ColumnType::Date {
            order: DateOrder::Ymd,
        },
        Timestamp(_, _) => ColumnType::Timestamp,
        _ => return None,
    })
}
