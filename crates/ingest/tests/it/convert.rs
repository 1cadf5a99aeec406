//! Converting whole files: versions, widening, bad input beyond the preview head, cancellation.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use delta_bridge_ingest::{ConvertOptions, Converted, Error, Mode, OnMismatch, convert};
use deltalake::arrow::array::{Array, RecordBatch};
use deltalake::arrow::util::display::array_value_to_string;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn csv_file(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

fn run(file: &Path, table: &Path, options: &ConvertOptions) -> Result<Converted, Error> {
    convert(file, table, options, &|_| {}, &AtomicBool::new(false))
}

/// Every row of the table's current version, as text, sorted; read through the Delta log.
fn table_rows(table: &Path) -> Vec<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = url::Url::from_directory_path(std::fs::canonicalize(table).unwrap()).unwrap();
    let files: Vec<String> = runtime.block_on(async {
        let t = deltalake::open_table(url).await.unwrap();
        t.snapshot()
            .unwrap()
            .log_data()
            .iter()
            .map(|f| f.path().to_string())
            .collect()
    });
    let mut rows = file_rows(table, &files);
    rows.sort();
    rows
}

/// Every row of these data files of a table, in order, as text (`∅` for null).
pub(crate) fn file_rows(table: &Path, files: &[String]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for file in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(table.join(file)).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for batch in reader {
            let batch: RecordBatch = batch.unwrap();
            for r in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .map(|c| {
                            if c.is_null(r) {
                                "∅".to_string()
                            } else {
                                array_value_to_string(c, r).unwrap()
                            }
                        })
                        .collect(),
                );
            }
        }
    }
    rows
}

fn parquet_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".parquet")
            })
            .count()
        })
        .unwrap_or(0)
}

