//! Bad files: each gets an error that names the file and where the problem is.

use std::io::Write;

use delta_bridge_ingest::{Error, Options, preview};

fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

fn error_for(bytes: &[u8]) -> (Error, String) {
    let file = file_with(bytes);
    let err = preview(file.path(), &Options::default()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&file.path().display().to_string()),
        "the message names the file: {message}"
    );
    (err, message)
}

#[test]
fn empty_and_blank_files() {
    for bytes in [&b""[..], b"\xEF\xBB\xBF", b"\n\n  \n"] {
        assert!(matches!(error_for(bytes).0, Error::Empty { .. }));
    }
}

#[test]
fn header_only_previews_with_a_warning() {
    let file = file_with(b"a,b,c\n");
    let p = preview(file.path(), &Options::default()).unwrap();
    assert_eq!(p.columns.len(), 3);
    assert!(p.rows.is_empty());
    assert!(p.warnings.iter().any(|w| w.contains("no data rows")));
}

#[test]
fn ragged_rows_name_the_row() {
    let (err, message) = error_for(b"a,b\n1,2\n3,4\n5\n");
    assert!(
        matches!(
            err,
            Error::RaggedRow {
                row: 4,
                found: 1,
                expected: 2,
                ..
            }
        ),
        "{message}"
    );
}

#[test]
fn unterminated_quotes_name_the_row() {
    let (err, message) = error_for(b"a,b\n1,2\n3,\"never closed\n4,5\n");
    assert!(
        matches!(err, Error::UnterminatedQuote { row: 3, .. }),
        "{message}"
    );
}

#[test]
fn binary_files_are_refused() {
    let (err, _) = error_for(b"PK\x03\x04\x14\x00\x06\x00binary zip content");
    assert!(matches!(err, Error::Binary { .. }));
}

#[test]
fn invalid_utf8_after_a_bom_names_the_row() {
    let (err, message) = error_for(b"\xEF\xBB\xBFa,b\n1,2\n3,\xFF\n");
    assert!(
        matches!(err, Error::InvalidBytes { row: 3, .. }),
        "{message}"
    );
}

#[test]
fn a_one_megabyte_field_previews() {
    let mut bytes = b"id,blob\n1,\"".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 1 << 20));
    bytes.extend(b"\"\n2,small\n");
    let file = file_with(&bytes);
    let p = preview(file.path(), &Options::default()).unwrap();
    assert_eq!(p.rows.len(), 2);
    assert_eq!(p.rows[0][1].as_ref().unwrap().len(), 1 << 20);
}

#[test]
fn ten_thousand_columns_preview() {
    let header: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
    let file = file_with(format!("{}\n{}\n", header.join(","), row.join(",")).as_bytes());
    let p = preview(file.path(), &Options::default()).unwrap();
    assert_eq!(p.columns.len(), 10_000);
    assert_eq!(p.columns[9_999].name, "c9999");
}

#[test]
fn overrides_that_do_not_fit_name_row_and_column() {
    let file = file_with(b"zip,n\n02139,1\nABCDE,2\n");
    let options = Options {
        types: vec![(0, delta_bridge_ingest::ColumnType::Int64)],
        ..Default::default()
    };
    let message = preview(file.path(), &options).unwrap_err().to_string();
    assert!(
        message.contains("row 2, column 'zip'") && message.contains("'02139' is not a int64"),
        "{message}"
    );
}

#[test]
fn a_large_file_previews_from_its_head_only() {
    // 20 MB of rows and, at the very end, a byte that is not UTF-8: the preview never gets there.
    let mut bytes = b"n,label\n".to_vec();
    while bytes.len() < 20 << 20 {
        bytes.extend_from_slice(b"12345,some text\n");
    }
    bytes.extend_from_slice(b"1,caf\xE9\n");
    let file = file_with(&bytes);
    let p = preview(file.path(), &Options::default()).unwrap();
    assert!(!p.complete);
    assert_eq!(p.dialect.encoding, delta_bridge_ingest::Encoding::Utf8);
    assert_eq!(p.rows.len(), 100);
}
