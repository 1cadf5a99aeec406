//! Streaming CSV-to-Delta conversion with bounded memory, on every core, keeping the rows in order.
//!
//! One thread reads the file in blocks, transcodes it to UTF-8 and cuts it at record boundaries (outside
//! quotes) into numbered chunks; worker threads parse the chunks, turn each column into its type with
//! the rules of [`crate::infer`] and encode each chunk as one Parquet row group in memory; whichever
//! worker finishes the next chunk in order appends the row groups to Parquet files of about
//! [`ConvertOptions::target_file_bytes`] (the [`Sequencer`]), each with the statistics the sharing
//! server skips files by. So every file holds consecutive chunks, and the files, in the order of their
//! add actions, hold the rows in the order of the CSV. Only when every file is written is the Delta
//! commit made (through `deltalake`): a failed or cancelled conversion removes what it wrote and leaves
//! nothing that looks like a table.
//!
//! Memory is bounded by the block size times the queue depth, plus one chunk's row group per worker
//! and at most twice as many encoded groups waiting for an earlier one.
//! A value that does not fit its column's type either widens the column and starts over
//! ([`OnMismatch::Widen`]: int64 to float64, anything else to string) or fails naming file, row (the
//! line the record starts on), column and value ([`OnMismatch::Fail`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use deltalake::arrow::array::AsArray;
use deltalake::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::parquet::arrow::ArrowWriter;
use deltalake::parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use deltalake::parquet::basic::{Compression, Encoding as ParquetEncoding};
use deltalake::parquet::file::properties::{EnabledStatistics, WriterProperties};
use deltalake::parquet::file::writer::SerializedFileWriter;
use deltalake::parquet::schema::types::ColumnPath;
use serde::Serialize;

use crate::Mode;
use crate::cells::Cell;
use crate::infer::{
    ColumnType, DateOrder, parse_bool, parse_date_days, parse_float, parse_float_comma, parse_int,
    parse_timestamp,
};
use crate::preview::{Column, Options};
use crate::sniff::{Dialect, Encoding};
use crate::source::Input;
use crate::stats::TextBounds;
use crate::tokenize::Records;
use crate::{Error, Result};

/// What to do when a value does not fit the type inferred from the sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMismatch {
    /// Widen the column (int64 to float64, else to string) and convert again.
    Widen,
    /// Fail with file, row, column and value.
    Fail,
}

/// Settings of a conversion.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Dialect and column overrides, as for a preview.
    pub read: Options,
    /// Create, append or overwrite.
    pub mode: Mode,
    /// Table name recorded in the Delta metadata (create only).
    pub name: Option<String>,
    /// Widen or fail on values that do not fit.
    pub on_mismatch: OnMismatch,
    /// Size at which a Parquet file is closed and the next begun.
    pub target_file_bytes: usize,
    /// Worker threads (default: the cores available).
    pub threads: Option<usize>,
    /// Bytes read per block.
    pub block_bytes: usize,
    /// How the data files are compressed.
    pub codec: Codec,
    /// Data files readable and writable by their owner alone (0600 on Unix) from their first byte,
    /// whatever the umask: for a copy of the user's data that goes up while it is written.
    pub private: bool,
}

/// How a table's data files are compressed. What is uploaded is what is compressed, so on a slow
/// uplink fewer bytes beat less CPU; see README.md's benchmark section for the measurement that
/// chose the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Not compressed.
    Uncompressed,
    /// Snappy: fast, larger files.
    Snappy,
    /// LZ4 (raw).
    Lz4,
    /// Zstandard at a level (1 to 22).
    Zstd(i32),
}

impl Default for Codec {
    fn default() -> Self {
        Codec::Zstd(DEFAULT_ZSTD_LEVEL)
    }
}

/// The zstd level of [`Codec::default`].
const DEFAULT_ZSTD_LEVEL: i32 = 1;

impl std::str::FromStr for Codec {
    type Err = String;

    /// `none`, `snappy`, `lz4`, `zstd` (level 1) or `zstd:N`.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim().to_ascii_lowercase();
        match text.as_str() {
            "none" | "uncompressed" => Ok(Codec::Uncompressed),
            "snappy" => Ok(Codec::Snappy),
            "lz4" => Ok(Codec::Lz4),
            "zstd" => Ok(Codec::Zstd(DEFAULT_ZSTD_LEVEL)),
            other => other
                .strip_prefix("zstd:")
                .and_then(|level| level.parse::<i32>().ok())
                .filter(|level| (1..=22).contains(level))
                .map(Codec::Zstd)
                .ok_or_else(|| {
                    format!("unknown compression {text:?}; use none, snappy, lz4, zstd or zstd:1 to zstd:22")
                }),
        }
    }
}

impl Codec {
    fn parquet(self) -> Compression {
        match self {
            Codec::Uncompressed => Compression::UNCOMPRESSED,
            Codec::Snappy => Compression::SNAPPY,
            Codec::Lz4 => Compression::LZ4_RAW,
            Codec::Zstd(level) => Compression::ZSTD(
                deltalake::parquet::basic::ZstdLevel::try_new(level).unwrap_or_default(),
            ),
        }
    }

    /// The part of a data file's name that says how it is compressed (as Spark names them).
    fn suffix(self) -> &'static str {
        match self {
            Codec::Uncompressed => "",
            Codec::Snappy => ".snappy",
            Codec::Lz4 => ".lz4raw",
            Codec::Zstd(_) => ".zstd",
        }
    }
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            read: Options::default(),
            mode: Mode::Create,
            name: None,
            on_mismatch: OnMismatch::Widen,
            target_file_bytes: 128 << 20,
            threads: None,
            block_bytes: 4 << 20,
            codec: Codec::default(),
            private: false,
        }
    }
}

/// Progress of a conversion, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Bytes of the CSV file read so far.
    pub bytes_done: u64,
    /// Size of the CSV file.
    pub bytes_total: u64,
}

/// A column whose type was widened because a value did not fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Widened {
    /// Column name.
    pub column: String,
    /// Type inferred from the sample.
    pub from: String,
    /// Type used.
    pub to: String,
    /// Line of the first value that did not fit.
    pub row: u64,
    /// That value.
    pub value: String,
}

/// The result of a conversion.
#[derive(Debug, Clone, Serialize)]
pub struct Converted {
    /// The table's location (a `file://` URL).
    pub location: String,
    /// The Delta version the conversion committed.
    pub version: i64,
    /// Rows written.
    pub rows: u64,
    /// Bytes of Parquet written.
    pub bytes: u64,
    /// Data files written.
    pub files: usize,
    /// The table's columns.
    pub schema: Vec<Column>,
    /// Columns widened on the way.
    pub widened: Vec<Widened>,
    /// Workbook cells holding an error (`#N/A`, `#DIV/0!`), written as nulls.
    pub error_cells: u64,
    /// Things the user should know (error cells, a column that appeared late in a JSON file).
    pub warnings: Vec<String>,
}

