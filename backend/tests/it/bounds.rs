//! Bounded work per request (issue 13): part sizes grow so a file never needs more than 10,000 parts, a
//! `/presign` answer holds at most 10,000 URLs (the rest in pages), uploads and users have caps, footers
//! above 16 MiB are refused, an object is read back once, and expired uploads are swept.

use super::*;

/// A file spec of any size: presigning never reads the file.
fn declared(name: &str, size: i64) -> Value {
    json!({"name": name, "size": size, "sha256": "ab".repeat(32)})
}

fn url_count(answer: &Value) -> usize {
    answer["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| usize::from(f["url"].is_string()) + f["parts"].as_array().map_or(0, |p| p.len()))
        .sum()
}

#[tokio::test]
async fn a_five_tib_file_needs_at_most_ten_thousand_parts_and_its_urls_come_in_pages() {
    let backend = Backend::launch(Options {
        multipart_threshold: 256 << 20,
        part_size: 16 << 20,
        limits: delta_bridge_datasets::Limits {
            bytes_per_upload: 6 << 40,
            bytes_per_user: 6 << 40,
            ..Default::default()
        },
        ..Options::default()
    })
    .await;
    let huge = 5i64 << 40;
    let mut files = vec![declared("huge.parquet", huge)];
    files.extend((0..20).map(|i| declared(&format!("small-{i}.parquet"), 1000)));
    let (status, first) = backend
        .post("/presign", "ana", json!({"name": "big", "files": files}))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let part_size = first["files"][0]["partSize"].as_i64().unwrap();
    let parts = (huge + part_size - 1) / part_size;
    assert!(parts <= 10_000, "{parts} parts of {part_size} bytes");
    assert_eq!(
        url_count(&first),
        10_000,
        "one answer holds at most 10,000 URLs"
    );
    let upload_id = first["uploadId"].as_str().unwrap();
    let page = first["nextPage"]
        .as_str()
        .expect("more URLs follow")
        .to_string();

    // The next page holds the rest: every URL once, in order.
    let (status, second) = backend
        .post(
            "/presign",
            "ana",
            json!({"uploadId": upload_id, "page": page}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert!(second["nextPage"].is_null(), "{}", second["nextPage"]);
    assert_eq!(url_count(&first) + url_count(&second), parts as usize + 20);
    let numbers: Vec<i64> = [&first, &second]
        .iter()
        .flat_map(|a| a["files"].as_array().unwrap().clone())
        .filter(|f| f["name"] == "huge.parquet")
        .flat_map(|f| f["parts"].as_array().unwrap().clone())
        .map(|p| p["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=parts).collect::<Vec<_>>());
    let names: Vec<&str> = second["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.last(), Some(&"small-19.parquet"));

    // A page the answers never gave is refused; so is another user's upload.
    for bad in ["99.0", "0.999999", "x", "0.-1"] {
        let (status, body) = backend
            .post(
                "/presign",
                "ana",
                json!({"uploadId": upload_id, "page": bad}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _) = backend
        .post(
            "/presign",
            "bo",
            json!({"uploadId": upload_id, "page": page}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn uploads_and_users_have_caps_that_say_what_to_do() {
    let backend = Backend::launch(Options {
        limits: delta_bridge_datasets::Limits {
            files_per_upload: 3,
            bytes_per_upload: 10_000,
            datasets_per_user: 1,
            bytes_per_user: 15_000,
            ..Default::default()
        },
        ..Options::default()
    })
    .await;
    let (status, body) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "t", "files": (0..4).map(|i| declared(&format!("f{i}"), 10)).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3"),
        "{body}"
    );
    let (status, body) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "t", "files": [declared("f", 10_001)]}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    // Stored bytes count the datasets and the unprocessed uploads.
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let files = parquet_files(&work, CSV);
    let (status, body) = backend.upload("ana", "first", &files, "create").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "second", "files": [declared("f", 10)]}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("QUOTA_EXCEEDED")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 datasets"),
        "{body}"
    );
    let (status, body) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "first", "files": [declared("f", 9_000)]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "first", "files": [declared("g", 9_000)]}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("QUOTA_EXCEEDED")),
        "{body}"
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("quota"),
        "{body}"
    );
    // Another user has their own quota.
    let (status, body) = backend
        .post(
            "/presign",
            "bo",
            json!({"name": "t", "files": [declared("f", 9_000)]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A copy of a Parquet file whose last 8 bytes declare a footer of `length` bytes, padded so the file is
/// long enough to hold it.
fn declaring_footer(file: &Path, length: u32, out: &Path) -> PathBuf {
    let mut bytes = std::fs::read(file).unwrap();
    let keep = bytes.len() - 8;
    bytes.truncate(keep);
    bytes.resize(length as usize + 64, 0);
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes.extend_from_slice(b"PAR1");
    std::fs::write(out, &bytes).unwrap();
    out.to_path_buf()
}

#[tokio::test]
async fn a_footer_above_sixteen_mib_is_refused_without_reading_it() {
    let backend = Backend::launch(Options {
        multipart_threshold: 64 << 20,
        ..Options::default()
    })
    .await;
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let files = parquet_files(&work, CSV);
    let claimed = declaring_footer(&files[0], (16 << 20) + 1, &work.join("claims.parquet"));
    let (status, body) = backend.upload("ana", "t", &[claimed], "create").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("footer declares") && message.contains("16.0 MiB"),
        "{message}"
    );
}

#[tokio::test]
async fn an_object_is_read_back_once() {
    // Parts, so the whole object is only checked when it is processed.
    let backend = Backend::start_with(1000, 700).await;
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let (status, body) = backend
        .upload("ana", "t", &parquet_files(&work, CSV), "create")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dataset_id = body["id"].as_str().unwrap().to_string();
    // Other columns: the append is refused after its objects were checked.
    let other = work.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let csv: String = std::iter::once("n,text\n".to_string())
        .chain((0..400).map(|i| format!("{i},row number {i} of many\n")))
        .collect();
    let files = parquet_files(&other, &csv);
    let (_, presigned) = backend
        .post(
            "/presign",
            "ana",
            json!({"datasetId": dataset_id, "files": [spec(&files[0])]}),
        )
        .await;
    let bytes = std::fs::read(&files[0]).unwrap();
    backend.put_parts(&presigned["files"][0], &bytes).await;
    let process = json!({"uploadId": presigned["uploadId"], "mode": "append"});
    let (status, first) = backend.post("/process", "ana", process.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{first}");
    assert!(
        first["error"]["message"]
            .as_str()
            .unwrap()
            .contains("differ"),
        "{first}"
    );
    // Changed behind the backend's back (same size, footer intact): a second process does not read the
    // whole object again (its SHA-256 is recorded), so it answers about the columns again.
    let stored: Vec<PathBuf> = files_under(
        &backend
            .dir
            .path()
            .join("storage/datasets")
            .join(&dataset_id),
    )
    .into_iter()
    .filter(|p| {
        p.to_string_lossy()
            .contains(presigned["uploadId"].as_str().unwrap())
    })
    .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    let mut changed = std::fs::read(&stored[0]).unwrap();
    changed[4] ^= 0xff;
    std::fs::write(&stored[0], &changed).unwrap();
    let (status, second) = backend.post("/process", "ana", process).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{second}");
    assert_eq!(first["error"]["message"], second["error"]["message"]);
}

#[tokio::test]
async fn uploads_left_unprocessed_past_their_expiry_are_swept() {
    let backend = Backend::launch(Options {
        multipart_threshold: 1000,
        part_size: 700,
        upload_expiry: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let csv: String = std::iter::once("n,text\n".to_string())
        .chain((0..400).map(|i| format!("{i},row number {i} of many\n")))
        .collect();
    let big = parquet_files(&work, &csv);
    let (_, presigned) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "t", "files": [spec(&big[0])]}),
        )
        .await;
    let upload_id = presigned["uploadId"].as_str().unwrap().to_string();
    let part_size = presigned["files"][0]["partSize"].as_u64().unwrap() as usize;
    let bytes = std::fs::read(&big[0]).unwrap();
    let response = backend
        .http
        .put(presigned["files"][0]["parts"][0]["url"].as_str().unwrap())
        .body(bytes[..part_size].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A temporary an upload killed mid-way left, untouched for an hour.
    let storage = backend.dir.path().join("storage");
    let temporary = storage.join(".receiving/part-00000-up-x.parquet.0123.receiving");
    std::fs::write(&temporary, b"half an upload").unwrap();
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&temporary)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    assert_eq!(files_under(&storage).len(), 2);

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !files_under(&storage).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "still stored: {:?}",
            files_under(&storage)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The upload is gone: its URLs are refused and it cannot be processed or resumed.
    let (status, _) = backend
        .post(
            "/process",
            "ana",
            json!({"uploadId": upload_id, "mode": "create"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = backend
        .post("/presign", "ana", json!({"uploadId": upload_id}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
