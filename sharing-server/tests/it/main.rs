//! The server over a real socket on port 0, with a table whose log is written by hand.
//! (The official Python client is exercised in `tests/python`.)

use std::path::Path;
use std::time::Duration;

mod access;

use delta_bridge_sharing::{ServerOptions, serve};
use serde_json::Value;

struct TestServer {
    endpoint: String,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn write_table(root: &Path) {
    let log = root.join("_delta_log");
    std::fs::create_dir_all(log.join("..").join("p=a")).unwrap();
    std::fs::create_dir_all(&log).unwrap();
    std::fs::write(root.join("p=a/f1.parquet"), b"0123456789").unwrap();
    std::fs::write(root.join("p=a/f2.parquet"), b"abcdefghij").unwrap();
    let commit0 = [
        r#"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#,
        r#"{"metaData":{"id":"t-1","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"n\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}},{\"name\":\"p\",\"type\":\"string\",\"nullable\":true,\"metadata\":{}}]}","partitionColumns":["p"],"configuration":{}}}"#,
        r#"{"add":{"path":"p%3Da/f1.parquet","partitionValues":{"p":"a"},"size":10,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":5,\"minValues\":{\"n\":1},\"maxValues\":{\"n\":5},\"nullCount\":{\"n\":0}}"}}"#,
    ];
    std::fs::write(log.join(format!("{:020}.json", 0)), commit0.join("\n")).unwrap();
    let commit1 = r#"{"add":{"path":"p%3Da/f2.parquet","partitionValues":{"p":"a"},"size":10,"modificationTime":2,"dataChange":true,"stats":"{\"numRecords\":5,\"minValues\":{\"n\":6},\"maxValues\":{\"n\":10},\"nullCount\":{\"n\":0}}"}}"#;
    std::fs::write(log.join(format!("{:020}.json", 1)), commit1).unwrap();
}

async fn start() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t");
    write_table(&table);
    let config = dir.path().join("share.yaml");
    let yaml = format!(
        "version: 1\nshares:\n- name: s\n  schemas:\n  - name: d\n    tables:\n    - name: t\n      location: file://{}\nauthorization:\n  bearerToken: secret\n",
        table.display()
    );
    std::fs::write(&config, yaml).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/delta-sharing", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let options = ServerOptions {
        config: delta_bridge_sharing::reload::Source::File(config),
        public_url: None,
        default_page_size: 500,
        signing_key: [3; 32],
        s3: None,
        token_requests_per_second: 1000.0,
        access: None,
    };
    tokio::spawn(serve(listener, options, async move {
        let _ = stopped.await;
    }));
    TestServer {
        endpoint,
        _dir: dir,
        stop: Some(stop),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn query(server: &TestServer, body: Value) -> reqwest::Response {
    client()
        .post(format!(
            "{}/shares/s/schemas/d/tables/t/query",
            server.endpoint
        ))
        .bearer_auth("secret")
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn query_returns_protocol_metadata_and_signed_files() {
    let server = start().await;
    let response = query(&server, serde_json::json!({})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["delta-table-version"], "1");
    assert_eq!(
        response.headers()["delta-sharing-capabilities"],
        "responseformat=parquet"
    );
    let body = response.text().await.unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "protocol, metaData and two files: {body}");
    assert_eq!(
        lines[0],
        serde_json::json!({"protocol": {"minReaderVersion": 1}})
    );
    assert_eq!(
        lines[1]["metaData"]["partitionColumns"],
        serde_json::json!(["p"])
    );
    let url = lines[2]["file"]["url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Signature="));
    let file = client()
        .get(url)
        .header("Range", "bytes=2-4")
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 206);
    assert_eq!(file.bytes().await.unwrap().as_ref(), b"234");
}