/// A data file written and not yet committed.
#[derive(Debug, Clone)]
struct WrittenFile {
    name: String,
    size: u64,
    rows: u64,
    stats: String,
}

/// Why a write pass stopped.
pub(crate) enum PassError {
    /// A value that does not fit its column, which would fit `widened`.
    Mismatch {
        file: Arc<Path>,
        column: usize,
        row: u64,
        value: String,
        widened: ColumnType,
    },
    /// A JSON record with a key none before it had.
    NewColumn {
        file: Arc<Path>,
        row: u64,
        key: Vec<String>,
        cell: Cell,
    },
    Fatal(Error),
}

impl From<Error> for PassError {
    fn from(e: Error) -> Self {
        PassError::Fatal(e)
    }
}

/// What happens to a conversion's data files, as it happens: for a caller that sends each file while
/// the conversion goes on.
#[derive(Debug, Clone, Copy)]
pub enum FileEvent<'a> {
    /// A data file is written in full and closed; it does not change again. It makes the table only if
    /// the conversion ends well and no [`FileEvent::StartedOver`] follows it.
    Closed {
        /// The file, in the table's directory.
        path: &'a Path,
        /// Its size.
        size: u64,
    },
    /// A value did not fit its column, which was widened: the pass starts over, and every file closed
    /// since the previous one started is removed.
    StartedOver,
}

/// Converts `file` into the Delta table at `table_dir`.
pub fn convert(
    file: &Path,
    table_dir: &Path,
    options: &ConvertOptions,
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &AtomicBool,
) -> Result<Converted> {
    convert_watching(file, table_dir, options, progress, cancel, &|_| {})
}

/// [`convert`], telling `watch` each data file as it is closed, and each pass that starts over.
pub fn convert_watching(
    file: &Path,
    table_dir: &Path,
    options: &ConvertOptions,
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &AtomicBool,
    watch: &(dyn Fn(FileEvent) + Sync),
) -> Result<Converted> {
    let (mut input, preview) = Input::open(file, &options.read)?;
    let mut columns = preview.columns.clone();
    if columns.is_empty() {
        return Err(Error::NoData {
            file: file.to_path_buf(),
        });
    }
    let table_exists = table_dir.join("_delta_log").is_dir();
    match (options.mode, table_exists) {
        (Mode::Create, true) => {
            return Err(Error::TableExists {
                table: table_dir.to_path_buf(),
            });
        }
        (Mode::Append | Mode::Overwrite, false) => {
            return Err(Error::NoTable {
                table: table_dir.to_path_buf(),
            });
        }
        _ => {}
    }
    let created_dir = !table_dir.exists();
    std::fs::create_dir_all(table_dir).map_err(|source| Error::Io {
        file: table_dir.to_path_buf(),
        source,
    })?;
    if options.private {
        // The log's directory too, before `deltalake` writes in it with the umask's permissions.
        private_dir(&table_dir.join("_delta_log"))?;
    }
    let cleanup = |written: &[WrittenFile]| {
        for f in written {
            let _ = std::fs::remove_file(table_dir.join(&f.name));
        }
        if created_dir {
            let _ = std::fs::remove_dir_all(table_dir);
        }
    };
    let mut widened = Vec::new();
    let mut warnings = Vec::new();
    let (written, error_cells) = loop {
        let tracker = Mutex::new(Vec::new());
        let error_cells = AtomicU64::new(0);
        match write_pass(
            &mut input,
            table_dir,
            &columns,
            options,
            progress,
            cancel,
            &tracker,
            &error_cells,
            watch,
        ) {
            Ok(()) => {
                break (
                    tracker.into_inner().expect("no poisoned lock"),
                    error_cells.into_inner(),
                );
            }
            Err(error) => {
                let partial = tracker.into_inner().unwrap_or_default();
                for f in &partial {
                    let _ = std::fs::remove_file(table_dir.join(&f.name));
                }
                match error {
                    PassError::Mismatch {
                        column,
                        row,
                        value,
                        widened: mut to,
                        ..
                    } if options.on_mismatch == OnMismatch::Widen => {
                        let from = columns[column].column_type.clone();
                        if to == from {
                            to = ColumnType::String;
                        }
                        widened.push(Widened {
                            column: columns[column].name.clone(),
                            from: from.name().into(),
                            to: to.name().into(),
                            row,
                            value,
                        });
                        columns[column].column_type = to;
                        watch(FileEvent::StartedOver);
                    }
                    PassError::Mismatch {
                        file,
                        column,
                        row,
                        value,
                        ..
                    } => {
                        cleanup(&[]);
                        return Err(Error::ValueDoesNotFit {
                            file: file.to_path_buf(),
                            row,
                            column: columns[column].name.clone(),
                            expected: columns[column].column_type.name(),
                            value,
                        });
                    }
                    PassError::NewColumn {
                        file,
                        row,
                        key,
                        cell,
                    } if options.on_mismatch == OnMismatch::Widen => {
                        let column = input.add_column(&key, &cell, &columns);
                        warnings.push(format!(
                            "{}: column '{}' first appears on row {row}; the rows before it hold nulls there",
                            file.display(),
                            column.name
                        ));
                        columns.push(column);
                        watch(FileEvent::StartedOver);
                    }
                    PassError::NewColumn { file, row, key, .. } => {
                        cleanup(&[]);
                        return Err(Error::NewKey {
                            file: file.to_path_buf(),
                            row,
                            key: key.join("."),
                        });
                    }
                    PassError::Fatal(e) => {
                        cleanup(&[]);
                        return Err(e);
                    }
                }
            }
        }
    };
    if cancel.load(Ordering::Relaxed) {
        cleanup(&written);
        return Err(Error::Cancelled {
            file: file.to_path_buf(),
        });
    }
    let rows: u64 = written.iter().map(|f| f.rows).sum();
    if rows == 0 {
        cleanup(&written);
        return Err(Error::NoData {
            file: file.to_path_buf(),
        });
    }
    if error_cells > 0 {
        warnings.push(format!(
            "{error_cells} cell(s) held an error value (such as #N/A or #DIV/0!) and became nulls"
        ));
    }
    let committed = crate::commit::commit(
        table_dir,
        options.mode,
        options.name.as_deref(),
        &columns,
        &written_adds(&written),
    );
    match committed {
        Ok(version) => Ok(Converted {
            location: url_of(table_dir)?,
            version,
            rows,
            bytes: written.iter().map(|f| f.size).sum(),
            files: written.len(),
            schema: columns,
            widened,
            error_cells,
            warnings,
        }),
        Err(e) => {
            cleanup(&written);
            Err(e)
        }
    }
}