#[test]
fn create_append_overwrite_make_versions() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t");
    let first = csv_file(
        dir.path(),
        "a.csv",
        b"id,zip,day,ok\n1,02139,2024-01-31,true\n2,,2024-02-01,false\n",
    );
    let created = run(&first, &table, &ConvertOptions::default()).unwrap();
    assert_eq!((created.version, created.rows), (0, 2));
    assert_eq!(
        table_rows(&table),
        [
            ["1", "02139", "2024-01-31", "true"],
            ["2", "∅", "2024-02-01", "false"]
        ]
    );
    let second = csv_file(
        dir.path(),
        "b.csv",
        b"id,zip,day,ok\n3,00501,2024-03-01,true\n",
    );
    let appended = run(
        &second,
        &table,
        &ConvertOptions {
            mode: Mode::Append,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((appended.version, table_rows(&table).len()), (1, 3));
    let replaced = run(
        &second,
        &table,
        &ConvertOptions {
            mode: Mode::Overwrite,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(replaced.version, 2);
    assert_eq!(table_rows(&table), [["3", "00501", "2024-03-01", "true"]]);

    let again = run(&first, &table, &ConvertOptions::default()).unwrap_err();
    assert!(matches!(again, Error::TableExists { .. }), "{again}");
    let other = csv_file(dir.path(), "c.csv", b"name,amount\nx,1.5\n");
    let before = parquet_files(&table);
    let mismatch = run(
        &other,
        &table,
        &ConvertOptions {
            mode: Mode::Append,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(mismatch, Error::SchemaMismatch { .. }),
        "{mismatch}"
    );
    assert!(mismatch.to_string().contains("differ from the table"));
    assert_eq!(
        parquet_files(&table),
        before,
        "a refused append leaves no files behind"
    );
    let missing = run(
        &other,
        &dir.path().join("none"),
        &ConvertOptions {
            mode: Mode::Append,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(missing, Error::NoTable { .. }));
}

/// 20,000 integer rows, then one value that is not an integer: past the preview's sample.
fn late_surprise(value: &str) -> Vec<u8> {
    let mut text = String::from("n,label\n");
    for i in 0..20_000 {
        text.push_str(&format!("{i},row {i}\n"));
    }
    text.push_str(&format!("{value},late\n"));
    text.into_bytes()
}

#[test]
fn values_that_do_not_fit_widen_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = csv_file(dir.path(), "late.csv", &late_surprise("2.5"));
    let converted = run(&file, &dir.path().join("t"), &ConvertOptions::default()).unwrap();
    assert_eq!(converted.schema[0].column_type.name(), "float64");
    assert_eq!(converted.widened.len(), 1);
    assert_eq!(
        (
            converted.widened[0].row,
            converted.widened[0].value.as_str()
        ),
        (20_002, "2.5")
    );
    assert_eq!(converted.rows, 20_001);
    let file = csv_file(dir.path(), "late2.csv", &late_surprise("n/a"));
    let converted = run(&file, &dir.path().join("t2"), &ConvertOptions::default()).unwrap();
    assert_eq!(converted.schema[0].column_type.name(), "string");
    assert!(
        table_rows(&dir.path().join("t2"))
            .iter()
            .any(|r| r[0] == "n/a")
    );
}

#[test]
fn values_that_do_not_fit_fail_with_row_column_and_value_when_strict() {
    let dir = tempfile::tempdir().unwrap();
    let file = csv_file(dir.path(), "late.csv", &late_surprise("2.5"));
    let table = dir.path().join("t");
    let err = run(
        &file,
        &table,
        &ConvertOptions {
            on_mismatch: OnMismatch::Fail,
            ..Default::default()
        },
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, Error::ValueDoesNotFit { row: 20_002, .. }),
        "{message}"
    );
    assert!(
        message.contains("late.csv")
            && message.contains("column 'n'")
            && message.contains("'2.5' is not a int64"),
        "{message}"
    );
    assert!(!table.exists(), "nothing that looks like a table is left");
}

#[test]
fn rows_are_named_by_their_line_whatever_the_line_endings_and_block_boundaries() {
    // Records of 16 bytes and a header padded by 0 to 15 bytes: with every line ending, some
    // block of the reader ends on each byte of a record (a `\r` included), and a quoted field
    // holds a line break. The bad value's line must come out the same every time.
    let dir = tempfile::tempdir().unwrap();
    for ending in ["\n", "\r\n", "\r"] {
        for pad in 0..16 {
            let mut text = format!("n,label{}{ending}", "_".repeat(pad));
            text.push_str(&format!("1,\"two{ending}lines\"{ending}"));
            for i in 0..20_000 {
                text.push_str(&format!("{},abcdefgh{ending}", 100_000 + i));
            }
            text.push_str(&format!("2.5,late{ending}"));
            let file = csv_file(dir.path(), "endings.csv", text.as_bytes());
            let table = dir.path().join("t");
            let options = ConvertOptions {
                on_mismatch: OnMismatch::Fail,
                block_bytes: 64 << 10,
                ..Default::default()
            };
            let err = run(&file, &table, &options).unwrap_err();
            // Line 1 is the header, lines 2 and 3 the quoted field, then 20,000 records.
            assert!(
                matches!(err, Error::ValueDoesNotFit { row: 20_004, .. }),
                "{ending:?} pad {pad}: {err}"
            );
            assert!(!table.exists());
        }
    }
}

#[test]
fn bad_rows_after_the_preview_head_name_their_line_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = late_surprise("1");
    bytes.extend_from_slice(b"5\n");
    let file = csv_file(dir.path(), "ragged.csv", &bytes);
    let table = dir.path().join("t");
    let err = run(&file, &table, &ConvertOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RaggedRow {
                row: 20_003,
                found: 1,
                expected: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(!table.exists());

    let mut bytes = late_surprise("1");
    bytes.extend_from_slice(b"7,\"never closed\n8,x\n");
    let file = csv_file(dir.path(), "quote.csv", &bytes);
    let err = run(&file, &table, &ConvertOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::UnterminatedQuote { row: 20_003, .. }),
        "{err}"
    );
    assert!(!table.exists());

    // Past the 1 MiB the preview reads (which decides the encoding), a byte that is not UTF-8.
    let mut bytes = b"n,label\n".to_vec();
    for i in 0..100_000 {
        bytes.extend_from_slice(format!("{i},row {i}\n").as_bytes());
    }
    bytes.extend_from_slice(b"9,caf\xC3\n");
    let file = csv_file(dir.path(), "utf8.csv", &bytes);
    let err = run(&file, &table, &ConvertOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidBytes { row: 100_002, .. }),
        "{err}"
    );
    assert!(!table.exists());
}

#[test]
fn header_only_and_empty_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t");
    let err = run(
        &csv_file(dir.path(), "h.csv", b"a,b\n"),
        &table,
        &ConvertOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NoData { .. }), "{err}");
    let err = run(
        &csv_file(dir.path(), "e.csv", b""),
        &table,
        &ConvertOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Empty { .. }), "{err}");
    assert!(!table.exists());
}

