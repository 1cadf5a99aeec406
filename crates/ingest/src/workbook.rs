//! Workbooks (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`), read through `calamine`.
//!
//! - The sheet: `--sheet NAME` or `--sheet N` (1-based); by default the first visible sheet that
//!   holds data. Hidden sheets are listed (and can be chosen), never taken by default.
//! - The used area: empty rows above, and empty columns left and right of the data, and empty rows
//!   below it, are ignored. Row numbers in messages are the sheet's, as Excel shows them.
//! - The header: the first row is one when all its cells are text and the rows below are not all
//!   text; when every cell is text, by the CSV rule ([`crate::sniff`]). A merged header cell has its
//!   text in its first column only; the others become `column_N`.
//! - Cells keep their type ([`Cell`]): numbers (whole ones as int64), booleans, dates (1900 and 1904
//!   systems; a date at midnight is a date, else a timestamp), and text, which stays text: `00123` or
//!   `123` stored as text are codes. Formulas give their cached values. Error values (`#N/A`) become
//!   nulls, counted in the result with a warning.
//!
//! The sheet is read whole into memory (calamine's model); a sheet is at most 1,048,576 rows.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use calamine::{Data, Reader, SheetType, SheetVisible, open_workbook_auto};
use chrono::NaiveDate;

use crate::cells::{Cell, infer_cells};
use crate::convert::{Body, Feed, Part, PassError};
use crate::preview::{Column, Options, Preview, SAMPLE_ROWS, columns_of};
use crate::sniff::looks_like_header;
use crate::source::{Format, Sheet, dialect, label};
use crate::{Error, Result};

/// Rows per chunk handed to the workers.
const CHUNK_ROWS: usize = 16 * 1024;

/// A sheet being converted: its cells, already read.
pub(crate) struct SheetInput {
    file: PathBuf,
    part: Arc<Part>,
    /// The data rows (header excluded), each as wide as the table, and each row's number.
    rows: Vec<(u64, Vec<Cell>)>,
    error_cells: u64,
    file_size: u64,
}