fn url_of(dir: &Path) -> Result<String> {
    let absolute = std::fs::canonicalize(dir).map_err(|source| Error::Io {
        file: dir.to_path_buf(),
        source,
    })?;
    Ok(url::Url::from_directory_path(&absolute)
        .map(|u| u.to_string().trim_end_matches('/').to_string())
        .unwrap_or_default())
}

fn written_adds(files: &[WrittenFile]) -> Vec<crate::commit::NewFile> {
    files
        .iter()
        .map(|f| crate::commit::NewFile {
            path: f.name.clone(),
            size: f.size as i64,
            stats: f.stats.clone(),
        })
        .collect()
}

/// Rows as a reader hands them to the workers.
pub(crate) enum Body {
    /// Complete CSV records, UTF-8.
    Csv(Vec<u8>),
    /// Rows of cells, one after the other (as many per row as there are columns), and each row's number.
    Cells(Vec<Cell>, Vec<u64>),
    /// Rows already in the table's Arrow schema.
    Batch(RecordBatch),
}

/// Where a chunk's rows come from: the name errors give it, and how its CSV text is written.
pub(crate) struct Part {
    /// The file (a zip's member as `archive.zip/member.csv`, a sheet as `book.xlsx (sheet 'Name')`).
    pub(crate) label: Arc<Path>,
    /// The CSV dialect (unused by other formats).
    pub(crate) dialect: Dialect,
}

/// A run of complete rows, its place among the chunks (0, 1, 2, … in file order), the line (or row)
/// the first one starts on and where it comes from.
pub(crate) struct Chunk {
    body: Body,
    sequence: u64,
    first_line: u64,
    part: Arc<Part>,
}

/// The reader's end of the chunk queue, numbering chunks in order and reporting progress.
pub(crate) struct Feed<'a> {
    sender: SyncSender<Chunk>,
    sent: u64,
    stop: &'a AtomicBool,
    cancel: &'a AtomicBool,
    progress: &'a (dyn Fn(Progress) + Sync),
    /// Bytes of the input read so far (a counting reader, or a reader's own estimate).
    pub(crate) done: Arc<AtomicU64>,
    /// Bytes of the input.
    pub(crate) total: u64,
    /// Workbook cells holding an error, made nulls.
    pub(crate) error_cells: &'a AtomicU64,
}

impl Feed<'_> {
    /// Whether the pass stopped (an error elsewhere, or a cancel): the reader should return.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.cancel.load(Ordering::Relaxed)
    }

    /// Hands rows to the workers; false once they have all stopped (their error is reported).
    pub(crate) fn send(&mut self, part: &Arc<Part>, body: Body, first_line: u64) -> bool {
        let chunk = Chunk {
            body,
            sequence: self.sent,
            first_line,
            part: part.clone(),
        };
        self.sent += 1;
        self.sender.send(chunk).is_ok()
    }

    /// Reports the bytes read so far.
    pub(crate) fn report(&self) {
        (self.progress)(Progress {
            bytes_done: self.done.load(Ordering::Relaxed).min(self.total),
            bytes_total: self.total,
        });
    }
}

/// Reads the whole file once and writes Parquet files; on error, the files written so far are in `tracker`.
///
/// Workers parse and encode chunks in parallel, each chunk into one row group held in memory; the
/// [`Sequencer`] appends the row groups to the files in chunk order. So each file holds a run of
/// consecutive chunks, the files are registered in `tracker` in the file's order, and reading them in
/// that order gives the rows in the order of the CSV.
#[allow(clippy::too_many_arguments)]
fn write_pass(
    input: &mut Input,
    table_dir: &Path,
    columns: &[Column],
    options: &ConvertOptions,
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &AtomicBool,
    tracker: &Mutex<Vec<WrittenFile>>,
    error_cells: &AtomicU64,
    watch: &(dyn Fn(FileEvent) + Sync),
) -> std::result::Result<(), PassError> {
    let file = input.file().to_path_buf();
    let file = file.as_path();
    let threads = options
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
        .max(1);
    let schema = arrow_schema(columns);
    let properties = writer_properties(columns, options.codec);
    // Every row group's column writers come from one factory: every file of a pass has the same
    // schema and properties. The factory needs a writer to be made from; this one writes nowhere.
    let (_, factory) =
        ArrowWriter::try_new(std::io::sink(), schema.clone(), Some(properties.clone()))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(|e| parquet_error(file, e))?;
    let sequencer = Sequencer {
        queue: Mutex::new(Sequence {
            next: 0,
            pending: BTreeMap::new(),
            output: None,
        }),
        room: Condvar::new(),
        most_pending: threads * 2,
        table_dir,
        schema: schema.clone(),
        properties,
        codec: options.codec,
        private: options.private,
        columns,
        target_file_bytes: options.target_file_bytes,
        tracker,
        watch,
    };
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<PassError>> = Mutex::new(None);
    let fail = |e: PassError| {
        stop.store(true, Ordering::Relaxed);
        let mut slot = first_error.lock().expect("error lock");
        // Keep the error of the earliest row, so that the message is the first bad line.
        let earlier = match (&*slot, &e) {
            (None, _) => true,
            (Some(PassError::Mismatch { row: a, .. }), PassError::Mismatch { row: b, .. }) => b < a,
            _ => false,
        };
        if earlier {
            *slot = Some(e);
        }
    };
    let (sender, receiver) = sync_channel::<Chunk>(threads * 2);
    let receiver = Arc::new(Mutex::new(receiver));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let receiver = receiver.clone();
            let (fail, stop, schema, factory, sequencer) =
                (&fail, &stop, &schema, &factory, &sequencer);
            scope.spawn(move || {
                let worker = Worker {
                    columns,
                    schema,
                    factory,
                    sequencer,
                    stop,
                    cancel,
                };
                if let Err(e) = worker.run(&receiver) {
                    fail(e);
                }
            });
        }
        // Only the workers hold the queue's receiving end: once they have all stopped (an error,
        // a cancel), the reader's next hand-over fails at once instead of waiting forever for
        // room in a full queue.
        drop(receiver);
        let mut feed = Feed {
            sender,
            sent: 0,
            stop: &stop,
            cancel,
            progress,
            done: Arc::new(AtomicU64::new(0)),
            total: 0,
            error_cells,
        };
        if let Err(e) = input.feed(columns, options.block_bytes, &mut feed) {
            fail(e);
        }
    });
    if let Some(error) = first_error.into_inner().expect("error lock") {
        return Err(error);
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(PassError::Fatal(Error::Cancelled {
            file: file.to_path_buf(),
        }));
    }
    sequencer.finish()
}

