//! Time, concurrency and rate limits (issue 13): a user over their requests per second gets 429 with
//! `Retry-After`, others are untouched; a request stuck on the store ends in 503 at the request timeout;
//! when every turn is taken a request waits, then gets 503 with `Retry-After`; an upload whose bytes stop
//! arriving is cut off; shutdown lets a request in flight finish, and stops anyway after its grace.

use std::sync::Arc;

use delta_bridge_backend::RequestLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use super::*;

fn limits(change: impl FnOnce(&mut RequestLimits)) -> Options {
    let mut options = Options::default();
    change(&mut options.requests);
    options
}

/// A raw HTTP/1.1 request whose body is `Content-Length` long but of which only `sent` is written; the
/// connection stays open for the rest.
async fn partial_put(url: &str, length: usize, sent: &[u8]) -> tokio::net::TcpStream {
    let url = reqwest::Url::parse(url).unwrap();
    let mut stream = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap()))
        .await
        .unwrap();
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let head = format!(
        "PUT {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
        url.authority()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(sent).await.unwrap();
    stream
}

/// The status line's code and the body of a raw response.
async fn answer(mut stream: tokio::net::TcpStream) -> (u16, String) {
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Presigns one file and answers its upload URL and bytes.
async fn presigned_file(backend: &Backend) -> (String, Vec<u8>) {
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let files = parquet_files(&work, CSV);
    let (status, presigned) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "t", "files": [spec(&files[0])]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{presigned}");
    (
        presigned["files"][0]["url"].as_str().unwrap().to_string(),
        std::fs::read(&files[0]).unwrap(),
    )
}

#[tokio::test]
async fn a_user_over_their_rate_gets_429_and_others_do_not() {
    let backend = Backend::launch(limits(|l| l.user_requests_per_second = 5.0)).await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..30 {
        let response = backend
            .http
            .get(format!("{}/datasets", backend.url))
            .bearer_auth(token("ana"))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = response.headers().get("retry-after").cloned();
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");
            statuses.push(429);
        } else {
            statuses.push(response.status().as_u16());
        }
    }
    let passed = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (10..=13).contains(&passed),
        "a burst of twice the rate passes: {statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(retry_after.unwrap().to_str().unwrap(), "1");
    // Another user is untouched, and /healthz is never limited.
    let (status, _) = backend.get("/datasets", "bo").await;
    assert_eq!(status, StatusCode::OK);
    let health = backend
        .http
        .get(format!("{}/healthz", backend.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // A second later the user may call again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = backend.get("/datasets", "ana").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_request_stuck_on_the_store_ends_at_the_request_timeout() {
    if std::env::var("DELTA_BRIDGE_TEST_POSTGRES").is_ok() {
        // The store is held through SQLite's write lock below; Postgres runs every other test.
        return;
    }
    let backend = Backend::launch(limits(|l| l.request_timeout = Duration::from_secs(1))).await;
    // Another process holds the store's write lock (busy_timeout would make the backend wait 30 s).
    use sqlx::Connection;
    let mut holder = sqlx::SqliteConnection::connect(&backend.database)
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (status, body) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "t", "files": [{"name": "f", "size": 10, "sha256": "ab".repeat(32)}]}),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("TIMEOUT")),
        "{body}"
    );
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let (status, body) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "t", "files": [{"name": "f", "size": 10, "sha256": "ab".repeat(32)}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn when_every_turn_is_taken_a_request_waits_then_gets_503_with_retry_after() {
    let backend = Backend::launch(limits(|l| {
        l.concurrent_requests = 1;
        l.queue_timeout = Duration::from_millis(500);
    }))
    .await;
    let (url, bytes) = presigned_file(&backend).await;
    // An upload holds the one turn while its bytes trickle in.
    let held = partial_put(&url, bytes.len(), &bytes[..10]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = backend
        .http
        .get(format!("{}/datasets", backend.url))
        .bearer_auth(token("ana"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    // /healthz still answers.
    let health = backend
        .http
        .get(format!("{}/healthz", backend.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // Once the upload finishes, its turn is free.
    let mut held = held;
    held.write_all(&bytes[10..]).await.unwrap();
    let (status, text) = answer(held).await;
    assert_eq!(status, 200, "{text}");
    let (status, _) = backend.get("/datasets", "ana").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_upload_whose_bytes_stop_arriving_is_cut_off_and_leaves_nothing() {
    let backend = Backend::launch(limits(|l| l.upload_idle_timeout = Duration::from_secs(1))).await;
    let (url, bytes) = presigned_file(&backend).await;
    let stalled = partial_put(&url, bytes.len(), &bytes[..10]).await;
    let started = std::time::Instant::now();
    let (status, text) = answer(stalled).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("no bytes arrived for 1 s"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(files_under(&backend.dir.path().join("storage")).is_empty());
    // The URL still works for a whole upload.
    let response = backend.http.put(&url).body(bytes).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish_and_stops_after_its_grace() {
    for finish in [true, false] {
        let shutdown = Arc::new(Notify::new());
        let stopped = Arc::new(Notify::new());
        let mut options = limits(|l| l.shutdown_grace = Duration::from_secs(2));
        options.shutdown = Some((shutdown.clone(), stopped.clone()));
        let backend = Backend::launch(options).await;
        let (url, bytes) = presigned_file(&backend).await;
        let mut in_flight = partial_put(&url, bytes.len(), &bytes[..10]).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        shutdown.notify_one();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // New connections are refused while the upload drains.
        let refused = backend
            .http
            .get(format!("{}/healthz", backend.url))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        assert!(
            refused.is_err(),
            "a new request was served during the drain"
        );
        if finish {
            in_flight.write_all(&bytes[10..]).await.unwrap();
            let (status, text) = answer(in_flight).await;
            assert_eq!(status, 200, "the upload in flight finished: {text}");
            tokio::time::timeout(Duration::from_secs(5), stopped.notified())
                .await
                .expect("serve returns once drained");
        } else {
            let started = std::time::Instant::now();
            tokio::time::timeout(Duration::from_secs(10), stopped.notified())
                .await
                .expect("serve returns after its grace although a request hangs");
            assert!(started.elapsed() >= Duration::from_millis(1000));
            drop(in_flight);
        }
    }
}
