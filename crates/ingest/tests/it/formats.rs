//! Inputs beyond a plain CSV: TSV, gzip, zip, JSON, NDJSON, Parquet (workbooks are tested from
//! Python, against openpyxl, in `cli/tests/python/test_formats.py`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use delta_bridge_ingest::{
    ColumnType, ConvertOptions, Converted, Error, Format, OnMismatch, Options, convert, preview,
    table_files,
};
use deltalake::arrow::array::{
    ArrayRef, Decimal128Array, Float32Array, Int32Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use deltalake::parquet::arrow::ArrowWriter;

use crate::convert::file_rows;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

fn run(file: &Path, table: &Path, strict: bool) -> Result<Converted, Error> {
    let options = ConvertOptions {
        on_mismatch: if strict {
            OnMismatch::Fail
        } else {
            OnMismatch::Widen
        },
        block_bytes: 64 << 10,
        ..Default::default()
    };
    convert(file, table, &options, &|_| {}, &AtomicBool::new(false))
}

/// The table's rows in log order, as text.
fn rows(table: &Path) -> Vec<Vec<String>> {
    file_rows(table, &table_files(table).unwrap())
}

fn types(converted: &Converted) -> Vec<&'static str> {
    converted
        .schema
        .iter()
        .map(|c| c.column_type.name())
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn a_multi_member_gzip_reads_every_member_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("id,name\n");
    for i in 0..50_000 {
        body += &format!("{i},n{i}\n");
    }
    let (first, second) = body.split_at(body.len() / 2 + 3);
    let mut bytes = gzip(first.as_bytes());
    bytes.extend(gzip(second.as_bytes()));
    let file = write(dir.path(), "data.csv.gz", &bytes);
    assert_eq!(Format::of(&file), Format::Gzip);
    let p = preview(&file, &Options::default()).unwrap();
    assert_eq!(p.format, Format::Gzip);
    assert_eq!(p.columns[0].column_type, ColumnType::Int64);
    let table = dir.path().join("t");
    let converted = run(&file, &table, false).unwrap();
    assert_eq!(converted.rows, 50_000);
    let rows = rows(&table);
    assert_eq!(rows[0], ["0", "n0"]);
    assert_eq!(rows[49_999], ["49999", "n49999"]);
    assert!(
        rows.windows(2)
            .all(|w| w[0][0].parse::<u64>().unwrap() + 1 == w[1][0].parse::<u64>().unwrap())
    );
}

#[test]
fn a_damaged_gzip_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("id,name\n");
    for i in 0..200_000 {
        body += &format!("{i},n{i}\n");
    }
    let mut bytes = gzip(body.as_bytes());
    bytes.truncate(bytes.len() / 2);
    let file = write(dir.path(), "cut.csv.gz", &bytes);
    let table = dir.path().join("t");
    let e = run(&file, &table, false).unwrap_err();
    assert!(e.to_string().contains("cut.csv.gz"), "{e}");
    assert!(!table.exists());
}

#[test]
fn a_tsv_is_read_with_tabs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "a.tsv", b"a\tb\n1\tx,y\n2\tz\n");
    let table = dir.path().join("t");
    let converted = run(&file, &table, false).unwrap();
    assert_eq!(types(&converted), ["int64", "string"]);
    assert_eq!(rows(&table), [["1", "x,y"], ["2", "z"]]);
}