/// The CSV reader: blocks of `input` in, UTF-8 chunks of whole records out (`part` says how the text
/// is written and names it in errors).
pub(crate) fn split(
    mut input: &mut dyn Read,
    part: &Arc<Part>,
    block_bytes: usize,
    feed: &mut Feed,
) -> std::result::Result<(), PassError> {
    let file: &Path = &part.label;
    let dialect = &part.dialect;
    let io = |source| {
        PassError::Fatal(Error::Io {
            file: file.to_path_buf(),
            source,
        })
    };
    let mut skip_bom = dialect.encoding.bom_len();
    let mut decoder = match dialect.encoding {
        Encoding::Utf8 | Encoding::Utf8Bom => None,
        other => Some(other.codec().new_decoder_without_bom_handling()),
    };
    let block_size = block_bytes.max(64 << 10);
    // Only transcoding needs a separate block to read into; UTF-8 is read straight into `buffer`.
    let mut block = if decoder.is_some() {
        vec![0u8; block_size]
    } else {
        Vec::new()
    };
    let mut buffer: Vec<u8> = Vec::with_capacity(block_size * 2);
    let mut scanned = 0usize;
    let mut in_quotes = false;
    let mut quote_line = 0u64;
    let mut line = 1u64; // line of buffer[0]
    let mut lines_scanned = 0u64; // line breaks in buffer[..scanned]
    let mut header_pending = dialect.has_header;
    let quote = dialect.quote;
    loop {
        if feed.stopped() {
            return Ok(());
        }
        let eof = match &mut decoder {
            None => {
                // UTF-8: read straight into the buffer, no copy.
                // `read_to_end` fills the spare capacity without zeroing it first.
                let filled = buffer.len();
                buffer.reserve(block_size);
                let n = (&mut input)
                    .take(block_size as u64)
                    .read_to_end(&mut buffer)
                    .map_err(io)?;
                if skip_bom > 0 {
                    let cut = skip_bom.min(n);
                    buffer.drain(filled..filled + cut);
                    skip_bom -= cut;
                }
                n == 0
            }
            Some(d) => {
                let n = input.read(&mut block).map_err(io)?;
                let eof = n == 0;
                let mut bytes = &block[..n];
                if skip_bom > 0 {
                    let cut = skip_bom.min(bytes.len());
                    bytes = &bytes[cut..];
                    skip_bom -= cut;
                }
                let mut text = String::with_capacity(
                    d.max_utf8_buffer_length(bytes.len())
                        .unwrap_or(bytes.len() * 3),
                );
                let (_, _, had_errors) = d.decode_to_string(bytes, &mut text, eof);
                if had_errors {
                    let row = line
                        + lines_scanned
                        + text
                            .split('\u{FFFD}')
                            .next()
                            .unwrap_or("")
                            .matches('\n')
                            .count() as u64;
                    return Err(PassError::Fatal(Error::InvalidBytes {
                        file: file.to_path_buf(),
                        row,
                        encoding: dialect.encoding.name(),
                    }));
                }
                buffer.extend_from_slice(text.as_bytes());
                eof
            }
        };
        // Find the last record boundary outside quotes.
        let mut boundary = None;
        let mut lines_at_boundary = 0;
        let mut end = buffer.len();
        if !eof && buffer.last() == Some(&b'\r') {
            // A \r at the end of the buffer may be the first half of \r\n: look at it next time.
            end -= 1;
        }
        let scan = Scan::of(&buffer[scanned..end], quote, in_quotes);
        if let Some((at, lines_after)) = scan.boundary {
            boundary = Some(scanned + at);
            lines_at_boundary = lines_scanned + scan.lines - lines_after;
        }
        if let Some(lines_before) = scan.open_quote_lines {
            quote_line = line + lines_scanned + lines_before;
        }
        lines_scanned += scan.lines;
        in_quotes = scan.in_quotes;
        scanned = scanned.max(end);
        let cut = if eof { Some(buffer.len()) } else { boundary };
        if eof && in_quotes {
            return Err(PassError::Fatal(Error::UnterminatedQuote {
                file: file.to_path_buf(),
                row: quote_line,
            }));
        }
        if let Some(mut cut) = cut {
            let mut start = 0;
            let mut chunk_line = line;
            if header_pending {
                // Drop the header record: up to the first line break outside quotes.
                let end = crate::sniff::complete_records_first(&buffer[..cut], quote);
                match end {
                    Some(end) => {
                        chunk_line +=
                            (0..end).filter(|i| is_line_break(&buffer, *i)).count() as u64;
                        start = end;
                        header_pending = false;
                    }
                    None if eof => {
                        start = cut;
                        header_pending = false;
                    }
                    None => cut = 0,
                }
            }
            if cut > 0 {
                // Hand the records over without copying them: only the unfinished tail is copied.
                let rest = buffer.split_off(cut);
                let mut records = std::mem::replace(&mut buffer, rest);
                if start > 0 {
                    records.drain(..start);
                }
                if records.iter().any(|b| !b.is_ascii_whitespace())
                    && !feed.send(part, Body::Csv(records), chunk_line)
                {
                    return Ok(()); // every worker stopped; their error is reported
                }
                let lines_in_cut = if eof {
                    lines_scanned
                } else {
                    lines_at_boundary
                };
                scanned -= cut; // a `\r` held back at the end is still to be looked at
                line += lines_in_cut;
                lines_scanned -= lines_in_cut;
            }
        }
        feed.report();
        if eof {
            return Ok(());
        }
    }
}

/// What the reader needs to know of newly read bytes. Every quote character toggles between inside
/// and outside quotes (a doubled quote toggles twice).
#[derive(Debug, PartialEq)]
struct Scan {
    /// Line breaks in the bytes.
    lines: u64,
    /// Whether the bytes end inside quotes.
    in_quotes: bool,
    /// Just past the last line break outside quotes, and the line breaks after it.
    boundary: Option<(usize, u64)>,
    /// If the bytes end inside quotes opened among them: the line breaks before that quote.
    open_quote_lines: Option<u64>,
}

impl Scan {
    fn of(bytes: &[u8], quote: u8, in_quotes_before: bool) -> Scan {
        Scan::counted(bytes, quote, in_quotes_before)
            .unwrap_or_else(|| Scan::visited(bytes, quote, in_quotes_before))
    }

