//! Uploaded files are held to what the delta-bridge CLI writes: a footer whose column names it could not
//! have made, or whose statistics do not fit their column, is refused with a 400 naming the file and the
//! column, and no dataset appears.

use super::*;

/// A file as another Parquet writer could make it: ours, with `from` replaced by `to` (as many bytes)
/// wherever it occurs in the footer, and without the Arrow schema our writer adds (its key renamed, so
/// readers take the columns from the Parquet schema alone).
fn patched_footer(file: &Path, from: &[u8], to: &[u8], out: &Path) -> PathBuf {
    let mut bytes = std::fs::read(file).unwrap();
    let trailer = bytes.len() - 8;
    let length = u32::from_le_bytes(bytes[trailer..trailer + 4].try_into().unwrap()) as usize;
    let footer = &mut bytes[trailer - length..trailer];
    replace(footer, b"ARROW:schema", b"ARROW:schemX");
    assert!(
        replace(footer, from, to) > 0,
        "{from:?} is not in the footer"
    );
    std::fs::write(out, bytes).unwrap();
    out.to_path_buf()
}

/// Replaces every `from` in `bytes` with `to`; answers how many there were.
fn replace(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut found = 0;
    for at in 0..=bytes.len() - from.len() {
        if &bytes[at..at + from.len()] == from {
            bytes[at..at + from.len()].copy_from_slice(to);
            found += 1;
        }
    }
    found
}

#[tokio::test]
async fn footers_with_names_or_statistics_the_cli_would_not_write_are_refused() {
    let backend = Backend::start().await;
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let ours = parquet_files(&work, "amount,bmount\n7777777777,1\n9999999999,2\n");
    assert_eq!(ours.len(), 1);
    let cases = [
        (
            "case.parquet",
            &b"bmount"[..],
            &b"Amount"[..],
            r#"column 2 ("Amount"): the name equals that of column 1 ("amount") but for case"#,
        ),
        (
            "control.parquet",
            b"bmount",
            b"b\nount",
            r#"column 2 ("b\nount"): the name holds a control character"#,
        ),
        (
            "stats.parquet",
            &9_999_999_999i64.to_le_bytes()[..],
            &1_111_111_111i64.to_le_bytes()[..],
            r#"column "amount": the statistics of row group 0 have a minimum above their maximum"#,
        ),
    ];
    for (name, from, to, message) in cases {
        let file = patched_footer(&ours[0], from, to, &work.join(name));
        let (status, body) = backend.upload("ana", "t", &[file], "create").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let text = body["error"]["message"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("file {name:?}: {message}")),
            "{text}"
        );
    }
    let (_, page) = backend.get("/datasets", "ana").await;
    assert_eq!(page["datasets"].as_array().unwrap().len(), 0, "{page}");

    // Patched the same way with a name and statistics that fit, the file goes through.
    let fine = patched_footer(&ours[0], b"bmount", b"Cmount", &work.join("fine.parquet"));
    let fine = patched_footer(
        &fine,
        &9_999_999_999i64.to_le_bytes(),
        &8_888_888_888i64.to_le_bytes(),
        &fine,
    );
    let (status, body) = backend.upload("ana", "t", &[fine], "create").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, page) = backend.get("/datasets", "ana").await;
    let schema = &page["datasets"][0]["schema"];
    assert_eq!(schema[1]["name"], "Cmount", "{page}");
}