fn zip_of(dir: &Path, name: &str, members: &[(&str, &str)]) -> PathBuf {
    let path = dir.join(name);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (member, text) in members {
        zip.start_file(*member, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    path
}

#[test]
fn a_zip_of_csvs_with_the_same_columns_is_one_version_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = zip_of(
        dir.path(),
        "months.zip",
        &[
            ("2024-02.csv", "day;amount\n2024-02-01;2,5\n"),
            ("__MACOSX/._2024-01.csv", "junk"),
            ("2024-01.csv", "day,amount\n2024-01-01,1\n2024-01-02,3\n"),
        ],
    );
    let table = dir.path().join("t");
    let converted = run(&file, &table, false).unwrap();
    assert_eq!(converted.version, 0);
    assert_eq!(converted.rows, 3);
    assert_eq!(
        rows(&table),
        [
            ["2024-01-01", "1.0"],
            ["2024-01-02", "3.0"],
            ["2024-02-01", "2.5"]
        ]
    );
}

#[test]
fn a_zip_of_csvs_with_other_columns_is_refused_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = zip_of(
        dir.path(),
        "mixed.zip",
        &[
            ("a.csv", "id,name\n1,x\n"),
            ("b.csv", "id,name\n2,y\n"),
            ("c.csv", "id,price\n3,4\n"),
        ],
    );
    let table = dir.path().join("t");
    let e = run(&file, &table, false).unwrap_err().to_string();
    assert!(
        e.contains("mixed.zip") && e.contains("c.csv") && !e.contains("b.csv"),
        "{e}"
    );
    assert!(!table.exists());
}

#[test]
fn a_bad_row_in_a_zip_member_names_the_member_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let file = zip_of(
        dir.path(),
        "z.zip",
        &[
            ("a.csv", "id,name\n1,x\n"),
            ("b.csv", "id,name\n2,y\n3,z,extra\n"),
        ],
    );
    let e = run(&file, &dir.path().join("t"), false).unwrap_err();
    assert_eq!(e.row(), Some(3));
    assert!(e.to_string().contains("z.zip/b.csv"), "{e}");
}

#[test]
fn ndjson_flattens_types_and_keeps_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "events.ndjson",
        br#"{"id": 1, "when": "2024-01-05", "user": {"name": "ana", "geo": {"city": "Lyon", "deep": {"x": 1}}}, "tags": ["a", "b"], "ok": true, "code": "007"}

{"id": 2, "when": "2024-01-06", "user": {"name": "bo"}, "tags": [], "ok": false, "code": "010", "score": 1.5}
"#,
    );
    let table = dir.path().join("t");
    let converted = run(&file, &table, false).unwrap();
    let names: Vec<&str> = converted.schema.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "when",
            "user_name",
            "user_geo_city",
            "user_geo_deep",
            "tags",
            "ok",
            "code",
            "score"
        ]
    );
    assert_eq!(
        types(&converted),
        [
            "int64", "date", "string", "string", "string", "string", "boolean", "string", "float64"
        ]
    );
    assert_eq!(
        rows(&table),
        [
            [
                "1",
                "2024-01-05",
                "ana",
                "Lyon",
                r#"{"x":1}"#,
                r#"["a","b"]"#,
                "true",
                "007",
                "∅"
            ],
            [
                "2",
                "2024-01-06",
                "bo",
                "∅",
                "∅",
                "[]",
                "false",
                "010",
                "1.5"
            ],
        ]
    );
}

#[test]
fn an_ndjson_line_that_is_not_json_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.ndjson",
        b"{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3,\n{\"a\": 4}\n",
    );
    let table = dir.path().join("t");
    let e = run(&file, &table, false).unwrap_err();
    assert_eq!(e.row(), Some(3), "{e}");
    assert!(e.to_string().contains("bad.ndjson"), "{e}");
    assert!(!table.exists());
    let file = write(dir.path(), "array.ndjson", b"{\"a\": 1}\n[1, 2]\n");
    let e = run(&file, &table, false).unwrap_err().to_string();
    assert!(e.contains("row 2") && e.contains("an array"), "{e}");
}

/// A JSON array whose 20,001st record brings a key the preview's sample never saw.
fn late_key(dir: &Path) -> PathBuf {
    let mut text = String::from("[\n");
    for i in 0..20_000 {
        text += &format!("{{\"id\": {i}}},\n");
    }
    text += "{\"id\": 20000, \"note\": \"late\"}\n]";
    write(dir, "late.json", text.as_bytes())
}