    /// Jumping from one quote or line break to the next: any line endings.
    fn visited(bytes: &[u8], quote: u8, in_quotes_before: bool) -> Scan {
        let mut scan = Scan {
            lines: 0,
            in_quotes: in_quotes_before,
            boundary: None,
            open_quote_lines: None,
        };
        let mut lines_at_boundary = 0;
        let mut i = 0;
        while let Some(offset) = memchr::memchr3(quote, b'\n', b'\r', &bytes[i..]) {
            i += offset;
            if bytes[i] == quote {
                if !scan.in_quotes {
                    scan.open_quote_lines = Some(scan.lines);
                }
                scan.in_quotes = !scan.in_quotes;
            } else if is_line_break(bytes, i) {
                scan.lines += 1;
                if !scan.in_quotes {
                    scan.boundary = Some((i + 1, 0));
                    lines_at_boundary = scan.lines;
                }
            }
            i += 1;
        }
        if let Some((_, after)) = &mut scan.boundary {
            *after = scan.lines - lines_at_boundary;
        }
        if !scan.in_quotes {
            scan.open_quote_lines = None;
        }
        scan
    }

    /// When the bytes hold no `\r` (every line ends with `\n`): by counting bytes with vector
    /// instructions instead of stopping at every line.
    fn counted(bytes: &[u8], quote: u8, in_quotes_before: bool) -> Option<Scan> {
        if memchr::memchr(b'\r', bytes).is_some() {
            return None;
        }
        let count = |bytes: &[u8], b: u8| memchr::memchr_iter(b, bytes).count() as u64;
        let lines = count(bytes, b'\n');
        let in_quotes = in_quotes_before ^ (count(bytes, quote) % 2 == 1);
        // Walk back over the line breaks: the state at each is the state at the end, toggled by
        // the quotes after it.
        let mut boundary = None;
        let (mut end, mut state, mut lines_after) = (bytes.len(), in_quotes, 0);
        while let Some(at) = memchr::memrchr(b'\n', &bytes[..end]) {
            state ^= count(&bytes[at + 1..end], quote) % 2 == 1;
            if !state {
                boundary = Some((at + 1, lines_after));
                break;
            }
            lines_after += 1;
            end = at;
        }
        // Inside quotes at the end: the last quote opened them, if it is among these bytes.
        let open_quote_lines = in_quotes
            .then(|| memchr::memrchr(quote, bytes))
            .flatten()
            .map(|at| count(&bytes[..at], b'\n'));
        Some(Scan {
            lines,
            in_quotes,
            boundary,
            open_quote_lines,
        })
    }
}

/// Whether `bytes[i]` ends a line: `\n`, or a `\r` not followed by `\n`.
fn is_line_break(bytes: &[u8], i: usize) -> bool {
    bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
}

/// A worker: chunks in, each parsed into typed columns and encoded as one row group, which goes to
/// the [`Sequencer`].
struct Worker<'a> {
    columns: &'a [Column],
    schema: &'a SchemaRef,
    factory: &'a ArrowRowGroupWriterFactory,
    sequencer: &'a Sequencer<'a>,
    stop: &'a AtomicBool,
    cancel: &'a AtomicBool,
}

impl Worker<'_> {
    fn run(&self, receiver: &Mutex<Receiver<Chunk>>) -> std::result::Result<(), PassError> {
        let columns = self.columns;
        let mut builders: Vec<ColumnBuilder> = columns
            .iter()
            .map(|c| ColumnBuilder::new(&c.column_type, BATCH_ROWS, BATCH_ROWS * 16))
            .collect();
        loop {
            if !self.sequencer.wait_for_room(self.stop, self.cancel) {
                return Ok(());
            }
            let next = receiver.lock().expect("queue lock").recv();
            let Ok(chunk) = next else { break };
            if self.stop.load(Ordering::Relaxed) || self.cancel.load(Ordering::Relaxed) {
                return Ok(());
            }
            let file = &chunk.part.label;
            let encoding_failed = |e| parquet_error(file, e);
            let mut group = GroupEncoder::new(self.factory, columns).map_err(encoding_failed)?;
            match &chunk.body {
                Body::Csv(bytes) => self.csv(&chunk, bytes, &mut builders, &mut group)?,
                Body::Cells(cells, rows) => {
                    self.cells(&chunk, cells, rows, &mut builders, &mut group)?
                }
                Body::Batch(batch) => group.write(self.schema, batch).map_err(encoding_failed)?,
            }
            let encoded = group.finish().map_err(encoding_failed)?;
            self.sequencer.submit(chunk.sequence, encoded)?;
        }
        Ok(())
    }

    /// Appends the builders' values to the row group as one batch.
    fn flush(
        &self,
        file: &Path,
        builders: &mut [ColumnBuilder],
        group: &mut GroupEncoder,
    ) -> std::result::Result<(), PassError> {
        let arrays: Vec<ArrayRef> = builders.iter_mut().map(ColumnBuilder::finish).collect();
        let batch =
            RecordBatch::try_new(self.schema.clone(), arrays).expect("columns match the schema");
        group
            .write(self.schema, &batch)
            .map_err(|e| parquet_error(file, e))
    }

    fn csv(
        &self,
        chunk: &Chunk,
        bytes: &[u8],
        builders: &mut [ColumnBuilder],
        group: &mut GroupEncoder,
    ) -> std::result::Result<(), PassError> {
        let (file, dialect, columns) = (&chunk.part.label, &chunk.part.dialect, self.columns);
        // Chunks are UTF-8 already (validated or transcoded by the reader); checked once here.
        // Chunks end at line breaks, so a character is never cut in two: an error here is a bad byte.
        let text = simdutf8::compat::from_utf8(bytes).map_err(|e| {
            let bad = e.valid_up_to();
            let row =
                chunk.first_line + (0..bad).filter(|i| is_line_break(bytes, *i)).count() as u64;
            PassError::Fatal(Error::InvalidBytes {
                file: file.to_path_buf(),
                row,
                encoding: Encoding::Utf8.name(),
            })
        })?;
        let decimal_comma_allowed = dialect.delimiter != b',';
        let mut rows_in_batch = 0usize;
        let records = Records::new(text, dialect.delimiter, dialect.quote, chunk.first_line);
        records.for_each(|line, fields| {
            if fields.len() != columns.len() {
                return Err(PassError::Fatal(Error::RaggedRow {
                    file: file.to_path_buf(),
                    row: line,
                    found: fields.len(),
                    expected: columns.len(),
                    what: if dialect.has_header {
                        "header"
                    } else {
                        "first row"
                    },
                }));
            }
            for (column, (builder, value)) in builders.iter_mut().zip(fields).enumerate() {
                if !builder.push(value) {
                    return Err(PassError::Mismatch {
                        file: file.clone(),
                        column,
                        row: line,
                        value: value.to_string(),
                        widened: columns[column]
                            .column_type
                            .widen(value.trim(), decimal_comma_allowed),
                    });
                }
            }
            rows_in_batch += 1;
            if rows_in_batch == BATCH_ROWS {
                self.flush(file, builders, group)?;
                rows_in_batch = 0;
            }
            Ok(())
        })?;
        if rows_in_batch > 0 {
            self.flush(file, builders, group)?;
        }
        Ok(())
    }

    fn cells(
        &self,
        chunk: &Chunk,
        cells: &[Cell],
        rows: &[u64],
        builders: &mut [ColumnBuilder],
        group: &mut GroupEncoder,
    ) -> std::result::Result<(), PassError> {
        let (file, columns) = (&chunk.part.label, self.columns);
        let mut rows_in_batch = 0usize;
        for (row, &line) in cells.chunks(columns.len().max(1)).zip(rows) {
            for (column, (builder, cell)) in builders.iter_mut().zip(row).enumerate() {
                if !builder.push_cell(cell) {
                    return Err(PassError::Mismatch {
                        file: file.clone(),
                        column,
                        row: line,
                        value: cell.text().map(|t| t.into_owned()).unwrap_or_default(),
                        widened: cell.widened(&columns[column].column_type),
                    });
                }
            }
            rows_in_batch += 1;
            if rows_in_batch == BATCH_ROWS {
                self.flush(file, builders, group)?;
                rows_in_batch = 0;
            }
        }
        if rows_in_batch > 0 {
            self.flush(file, builders, group)?;
        }
        Ok(())
    }
}