#[test]
fn an_early_bad_value_in_a_long_file_does_not_stall_the_reader() {
    // The first chunk fails (a value that does not fit) while the reader still has many to
    // hand over: the workers stop, and the reader must not wait for them forever.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("n,label\n");
    for i in 0..230_000 {
        let n = if i == 30_000 {
            "2.5".to_string()
        } else {
            i.to_string()
        };
        text.push_str(&format!("{n},row {i}\n"));
    }
    let file = csv_file(dir.path(), "early.csv", text.as_bytes());
    for on_mismatch in [OnMismatch::Fail, OnMismatch::Widen] {
        for round in 0..5 {
            let table = dir.path().join(format!("t-{round}-{on_mismatch:?}"));
            let options = ConvertOptions {
                on_mismatch,
                block_bytes: 64 << 10,
                threads: Some(2),
                ..Default::default()
            };
            let result = run(&file, &table, &options);
            match on_mismatch {
                OnMismatch::Fail => {
                    assert!(matches!(
                        result,
                        Err(Error::ValueDoesNotFit { row: 30_002, .. })
                    ));
                }
                OnMismatch::Widen => assert_eq!(result.unwrap().rows, 230_000),
            }
        }
    }
}

#[test]
fn cancelling_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let file = csv_file(dir.path(), "big.csv", &late_surprise("1").repeat(20));
    let table = dir.path().join("t");
    let cancel = AtomicBool::new(false);
    let options = ConvertOptions {
        block_bytes: 64 << 10,
        ..Default::default()
    };
    let err = convert(
        &file,
        &table,
        &options,
        &|p| {
            if p.bytes_done > p.bytes_total / 3 {
                cancel.store(true, Ordering::Relaxed)
            }
        },
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err}");
    assert!(!table.exists());
}

#[test]
fn progress_reaches_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let file = csv_file(dir.path(), "p.csv", &late_surprise("1"));
    let last = std::sync::Mutex::new(None);
    let options = ConvertOptions {
        block_bytes: 64 << 10,
        ..Default::default()
    };
    convert(
        &file,
        &dir.path().join("t"),
        &options,
        &|p| *last.lock().unwrap() = Some(p),
        &AtomicBool::new(false),
    )
    .unwrap();
    let last = last.into_inner().unwrap().unwrap();
    assert_eq!(last.bytes_done, last.bytes_total);
}

