//! An upload whose files are presigned one by one as a conversion closes them, and committed as the
//! files the conversion kept, in their order; the others are discarded.

use super::*;

/// PUTs one presigned file (whole, or in parts); answers its ETags when in parts.
async fn put(backend: &Backend, upload: &Value, file: &Path) -> Option<Vec<Value>> {
    let bytes = std::fs::read(file).unwrap();
    match upload["url"].as_str() {
        Some(url) => {
            let response = backend.http.put(url).body(bytes).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            None
        }
        None => Some(backend.put_parts(upload, &bytes).await),
    }
}

#[tokio::test]
async fn files_added_one_by_one_commit_as_the_chosen_files_in_their_order() {
    // Files over 1000 bytes go up in parts, so one of them is a multipart upload left unfinished.
    let backend = Backend::start_with(1000, 700).await;
    let work = backend.dir.path().join("work");
    let made = |name: &str, csv: &str| {
        let dir = work.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        parquet_files(&dir, csv)[0].clone()
    };
    let first = made("first", "n,text\n1,a\n2,b\n");
    let obsolete = made("obsolete", "n,text\n1,stale\n");
    let big: String = std::iter::once("n,text\n".to_string())
        .chain((3..300).map(|i| format!("{i},row number {i} of many\n")))
        .collect();
    let last = made("last", &big);

    let (status, created) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "piped", "files": [spec(&first)]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let upload_id = created["uploadId"].as_str().unwrap().to_string();
    let add = |file: Value| {
        let upload_id = upload_id.clone();
        let backend = &backend;
        async move {
            backend
                .post(
                    "/presign",
                    "ana",
                    json!({"uploadId": upload_id, "files": [file]}),
                )
                .await
        }
    };
    let (status, added) = add(spec(&obsolete)).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    let names: Vec<&str> = added["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [spec(&obsolete)["name"].as_str().unwrap()],
        "only the added file is answered"
    );
    // Asked again (an answer that was lost), the same file is not added twice.
    let (status, again) = add(spec(&obsolete)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["files"].as_array().unwrap().len(), 1, "{again}");
    // The same name with other bytes is refused.
    let mut other = spec(&obsolete);
    other["sha256"] = json!("0".repeat(64));
    let (status, body) = add(other).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("other contents"),
        "{body}"
    );
    // Someone else cannot add to it.
    let (status, _) = backend
        .post(
            "/presign",
            "bo",
            json!({"uploadId": upload_id, "files": [spec(&last)]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, added_last) = add(spec(&last)).await;
    assert_eq!(status, StatusCode::OK, "{added_last}");
    assert!(
        added_last["files"][0]["parts"].as_array().unwrap().len() > 1,
        "{added_last}"
    );

    assert!(put(&backend, &created["files"][0], &first).await.is_none());
    // The obsolete file's parts are only partly sent (its pass started over mid-way).
    let obsolete_upload = &added["files"][0];
    assert!(put(&backend, obsolete_upload, &obsolete).await.is_none());
    let etags = put(&backend, &added_last["files"][0], &last).await.unwrap();
    let last_name = spec(&last)["name"].as_str().unwrap().to_string();
    let first_name = spec(&first)["name"].as_str().unwrap().to_string();

    // Naming a file the upload does not have is refused, and so is naming one twice.
    for files in [json!(["nope.parquet"]), json!([first_name, first_name])] {
        let (status, body) = backend
            .post(
                "/process",
                "ana",
                json!({"uploadId": upload_id, "mode": "create", "parts": {last_name.clone(): etags}, "files": files}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (status, done) = backend
        .post(
            "/process",
            "ana",
            json!({"uploadId": upload_id, "mode": "create", "parts": {last_name.clone(): etags},
                   "files": [last_name, first_name]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        done["rows"],
        297 + 2,
        "the obsolete file's row is not in the version"
    );
    let id = done["id"].as_str().unwrap();

    // The log adds the files in the order given (the last conversion's row order), and only those.
    let table = backend.dir.path().join(format!("storage/datasets/{id}"));
    let entry =
        std::fs::read_to_string(table.join("_delta_log/00000000000000000000.json")).unwrap();
    let adds: Vec<String> = entry
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["add"]["path"].as_str().map(String::from))
        .collect();
    assert_eq!(adds.len(), 2, "{adds:?}");
    assert!(
        adds[0].starts_with("part-00002-") && adds[1].starts_with("part-00000-"),
        "{adds:?}"
    );
    // The obsolete file's object is deleted by maintenance; the version's stay.
    let gone = || {
        !table
            .join(adds[0].replace("part-00002-", "part-00001-"))
            .exists()
    };
    for _ in 0..100 {
        if gone() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone(), "the obsolete file was deleted");
    assert!(adds.iter().all(|a| table.join(a).exists()));

    // A processed upload takes no more files.
    let (status, body) = add(spec(&obsolete)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

/// Files added by many requests at once, while the upload is processed: each add lands or is a
/// conflict to retry (never a server error, on SQLite and on Postgres), and the version holds exactly
/// the files `process` verified; no file is added once the commit started.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_adds_and_a_process_never_leave_a_file_neither_committed_nor_refused() {
    let backend = Backend::start().await;
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let kept = parquet_files(&work, "n,text\n1,a\n2,b\n")[0].clone();
    let strays: Vec<PathBuf> = (0..8)
        .map(|i| {
            let path = work.join(format!("stray-{i}.parquet"));
            std::fs::write(&path, format!("stray {i}")).unwrap();
            path
        })
        .collect();
    let (status, created) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "raced", "files": [spec(&kept)]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let upload_id = created["uploadId"].as_str().unwrap().to_string();
    assert!(put(&backend, &created["files"][0], &kept).await.is_none());
    let kept_name = spec(&kept)["name"].clone();

    let adds = strays.iter().map(|stray| {
        let body = json!({"uploadId": upload_id, "files": [spec(stray)]});
        let backend = &backend;
        async move { backend.post("/presign", "ana", body).await }
    });
    let process = json!({"uploadId": upload_id, "mode": "create", "files": [kept_name]});
    let (added, (status, processed)) = tokio::join!(
        futures::future::join_all(adds),
        backend.post("/process", "ana", process.clone())
    );
    for (status, body) in &added {
        assert!(
            [StatusCode::OK, StatusCode::CONFLICT].contains(status),
            "{status} {body}"
        );
    }
    let processed = match status {
        StatusCode::OK => processed,
        // A file was added between process reading the upload and its commit starting.
        StatusCode::CONFLICT => {
            let (status, again) = backend.post("/process", "ana", process).await;
            assert_eq!(status, StatusCode::OK, "{again}");
            again
        }
        other => panic!("{other} {processed}"),
    };
    assert_eq!(processed["rows"], 2, "{processed}");
    // Once processed, nothing more is added.
    let (status, body) = backend
        .post(
            "/presign",
            "ana",
            json!({"uploadId": upload_id, "files": [spec(&work.join("stray-0.parquet"))]}),
        )
        .await;
    assert!(
        [StatusCode::OK, StatusCode::CONFLICT].contains(&status),
        "{status} {body}"
    );
    if status == StatusCode::OK {
        // Only when it was added before: answered again, not added.
        assert!(added[0].0 == StatusCode::OK, "{body}");
    }
    let (status, body) = backend
        .post(
            "/presign",
            "ana",
            json!({"uploadId": upload_id, "files": [{"name": "late.parquet", "size": 5, "sha256": "0".repeat(64)}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}