/// Rows per Arrow batch a worker builds before encoding it.
const BATCH_ROWS: usize = 64 * 1024;

/// One column being built from text, by the rules of [`crate::infer`]. Empty fields are nulls.
enum ColumnBuilder {
    Int(Int64Builder),
    Float(Float64Builder, bool),
    Bool(BooleanBuilder),
    Date(Date32Builder, DateOrder),
    Timestamp(TimestampMicrosecondBuilder),
    Text(StringBuilder),
}

impl ColumnBuilder {
    /// Room for `capacity` values (and `text_bytes` of text).
    fn new(column_type: &ColumnType, capacity: usize, text_bytes: usize) -> Self {
        match column_type {
            ColumnType::Int64 => ColumnBuilder::Int(Int64Builder::with_capacity(capacity)),
            ColumnType::Float64 { decimal_comma } => {
                ColumnBuilder::Float(Float64Builder::with_capacity(capacity), *decimal_comma)
            }
            ColumnType::Boolean => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            ColumnType::Date { order } => {
                ColumnBuilder::Date(Date32Builder::with_capacity(capacity), *order)
            }
            ColumnType::Timestamp => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            ColumnType::String => {
                ColumnBuilder::Text(StringBuilder::with_capacity(capacity, text_bytes))
            }
        }
    }