impl SheetInput {
    pub(crate) fn open(path: &Path, format: Format, options: &Options) -> Result<(Self, Preview)> {
        let unreadable = |message: String| Error::Unreadable {
            file: path.to_path_buf(),
            message,
        };
        let file_size = std::fs::metadata(path)
            .map_err(crate::source::io(path))?
            .len();
        let mut book = open_workbook_auto(path)
            .map_err(|e| unreadable(format!("this workbook cannot be read: {e}")))?;
        let sheets: Vec<Sheet> = book
            .sheets_metadata()
            .iter()
            .filter(|s| s.typ == SheetType::WorkSheet)
            .map(|s| Sheet {
                name: s.name.clone(),
                hidden: s.visible != SheetVisible::Visible,
            })
            .collect();
        let names = || {
            sheets
                .iter()
                .map(|s| format!("'{}'{}", s.name, if s.hidden { " (hidden)" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if sheets.is_empty() {
            return Err(unreadable("this workbook has no worksheets".into()));
        }
        let mut read = |name: &str| {
            book.worksheet_range(name)
                .map_err(|e| unreadable(format!("sheet '{name}' cannot be read: {e}")))
        };
        let (name, range) = match options.sheet.as_deref() {
            Some(wanted) => {
                // A sheet's exact name first (a sheet may be called "2"), then a position, then
                // the name ignoring case and surrounding spaces.
                let by_position = || {
                    wanted
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .and_then(|n| n.checked_sub(1))
                        .and_then(|i| sheets.get(i))
                };
                let sheet = sheets
                    .iter()
                    .find(|s| s.name == wanted)
                    .or_else(by_position)
                    .or_else(|| {
                        sheets
                            .iter()
                            .find(|s| s.name.trim().eq_ignore_ascii_case(wanted.trim()))
                    })
                    .ok_or_else(|| Error::BadOverride {
                        file: path.to_path_buf(),
                        message: format!(
                            "there is no sheet '{wanted}'; the workbook's sheets are {}",
                            names()
                        ),
                    })?;
                (sheet.name.clone(), read(&sheet.name)?)
            }
            None => {
                let mut found = None;
                for sheet in sheets.iter().filter(|s| !s.hidden) {
                    let range = read(&sheet.name)?;
                    if range.used_cells().any(|(_, _, d)| *d != Data::Empty) {
                        found = Some((sheet.name.clone(), range));
                        break;
                    }
                }
                found.ok_or_else(|| Error::NoData {
                    file: label(
                        path,
                        &format!(" (no visible sheet holds data; its sheets are {})", names()),
                    ),
                })?
            }
        };
        let sheet_label: Arc<Path> =
            Arc::from(label(path, &format!(" (sheet '{name}')")).as_path());
        let mut error_cells = 0u64;
        let (start_row, _) = range.start().unwrap_or((0, 0));
        // Every row as cells, with its row number as Excel shows it.
        let mut grid: Vec<(u64, Vec<Cell>)> = range
            .rows()
            .enumerate()
            .map(|(i, row)| {
                let cells = row.iter().map(|d| cell(d, &mut error_cells)).collect();
                (u64::from(start_row) + i as u64 + 1, cells)
            })
            .collect();
        trim(&mut grid);
        if grid.is_empty() {
            return Err(Error::NoData {
                file: sheet_label.to_path_buf(),
            });
        }
        let sample_end = grid.len().min(SAMPLE_ROWS + 1);
        let has_header = options
            .has_header
            .unwrap_or_else(|| header_row(&grid[..sample_end]));
        let width = grid[0].1.len();
        let (header, first_data_row) = if has_header {
            let (row, cells) = grid.remove(0);
            let header: Vec<String> = cells
                .iter()
                .map(|c| c.text().map(|t| t.into_owned()).unwrap_or_default())
                .collect();
            (Some(header), row + 1)
        } else {
            (None, grid[0].0)
        };
        let sample = &grid[..grid.len().min(SAMPLE_ROWS)];
        let inferences = (0..width)
            .map(|i| infer_cells(sample.iter().map(move |(_, row)| &row[i])))
            .collect();
        let text_rows: Vec<Vec<String>> = sample.iter().map(|(_, row)| texts(row)).collect();
        let mut warnings = Vec::new();
        let columns: Vec<Column> = columns_of(
            &sheet_label,
            header.as_deref(),
            inferences,
            &text_rows,
            first_data_row,
            options,
            &mut warnings,
        )?;
        if error_cells > 0 {
            warnings.push(format!(
                "{error_cells} cell(s) hold an error value (such as #N/A or #DIV/0!); they become nulls"
            ));
        }
        if grid.is_empty() {
            warnings.push("the sheet has no data rows".into());
        }
        let wanted = options.rows.unwrap_or(100);
        let preview = Preview {
            file: path.to_path_buf(),
            format,
            sheets,
            sheet: Some(name),
            file_size,
            dialect: dialect(has_header),
            columns,
            rows: grid
                .iter()
                .take(wanted)
                .map(|(_, row)| {
                    row.iter()
                        .map(|c| c.text().map(|t| t.into_owned()))
                        .collect()
                })
                .collect(),
            sampled_rows: sample.len(),
            complete: true,
            warnings,
        };
        let input = SheetInput {
            file: path.to_path_buf(),
            part: Arc::new(Part {
                label: sheet_label,
                dialect: preview.dialect.clone(),
            }),
            rows: grid,
            error_cells,
            file_size,
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
        feed.total = self.file_size;
        feed.error_cells.store(self.error_cells, Ordering::Relaxed);
        let total_rows = self.rows.len().max(1) as u64;
        for (done, chunk) in self.rows.chunks(CHUNK_ROWS).enumerate() {
            if feed.stopped() {
                return Ok(());
            }
            let mut cells = Vec::with_capacity(chunk.len() * columns.len());
            let mut numbers = Vec::with_capacity(chunk.len());
            for (row, values) in chunk {
                cells.extend(values.iter().cloned());
                numbers.push(*row);
            }
            if !feed.send(&self.part, Body::Cells(cells, numbers), chunk[0].0) {
                return Ok(());
            }
            let rows_done = ((done + 1) * CHUNK_ROWS).min(self.rows.len()) as u64;
            feed.done
                .store(self.file_size * rows_done / total_rows, Ordering::Relaxed);
            feed.report();
        }
        Ok(())
    }
}

/// A workbook value as a cell; error values are nulls, counted in `errors`.
fn cell(data: &Data, errors: &mut u64) -> Cell {
    match data {
        Data::Empty => Cell::Null,
        Data::Int(v) => Cell::Int(*v),
        Data::Float(v) => Cell::whole(*v).map_or(Cell::Float(*v), Cell::Int),
        Data::Bool(v) => Cell::Bool(*v),
        Data::String(s) => Cell::Text(s.clone()),
        Data::DateTimeIso(s) => Cell::Raw(s.clone()),
        Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(_) => {
            *errors += 1;
            Cell::Null
        }
        Data::DateTime(value) => {
            let serial = value.as_f64();
            let (year, month, day, hour, minute, second, milli) = value.to_ymd_hms_milli();
            if value.is_duration() || (0.0..1.0).contains(&serial) {
                // A duration, or a time of day without a date.
                let seconds = (serial * 86_400.0).round() as i64;
                return Cell::Text(format!(
                    "{:02}:{:02}:{:02}",
                    seconds / 3600,
                    seconds / 60 % 60,
                    seconds % 60
                ));
            }
            match NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day))
                .and_then(|d| {
                    d.and_hms_milli_opt(
                        u32::from(hour),
                        u32::from(minute),
                        u32::from(second),
                        u32::from(milli),
                    )
                }) {
                Some(t) => {
                    let micros = t.and_utc().timestamp_micros();
                    crate::cells::midnight_days(micros).map_or(Cell::Timestamp(micros), Cell::Date)
                }
                // Excel's 1900-02-29, which never was: kept as the serial number's text.
                None => Cell::Text(serial.to_string()),
            }
        }
    }
}

/// Removes empty rows above and below the data, and empty columns left and right of it.
fn trim(grid: &mut Vec<(u64, Vec<Cell>)>) {
    let empty = |row: &[Cell]| row.iter().all(|c| c.text().is_none());
    while grid.last().is_some_and(|(_, r)| empty(r)) {
        grid.pop();
    }
    let leading = grid.iter().take_while(|(_, r)| empty(r)).count();
    grid.drain(..leading);
    let width = grid.first().map_or(0, |(_, r)| r.len());
    let used = |i: usize| grid.iter().any(|(_, r)| r[i].text().is_some());
    let Some(last) = (0..width).rev().find(|&i| used(i)) else {
        grid.clear();
        return;
    };
    let first = (0..=last).find(|&i| used(i)).unwrap_or(0);
    for (_, row) in grid.iter_mut() {
        row.truncate(last + 1);
        row.drain(..first);
    }
}

/// Whether the first row holds column names.
fn header_row(rows: &[(u64, Vec<Cell>)]) -> bool {
    let Some(((_, first), data)) = rows.split_first() else {
        return false;
    };
    let all_text = |row: &[Cell]| {
        row.iter()
            .all(|c| matches!(c, Cell::Text(_) | Cell::Null | Cell::Raw(_)))
    };
    if !all_text(first) || first.iter().all(|c| c.text().is_none()) {
        return false;
    }
    if !data.iter().all(|(_, row)| all_text(row)) {
        return true;
    }
    let text: Vec<Vec<String>> = rows.iter().map(|(_, row)| texts(row)).collect();
    looks_like_header(&text)
}

/// A row as text, an empty string for a null.
fn texts(row: &[Cell]) -> Vec<String> {
    row.iter()
        .map(|c| c.text().map(|t| t.into_owned()).unwrap_or_default())
        .collect()
}