#[test]
fn quoted_fields_across_blocks_and_other_encodings() {
    let dir = tempfile::tempdir().unwrap();
    // Multi-line quoted fields, many of them, read in small blocks so records straddle block edges.
    let mut text = String::from("id;comment\r\n");
    for i in 0..30_000 {
        text.push_str(&format!("{i};\"line one; {i}\r\nline \"\"two\"\"\"\r\n"));
    }
    let encoded: Vec<u8> = text.chars().map(|c| c as u8).collect(); // ASCII, so also Windows-1252
    let mut with_accent = encoded.clone();
    with_accent.extend_from_slice(b"30000;caf\xE9\r\n");
    let file = csv_file(dir.path(), "q.csv", &with_accent);
    // The head is plain ASCII, so only the caller knows the file is Windows-1252; without saying so the
    // late byte is an error naming its line.
    let err = run(&file, &dir.path().join("t"), &ConvertOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidBytes { row: 60_002, .. }),
        "{err}"
    );
    let read = delta_bridge_ingest::Options {
        encoding: Some(delta_bridge_ingest::Encoding::Windows1252),
        ..Default::default()
    };
    let options = ConvertOptions {
        block_bytes: 64 << 10,
        read,
        ..Default::default()
    };
    let converted = convert(
        &file,
        &dir.path().join("t"),
        &options,
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(converted.rows, 30_001);
    let rows = table_rows(&dir.path().join("t"));
    assert!(rows.iter().any(|r| r[1] == "café"), "Windows-1252 decoded");
    assert!(rows.iter().any(|r| r[1] == "line one; 7\r\nline \"two\""));
}

#[test]
fn add_actions_carry_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let file = csv_file(
        dir.path(),
        "s.csv",
        b"n,s,t,u\n5,b,2024-01-01T00:00:00Z,y\n,a,,\n9,c,2024-01-02T00:00:00.123456Z,x\n",
    );
    let table = dir.path().join("t");
    run(&file, &table, &ConvertOptions::default()).unwrap();
    let log = std::fs::read_to_string(table.join("_delta_log/00000000000000000000.json")).unwrap();
    let add = log.lines().find(|l| l.contains("\"add\"")).unwrap();
    let add: serde_json::Value = serde_json::from_str(add).unwrap();
    let stats: serde_json::Value =
        serde_json::from_str(add["add"]["stats"].as_str().unwrap()).unwrap();
    assert_eq!(stats["numRecords"], 3);
    assert_eq!(
        (
            stats["minValues"]["n"].clone(),
            stats["maxValues"]["n"].clone()
        ),
        (5.into(), 9.into())
    );
    assert_eq!(stats["nullCount"]["n"], 1);
    assert_eq!(stats["minValues"]["s"], "a");
    assert_eq!(stats["maxValues"]["t"], "2024-01-02T00:00:00.123Z");
    assert_eq!(
        (
            &stats["minValues"]["u"],
            &stats["maxValues"]["u"],
            &stats["nullCount"]["u"]
        ),
        (&"x".into(), &"y".into(), &1.into())
    );
    assert_eq!(
        (&stats["maxValues"]["s"], &stats["nullCount"]["s"]),
        (&"c".into(), &0.into())
    );
    // The file's own footer says the same (the backend commits uploads from their footers).
    let data = std::fs::read(table.join(add["add"]["path"].as_str().unwrap())).unwrap();
    let footer = delta_bridge_ingest::read_footer(&data).unwrap();
    let from_footer: serde_json::Value = serde_json::from_str(&footer.stats).unwrap();
    assert_eq!(from_footer, stats);
}

#[test]
fn a_one_megabyte_field_and_ten_thousand_columns_convert() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"id,blob\n1,\"".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 1 << 20));
    bytes.extend(b"\"\n2,small\n");
    let file = csv_file(dir.path(), "field.csv", &bytes);
    let converted = run(&file, &dir.path().join("t1"), &ConvertOptions::default()).unwrap();
    assert_eq!(converted.rows, 2);
    assert!(
        table_rows(&dir.path().join("t1"))
            .iter()
            .any(|r| r[1].len() == 1 << 20)
    );

    let header: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
    let mut text = header.join(",") + "\n";
    for r in 0..3 {
        text += &(0..10_000)
            .map(|i| (i * r).to_string())
            .collect::<Vec<_>>()
            .join(",");
        text += "\n";
    }
    let file = csv_file(dir.path(), "wide.csv", text.as_bytes());
    let converted = run(&file, &dir.path().join("t2"), &ConvertOptions::default()).unwrap();
    assert_eq!((converted.rows, converted.schema.len()), (3, 10_000));
}