    /// Appends a value; false if it does not fit the column's type.
    fn push(&mut self, raw: &str) -> bool {
        if let ColumnBuilder::Text(b) = self {
            if raw.is_empty() {
                b.append_null()
            } else {
                b.append_value(raw)
            }
            return true;
        }
        // Most values start and end with a visible ASCII character: then there is nothing to trim.
        let value = match raw.as_bytes() {
            [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => raw,
            [only] if only.is_ascii_graphic() => raw,
            _ => raw.trim(),
        };
        macro_rules! put {
            ($builder:expr, $parsed:expr) => {{
                if value.is_empty() {
                    $builder.append_null();
                    return true;
                }
                match $parsed {
                    Some(v) => {
                        $builder.append_value(v);
                        true
                    }
                    None => false,
                }
            }};
        }
        match self {
            ColumnBuilder::Int(b) => put!(b, parse_int(value)),
            ColumnBuilder::Float(b, false) => put!(b, parse_float(value)),
            ColumnBuilder::Float(b, true) => put!(b, parse_float_comma(value)),
            ColumnBuilder::Bool(b) => put!(b, parse_bool(value)),
            ColumnBuilder::Date(b, order) => {
                let order = *order;
                put!(b, parse_date_days(value, order))
            }
            ColumnBuilder::Timestamp(b) => put!(b, parse_timestamp(value)),
            ColumnBuilder::Text(_) => unreachable!("handled above"),
        }
    }

    /// Appends a null.
    fn push_null(&mut self) {
        match self {
            ColumnBuilder::Int(b) => b.append_null(),
            ColumnBuilder::Float(b, _) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Date(b, _) => b.append_null(),
            ColumnBuilder::Timestamp(b) => b.append_null(),
            ColumnBuilder::Text(b) => b.append_null(),
        }
    }

    /// Appends a typed cell (raw text by the rules of [`Self::push`]); false if it does not fit.
    fn push_cell(&mut self, cell: &Cell) -> bool {
        match (&mut *self, cell) {
            (_, Cell::Null) => self.push_null(),
            (_, Cell::Raw(text)) => return self.push(text),
            (ColumnBuilder::Text(b), other) => match other.text() {
                Some(text) => b.append_value(text),
                None => b.append_null(),
            },
            (_, Cell::Text(text)) if text.is_empty() => self.push_null(),
            (ColumnBuilder::Int(b), Cell::Int(v)) => b.append_value(*v),
            (ColumnBuilder::Int(b), Cell::Float(v)) => match Cell::whole(*v) {
                Some(v) => b.append_value(v),
                None => return false,
            },
            (ColumnBuilder::Float(b, _), Cell::Int(v)) => b.append_value(*v as f64),
            (ColumnBuilder::Float(b, _), Cell::Float(v)) => b.append_value(*v),
            (ColumnBuilder::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (ColumnBuilder::Date(b, _), Cell::Date(days)) => b.append_value(*days),
            (ColumnBuilder::Date(b, _), Cell::Timestamp(micros)) => {
                match crate::cells::midnight_days(*micros) {
                    Some(days) => b.append_value(days),
                    None => return false,
                }
            }
            (ColumnBuilder::Timestamp(b), Cell::Timestamp(micros)) => b.append_value(*micros),
            (ColumnBuilder::Timestamp(b), Cell::Date(days)) => {
                b.append_value(crate::cells::date_micros(*days))
            }
            _ => return false,
        }
        true
    }

    /// The values so far, as an array. The builder starts again with room for as many (Arrow's
    /// `finish` would leave it empty, to grow and copy its buffers again batch after batch).
    fn finish(&mut self) -> ArrayRef {
        let capacity = self.len();
        let next = match self {
            ColumnBuilder::Int(_) => ColumnBuilder::Int(Int64Builder::with_capacity(capacity)),
            ColumnBuilder::Float(_, comma) => {
                ColumnBuilder::Float(Float64Builder::with_capacity(capacity), *comma)
            }
            ColumnBuilder::Bool(_) => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            ColumnBuilder::Date(_, order) => {
                ColumnBuilder::Date(Date32Builder::with_capacity(capacity), *order)
            }
            ColumnBuilder::Timestamp(_) => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            ColumnBuilder::Text(b) => ColumnBuilder::Text(StringBuilder::with_capacity(
                capacity,
                b.values_slice().len(),
            )),
        };
        match std::mem::replace(self, next) {
            ColumnBuilder::Int(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Float(mut b, _) => Arc::new(b.finish()),
            ColumnBuilder::Bool(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Date(mut b, _) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Text(mut b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        use deltalake::arrow::array::ArrayBuilder;
        match self {
            ColumnBuilder::Int(b) => b.len(),
            ColumnBuilder::Float(b, _) => b.len(),
            ColumnBuilder::Bool(b) => b.len(),
            ColumnBuilder::Date(b, _) => b.len(),
            ColumnBuilder::Timestamp(b) => b.len(),
            ColumnBuilder::Text(b) => b.len(),
        }
    }
}

/// The Arrow schema of a table with these columns.
pub(crate) fn arrow_schema(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| {
                let data_type = match c.column_type {
                    ColumnType::Int64 => DataType::Int64,
                    ColumnType::Float64 { .. } => DataType::Float64,
                    ColumnType::Boolean => DataType::Boolean,
                    ColumnType::Date { .. } => DataType::Date32,
                    ColumnType::Timestamp => {
                        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
                    }
                    ColumnType::String => DataType::Utf8,
                };
                Field::new(&c.name, data_type, true)
            })
            .collect::<Vec<_>>(),
    ))
}

/// The writer properties of every data file of a conversion.
fn writer_properties(columns: &[Column], codec: Codec) -> WriterProperties {
    // Dictionaries pay off for text (names, categories); for numbers and times they cost more
    // than they save. Row-group statistics are all the Delta log needs; for text columns
    // they come from `TextBounds`.
    let mut builder = WriterProperties::builder()
        .set_compression(codec.parquet())
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::Chunk);
    for column in columns.iter().filter(|c| c.repetitive) {
        builder =
            builder.set_column_dictionary_enabled(ColumnPath::from(column.name.as_str()), true);
    }
    for column in columns
        .iter()
        .filter(|c| c.column_type == ColumnType::String)
    {
        builder = builder.set_column_statistics_enabled(
            ColumnPath::from(column.name.as_str()),
            EnabledStatistics::None,
        );
    }
    // Whole numbers, dates and timestamps as deltas, bit-packed: a third of the plain size for
    // ids, counts and times, and less left for Snappy to compress.
    for column in columns.iter().filter(|c| {
        matches!(
            c.column_type,
            ColumnType::Int64 | ColumnType::Date { .. } | ColumnType::Timestamp
        )
    }) {
        builder = builder.set_column_encoding(
            ColumnPath::from(column.name.as_str()),
            ParquetEncoding::DELTA_BINARY_PACKED,
        );
    }
    // Values go to the column writers 8192 at a time (not 1024): fewer page-size checks per row,
    // measured 3% faster end to end.
    builder.set_write_batch_size(8192).build()
}

/// A worker's row group in progress: a writer per column (encoding and compressing into memory),
/// and the bounds of the text columns.
///
/// Written through Parquet's column writers rather than `ArrowWriter`, for two reasons. Row groups
/// are encoded on every core and then written to the files in order by one [`Sequencer`]. And the
/// minimum and maximum of text columns: `ArrowWriter` finds them by comparing every value through
/// `memcmp` (9% of a whole conversion, measured); [`TextBounds`] compares an eight-byte prefix first,
/// and the result goes into each column chunk's statistics, where readers (and
/// [`crate::read_footer`]) find it as they would `ArrowWriter`'s.
struct GroupEncoder {
    writers: Vec<ArrowColumnWriter>,
    text: Vec<Option<TextBounds>>,
    rows: u64,
}

/// A row group encoded in memory, not yet in any file.
struct EncodedGroup {
    columns: Vec<ArrowColumnChunk>,
    rows: u64,
}

type ParquetResult<T> = std::result::Result<T, deltalake::parquet::errors::ParquetError>;

impl GroupEncoder {
    fn new(factory: &ArrowRowGroupWriterFactory, columns: &[Column]) -> ParquetResult<Self> {
        Ok(GroupEncoder {
            // The index only matters to encrypted files.
            writers: factory.create_column_writers(0)?,
            text: columns
                .iter()
                .map(|c| (c.column_type == ColumnType::String).then(TextBounds::default))
                .collect(),
            rows: 0,
        })
    }

    fn write(&mut self, schema: &SchemaRef, batch: &RecordBatch) -> ParquetResult<()> {
        for (i, (writer, field)) in self.writers.iter_mut().zip(schema.fields()).enumerate() {
            let column = batch.column(i);
            for leaf in compute_leaves(field, column)? {
                writer.write(&leaf)?;
            }
            if let Some(bounds) = &mut self.text[i] {
                bounds.add(column.as_string::<i32>());
            }
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn finish(self) -> ParquetResult<EncodedGroup> {
        let mut columns = Vec::with_capacity(self.writers.len());
        for (writer, bounds) in self.writers.into_iter().zip(self.text) {
            let mut chunk = writer.close()?;
            if let Some(bounds) = bounds {
                let close = chunk.close_mut();
                close.metadata = close
                    .metadata
                    .clone()
                    .into_builder()
                    .set_statistics(bounds.statistics())
                    .build()?;
            }
            columns.push(chunk);
        }
        Ok(EncodedGroup {
            columns,
            rows: self.rows,
        })
    }
}

/// The ordered stage of a pass: row groups arrive from the workers in any order and are appended to
/// the table's files in chunk order. A file is closed once it reaches the target size and the next
/// begun, so each file holds consecutive chunks and files are registered in `tracker` in order.
/// Whichever worker hands over the next group in order appends it, and any that were waiting for it.
struct Sequencer<'a> {
    queue: Mutex<Sequence>,
    /// Signalled when groups left `pending`.
    room: Condvar,
    /// At most this many groups wait for an earlier one (bounded memory).
    most_pending: usize,
    table_dir: &'a Path,
    schema: SchemaRef,
    properties: WriterProperties,
    codec: Codec,
    private: bool,
    columns: &'a [Column],
    target_file_bytes: usize,
    tracker: &'a Mutex<Vec<WrittenFile>>,
    watch: &'a (dyn Fn(FileEvent) + Sync),
}

struct Sequence {
    /// The chunk whose group is to be appended next.
    next: u64,
    /// Groups of later chunks, waiting for it.
    pending: BTreeMap<u64, EncodedGroup>,
    output: Option<OpenFile>,
}

impl Sequencer<'_> {
    /// Waits until few enough groups wait to be appended; false if the pass stopped meanwhile.
    ///
    /// A worker calls this before it takes a chunk, so the chunk that `next` names has been taken
    /// already (chunks are taken in order) by a worker that is not waiting here: room comes.
    fn wait_for_room(&self, stop: &AtomicBool, cancel: &AtomicBool) -> bool {
        let mut queue = self.queue.lock().expect("sequence lock");
        loop {
            if stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
                return false;
            }
            if queue.pending.len() < self.most_pending {
                return true;
            }
            // A timeout, so that a stop (which nobody signals here) is seen too.
            queue = self
                .room
                .wait_timeout(queue, Duration::from_millis(20))
                .expect("sequence lock")
                .0;
        }
    }

    /// Takes the group of chunk `sequence`; appends it, and the groups waiting for it, if it is next.
    fn submit(&self, sequence: u64, group: EncodedGroup) -> std::result::Result<(), PassError> {
        let mut queue = self.queue.lock().expect("sequence lock");
        let Sequence {
            next,
            pending,
            output,
        } = &mut *queue;
        pending.insert(sequence, group);
        let mut appended = false;
        while let Some(group) = pending.remove(next) {
            *next += 1;
            appended = true;
            self.append(output, group)?;
        }
        if appended {
            self.room.notify_all();
        }
        Ok(())
    }

    fn append(
        &self,
        output: &mut Option<OpenFile>,
        group: EncodedGroup,
    ) -> std::result::Result<(), PassError> {
        if group.rows == 0 {
            return Ok(());
        }
        let open = match output {
            Some(open) => open,
            None => output.insert(OpenFile::new(
                self.table_dir,
                self.schema.clone(),
                self.properties.clone(),
                self.codec,
                self.private,
                self.tracker,
            )?),
        };
        open.append(group)?;
        if open.size() >= self.target_file_bytes {
            let full = output.take().expect("open");
            full.close(self.tracker, self.columns, self.watch)?;
        }
        Ok(())
    }

    /// Closes the last file, once every worker has stopped without an error.
    fn finish(self) -> std::result::Result<(), PassError> {
        let queue = self.queue.into_inner().expect("sequence lock");
        debug_assert!(queue.pending.is_empty(), "every chunk's group was appended");
        match queue.output {
            Some(open) => open.close(self.tracker, self.columns, self.watch),
            None => Ok(()),
        }
    }
}

/// A Parquet file being written by the [`Sequencer`].
struct OpenFile {
    name: String,
    path: PathBuf,
    writer: SerializedFileWriter<File>,
    rows: u64,
}

static FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

impl OpenFile {
    fn new(
        dir: &Path,
        schema: SchemaRef,
        properties: WriterProperties,
        codec: Codec,
        private: bool,
        tracker: &Mutex<Vec<WrittenFile>>,
    ) -> std::result::Result<Self, PassError> {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("randomness");
        let n = FILE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "part-{n:05}-{}-c000{}.parquet",
            hex::encode(random),
            codec.suffix()
        );
        let path = dir.join(&name);
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let file = open.open(&path).map_err(|source| Error::Io {
            file: path.clone(),
            source,
        })?;
        // Registered at once, so that a failure removes it too.
        tracker.lock().expect("tracker lock").push(WrittenFile {
            name: name.clone(),
            size: 0,
            rows: 0,
            stats: String::new(),
        });
        // `ArrowWriter` sets the file up (the Arrow schema in the footer); its parts do the rest.
        let (writer, _) = ArrowWriter::try_new(file, schema, Some(properties))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(|e| parquet_error(&path, e))?;
        Ok(OpenFile {
            name,
            path,
            writer,
            rows: 0,
        })
    }