#[tokio::test]
async fn predicates_and_limits_skip_files_and_tokens_are_checked() {
    let server = start().await;
    let hint = r#"{"op":"greaterThan","children":[{"op":"column","name":"n","valueType":"long"},{"op":"literal","value":"7","valueType":"long"}]}"#;
    let lines = query(&server, serde_json::json!({"jsonPredicateHints": hint}))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(lines.lines().count(), 3, "only the file with n in 6..=10");
    let lines = query(&server, serde_json::json!({"limitHint": 3}))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(lines.lines().count(), 3, "the first file has enough rows");
    let refused = client()
        .get(format!("{}/shares", server.endpoint))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errorCode"], "UNAUTHENTICATED");
}

fn file_ids(body: &str) -> Vec<Value> {
    body.lines()
        .skip(2)
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["file"]["id"].clone())
        .collect()
}

#[tokio::test]
async fn an_unchanged_table_is_not_read_again_and_a_changed_entry_is() {
    let server = start().await;
    let first = query(&server, serde_json::json!({})).await;
    assert_eq!(first.headers()["delta-table-version"], "1");
    let first = first.text().await.unwrap();
    assert_eq!(file_ids(&first).len(), 2);

    // Log entries are immutable, so the server parses each once: garbage of the same size written over
    // them, with their modification times put back, would break any reader that read them again.
    let log = server._dir.path().join("t/_delta_log");
    let commit = |version: i64| log.join(format!("{version:020}.json"));
    for version in 0..2 {
        let path = commit(version);
        let size = std::fs::metadata(&path).unwrap().len() as usize;
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::write(&path, vec![b'#'; size]).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
    }
    let again = query(&server, serde_json::json!({})).await;
    assert_eq!(again.status(), 200);
    assert_eq!(file_ids(&again.text().await.unwrap()), file_ids(&first));

    // An entry rewritten in place (same version, new content: a writer that failed and tried again) is
    // read again: version 1 now adds f3 instead of f2.
    std::fs::write(server._dir.path().join("t/p=a/f3.parquet"), b"klmnopqrst").unwrap();
    let commit1 = r#"{"add":{"path":"p%3Da/f3.parquet","partitionValues":{"p":"a"},"size":10,"modificationTime":5,"dataChange":true}}"#;
    std::fs::write(commit(1), commit1).unwrap();
    let rewritten = query(&server, serde_json::json!({})).await;
    assert_eq!(rewritten.status(), 200, "version 0 is still cached");
    assert_eq!(rewritten.headers()["delta-table-version"], "1");
    let rewritten = rewritten.text().await.unwrap();
    let (before, after) = (file_ids(&first), file_ids(&rewritten));
    assert_eq!(after.len(), 2, "{rewritten}");
    assert_eq!(after[0], before[0], "f1 from version 0");
    assert_ne!(
        after[1], before[1],
        "f3 from the new version 1, not f2: {rewritten}"
    );
    let f3 = rewritten.lines().nth(3).unwrap();
    assert!(
        !f3.contains("stats"),
        "the new entry's add has no stats: {f3}"
    );

    // A new version is read (and only it).
    let add = r#"{"add":{"path":"p%3Da/f1.parquet","partitionValues":{"p":"a"},"size":10,"modificationTime":3,"dataChange":true}}"#;
    std::fs::write(
        commit(2),
        format!("{{\"remove\":{{\"path\":\"p%3Da/f3.parquet\",\"dataChange\":true}}}}\n{add}"),
    )
    .unwrap();
    let newer = query(&server, serde_json::json!({})).await;
    assert_eq!(newer.headers()["delta-table-version"], "2");
    assert_eq!(newer.text().await.unwrap().lines().count(), 3);

    // An entry that vanished is not served: version 1 is the latest again, with its files.
    std::fs::remove_file(commit(2)).unwrap();
    let older = query(&server, serde_json::json!({})).await;
    assert_eq!(older.headers()["delta-table-version"], "1");
    assert_eq!(file_ids(&older.text().await.unwrap()), file_ids(&rewritten));
}