#[test]
fn a_key_first_seen_late_becomes_a_column_or_with_strict_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = late_key(dir.path());
    let table = dir.path().join("t");
    let converted = run(&file, &table, false).unwrap();
    assert_eq!(types(&converted), ["int64", "string"]);
    assert!(
        converted
            .warnings
            .iter()
            .any(|w| w.contains("note") && w.contains("20001")),
        "{:?}",
        converted.warnings
    );
    let rows = rows(&table);
    assert_eq!(rows.len(), 20_001);
    assert_eq!(rows[0], ["0", "∅"]);
    assert_eq!(rows[20_000], ["20000", "late"]);
    let strict_table = dir.path().join("s");
    let e = run(&file, &strict_table, true).unwrap_err();
    assert!(matches!(e, Error::NewKey { row: 20_001, .. }), "{e}");
    assert!(!strict_table.exists());
}

#[test]
fn a_json_value_that_does_not_fit_widens_or_fails_naming_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("[");
    for i in 0..12_000 {
        text += &format!("{{\"n\": {i}}},");
    }
    text += "{\"n\": \"n/a\"}]";
    let file = write(dir.path(), "w.json", text.as_bytes());
    let converted = run(&file, &dir.path().join("t"), false).unwrap();
    assert_eq!(types(&converted), ["string"]);
    assert_eq!(converted.widened[0].row, 12_001);
    let e = run(&file, &dir.path().join("s"), true).unwrap_err();
    assert_eq!((e.row(), e.column()), (Some(12_001), Some("n")));
}

#[test]
fn cancelling_a_json_conversion_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = late_key(dir.path());
    let table = dir.path().join("t");
    let cancel = AtomicBool::new(true);
    let e = convert(&file, &table, &ConvertOptions::default(), &|_| {}, &cancel).unwrap_err();
    assert!(matches!(e, Error::Cancelled { .. }), "{e}");
    assert!(!table.exists());
}

fn parquet_file(dir: &Path, name: &str, batch: RecordBatch) -> PathBuf {
    let path = dir.join(name);
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}

#[test]
fn parquet_is_taken_with_its_types_and_cleaned_names() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("Order ID", DataType::Int32, false),
        Field::new("price", DataType::Float32, true),
        Field::new(
            "when",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        ),
        Field::new("city", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![1, 2, 3])),
        Arc::new(Float32Array::from(vec![Some(1.5), None, Some(3.0)])),
        Arc::new(TimestampMillisecondArray::from(vec![
            Some(1_704_449_400_000),
            None,
            Some(0),
        ])),
        Arc::new(StringArray::from(vec![Some("Lyon"), Some("Oslo"), None])),
    ];
    let file = parquet_file(
        dir.path(),
        "in.parquet",
        RecordBatch::try_new(schema, columns).unwrap(),
    );
    let table = dir.path().join("t");
    let converted = run(&file, &table, false).unwrap();
    let names: Vec<&str> = converted.schema.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Order_ID", "price", "when", "city"]);
    assert_eq!(
        types(&converted),
        ["int64", "float64", "timestamp", "string"]
    );
    assert_eq!(
        rows(&table),
        [
            ["1", "1.5", "2024-01-05T10:10:00Z", "Lyon"],
            ["2", "∅", "∅", "Oslo"],
            ["3", "3.0", "1970-01-01T00:00:00Z", "∅"],
        ]
    );
}

#[test]
fn parquet_columns_the_sharing_path_cannot_carry_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("amount", DataType::Decimal128(10, 2), false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![1])),
        Arc::new(
            Decimal128Array::from(vec![1234])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ),
    ];
    let file = parquet_file(
        dir.path(),
        "d.parquet",
        RecordBatch::try_new(schema, columns).unwrap(),
    );
    let table = dir.path().join("t");
    let e = run(&file, &table, false).unwrap_err().to_string();
    assert!(
        e.contains("d.parquet") && e.contains("'amount'") && e.contains("Decimal"),
        "{e}"
    );
    assert!(!table.exists());
}

#[test]
fn progress_of_other_formats_reaches_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let file = late_key(dir.path());
    let last = std::sync::Mutex::new(None);
    let seen = std::sync::atomic::AtomicUsize::new(0);
    convert(
        &file,
        &dir.path().join("t"),
        &ConvertOptions::default(),
        &|p| {
            seen.fetch_add(1, Ordering::Relaxed);
            *last.lock().unwrap() = Some(p)
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    let last = last.into_inner().unwrap().unwrap();
    assert_eq!(last.bytes_done, last.bytes_total);
}