    fn append(&mut self, group: EncodedGroup) -> std::result::Result<(), PassError> {
        let failed = |e| parquet_error(&self.path, e);
        let mut row_group = self.writer.next_row_group().map_err(failed)?;
        for chunk in group.columns {
            chunk.append_to_row_group(&mut row_group).map_err(failed)?;
        }
        row_group.close().map_err(failed)?;
        self.rows += group.rows;
        Ok(())
    }

    fn size(&self) -> usize {
        self.writer.bytes_written()
    }

    fn close(
        self,
        tracker: &Mutex<Vec<WrittenFile>>,
        columns: &[Column],
        watch: &(dyn Fn(FileEvent) + Sync),
    ) -> std::result::Result<(), PassError> {
        let metadata = self
            .writer
            .close()
            .map_err(|e| parquet_error(&self.path, e))?;
        let size = std::fs::metadata(&self.path)
            .map_err(|source| Error::Io {
                file: self.path.clone(),
                source,
            })?
            .len();
        let stats = crate::stats::file_stats(&metadata, columns, self.rows);
        {
            let mut tracker = tracker.lock().expect("tracker lock");
            if let Some(entry) = tracker.iter_mut().find(|f| f.name == self.name) {
                *entry = WrittenFile {
                    name: self.name,
                    size,
                    rows: self.rows,
                    stats,
                };
            }
        }
        watch(FileEvent::Closed {
            path: &self.path,
            size,
        });
        Ok(())
    }
}

/// Makes `dir` (0700 on Unix) unless it exists.
fn private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(Error::Io {
            file: dir.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn parquet_error(path: &Path, error: deltalake::parquet::errors::ParquetError) -> PassError {
    PassError::Fatal(Error::Io {
        file: path.to_path_buf(),
        source: std::io::Error::other(error.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::Scan;

    #[test]
    fn counting_agrees_with_visiting() {
        let mut next = crate::testing::draws(11);
        for _ in 0..5000 {
            let bytes: Vec<u8> = (0..next(60)).map(|_| b"ab,\"\n"[next(5)]).collect();
            for before in [false, true] {
                let counted = Scan::counted(&bytes, b'"', before).expect("no \\r");
                assert_eq!(
                    counted,
                    Scan::visited(&bytes, b'"', before),
                    "{bytes:?} {before}"
                );
            }
        }
        assert_eq!(Scan::counted(b"a\r\nb", b'"', false), None);
    }
}
