//! The access log: reads by named recipients reach the destination with what was answered; a journal
//! that cannot be written refuses reads; a killed server loses no record of a read it answered.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use delta_bridge_access::{Destination, Record, list_shipped, read_shipped};
use delta_bridge_sharing::{AccessOptions, ServerOptions, serve};
use serde_json::{Value, json};

use super::{TestServer, client, write_table};

const ALICE: &str = "alice-token-0123456789abcdef";
const BOB: &str = "bob-token-0123456789abcdef";

/// share.yaml with share `s` (table `t`, id `table-1`) readable by the named tokens alice and bob.
fn share_yaml(table: &Path) -> String {
    format!(
        "version: 1\nshares:\n- name: s\n  schemas:\n  - name: d\n    tables:\n    - name: t\n      id: table-1\n      location: file://{}\nauthorization:\n  tokens:\n  - name: alice\n    tokenHash: {}\n    shares: [s]\n  - name: bob\n    tokenHash: {}\n    shares: [s]\n",
        table.display(),
        delta_bridge_shares::hash_token(ALICE),
        delta_bridge_shares::hash_token(BOB),
    )
}

/// A directory with the table and share.yaml.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t");
    write_table(&table);
    let config = dir.path().join("share.yaml");
    std::fs::write(&config, share_yaml(&table)).unwrap();
    (dir, config)
}

async fn start(
    dir: tempfile::TempDir,
    config: PathBuf,
    access: AccessOptions,
) -> (TestServer, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let options = ServerOptions {
        config: delta_bridge_sharing::reload::Source::File(config),
        public_url: None,
        default_page_size: 500,
        signing_key: [3; 32],
        s3: None,
        token_requests_per_second: 1000.0,
        access: Some(access),
    };
    tokio::spawn(serve(listener, options, async move {
        let _ = stopped.await;
    }));
    let server = TestServer {
        endpoint: format!("{base}/delta-sharing"),
        _dir: dir,
        stop: Some(stop),
    };
    (server, base)
}

async fn get(url: &str, token: &str, agent: &str) -> reqwest::Response {
    client()
        .get(url)
        .bearer_auth(token)
        .header("User-Agent", agent)
        .send()
        .await
        .unwrap()
}

async fn query(endpoint: &str, token: &str, agent: &str, body: Value) -> (u16, Vec<String>) {
    let response = client()
        .post(format!("{endpoint}/shares/s/schemas/d/tables/t/query"))
        .bearer_auth(token)
        .header("User-Agent", agent)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let urls = response
        .text()
        .await
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|l| l["file"]["url"].as_str().map(str::to_string))
        .collect();
    (status, urls)
}

async fn shipped(destination: &Destination) -> Vec<Record> {
    let mut records = Vec::new();
    for key in list_shipped(destination).await.unwrap() {
        records.extend(read_shipped(destination, &key).await.unwrap());
    }
    records
}

/// Waits until `count` records are shipped (at most `within`), then returns them.
async fn wait_for(destination: &Destination, count: usize, within: Duration) -> Vec<Record> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let records = shipped(destination).await;
        if records.len() >= count || tokio::time::Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn unique_ids(records: &[Record]) -> bool {
    let ids: std::collections::HashSet<_> = records.iter().map(|r| r.id.as_str()).collect();
    ids.len() == records.len()
}

#[tokio::test]
async fn reads_by_two_recipients_are_shipped_with_what_was_answered() {
    let (dir, config) = setup();
    let out = dir.path().join("access");
    let destination = Destination::Dir(out.clone());
    let ship_interval = Duration::from_millis(300);
    let access = AccessOptions {
        destination: destination.clone(),
        journal: out.join(".journal"),
        ship_interval,
    };
    let (server, _) = start(dir, config, access).await;
    let e = server.endpoint.clone();

    // alice: list, metadata, a query of both files, and a range of one file.
    assert_eq!(
        get(&format!("{e}/shares"), ALICE, "alice-agent/1")
            .await
            .status(),
        200
    );
    let metadata = get(
        &format!("{e}/shares/s/schemas/d/tables/t/metadata"),
        ALICE,
        "alice-agent/1",
    )
    .await;
    assert_eq!(metadata.status(), 200);
    let (status, alice_urls) = query(&e, ALICE, "alice-agent/1", json!({})).await;
    assert_eq!((status, alice_urls.len()), (200, 2));
    assert!(
        alice_urls[0].ends_with("&recipient=alice"),
        "{}",
        alice_urls[0]
    );
    let range = client()
        .get(&alice_urls[0])
        .header("Range", "bytes=2-4")
        .header("User-Agent", "alice-agent/1")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().await.unwrap().as_ref(), b"234");
    // alice's URL passed off as bob's does not verify (and is no one's read).
    let forged = client()
        .get(alice_urls[0].replace("recipient=alice", "recipient=bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    // bob: list, a query pruned to one file, that whole file, and a share that does not exist.
    assert_eq!(
        get(&format!("{e}/shares"), BOB, "bob-agent/2")
            .await
            .status(),
        200
    );
    let hint = r#"{"op":"greaterThan","children":[{"op":"column","name":"n","valueType":"long"},{"op":"literal","value":"7","valueType":"long"}]}"#;
    let (status, bob_urls) =
        query(&e, BOB, "bob-agent/2", json!({"jsonPredicateHints": hint})).await;
    assert_eq!((status, bob_urls.len()), (200, 1));
    let whole = client()
        .get(&bob_urls[0])
        .header("User-Agent", "bob-agent/2")
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap().len(), 10);
    assert_eq!(
        get(&format!("{e}/shares/nope"), BOB, "bob-agent/2")
            .await
            .status(),
        404
    );
    // No recipient: not recorded.
    assert_eq!(
        get(&format!("{e}/shares"), "wrong", "x").await.status(),
        401
    );

    // Within the ship interval (plus slack for a loaded machine), without stopping the server.
    let records = wait_for(&destination, 8, ship_interval + Duration::from_secs(2)).await;
    assert_eq!(records.len(), 8, "{records:#?}");
    assert!(unique_ids(&records));
    let summary: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.recipient.as_str(),
                r.operation.as_str(),
                r.status,
                r.table.as_deref(),
                r.table_id.as_deref(),
                r.version,
                r.files,
                r.bytes,
                r.user_agent.as_deref(),
            )
        })
        .collect();
    let (a, b) = (Some("alice-agent/1"), Some("bob-agent/2"));
    let (t, id) = (Some("t"), Some("table-1"));
    assert_eq!(
        summary,
        vec![
            ("alice", "listShares", 200, None, None, None, None, None, a),
            ("alice", "metadata", 200, t, id, Some(1), None, None, a),
            ("alice", "query", 200, t, id, Some(1), Some(2), None, a),
            ("alice", "file", 206, t, id, None, None, Some(3), a),
            ("bob", "listShares", 200, None, None, None, None, None, b),
            ("bob", "query", 200, t, id, Some(1), Some(1), None, b),
            ("bob", "file", 200, t, id, None, None, Some(10), b),
            ("bob", "getShare", 404, None, None, None, None, None, b),
        ]
    );
    let query = &records[2];
    assert_eq!(
        (query.share.as_deref(), query.schema.as_deref()),
        (Some("s"), Some("d"))
    );
    assert_eq!(records[7].share.as_deref(), Some("nope"));
    for record in &records {
        assert!(
            record
                .address
                .as_deref()
                .is_some_and(|a| a.starts_with("127.0.0.1:")),
            "{record:?}"
        );
        chrono::DateTime::parse_from_rfc3339(&record.at).unwrap();
    }
    let raw: String = list_shipped(&destination)
        .await
        .unwrap()
        .iter()
        .map(|k| std::fs::read_to_string(out.join(k.path())).unwrap())
        .collect();
    assert!(
        !raw.contains(ALICE) && !raw.contains(BOB),
        "no token is recorded"
    );
}

#[tokio::test]
async fn a_journal_that_cannot_be_written_answers_503_and_is_not_ready() {
    let (dir, config) = setup();
    let journal = dir.path().join("journal");
    let moved = dir.path().join("moved");
    let access = AccessOptions {
        destination: Destination::Dir(dir.path().join("access")),
        journal: journal.clone(),
        ship_interval: Duration::from_millis(100),
    };
    let (server, base) = start(dir, config, access).await;
    let e = server.endpoint.clone();
    assert_eq!(
        client()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The journal's directory replaced by a file: no segment can be made (root ignores permissions).
    std::fs::rename(&journal, &moved).unwrap();
    std::fs::write(&journal, "not a directory").unwrap();
    let refused = get(&format!("{e}/shares"), ALICE, "a").await;
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errorCode"], "ACCESS_LOG_UNAVAILABLE");
    assert!(!body["message"].as_str().unwrap().is_empty());
    assert!(!body.to_string().contains(ALICE));
    let (status, _) = query(&e, ALICE, "a", json!({})).await;
    assert_eq!(status, 503, "a read that cannot be recorded is not served");
    let ready = client().get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    // Back: ready again within a ship interval or so, and reads are served.
    std::fs::remove_file(&journal).unwrap();
    std::fs::rename(&moved, &journal).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while client()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(tokio::time::Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(get(&format!("{e}/shares"), ALICE, "a").await.status(), 200);
}

/// The real binary, as operators run it; its first stdout line says where it listens.
struct Binary {
    child: Child,
    endpoint: String,
}

impl Binary {
    fn start(config: &Path, access_log: &Path, ship_seconds: &str, log: &Path) -> Binary {
        let mut child = Command::new(env!("CARGO_BIN_EXE_delta-bridge-sharing"))
            .arg("--config")
            .arg(config)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--access-ship-seconds",
                ship_seconds,
            ])
            .arg("--access-log")
            .arg(access_log)
            .env("DELTA_BRIDGE_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("did not start: {line:?}, see {}", log.display()))
            .to_string();
        Binary {
            child,
            endpoint: format!("{url}/delta-sharing"),
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_killed_server_loses_no_record_of_a_read_it_answered() {
    let (dir, config) = setup();
    let out = dir.path().join("access");
    let destination = Destination::Dir(out.clone());

    // A long ship interval: everything answered is still in the open segment at the kill.
    let mut first = Binary::start(&config, &out, "60", &dir.path().join("first.log"));
    let mut answered: HashMap<(String, String), usize> = HashMap::new();
    let mut reads = Vec::new();
    for n in 0..40 {
        let (token, name) = if n % 2 == 0 {
            (ALICE, "alice")
        } else {
            (BOB, "bob")
        };
        let endpoint = first.endpoint.clone();
        reads.push(tokio::spawn(async move {
            let status = if n % 4 < 2 {
                query(&endpoint, token, "k", json!({})).await.0
            } else {
                get(&format!("{endpoint}/shares"), token, "k")
                    .await
                    .status()
                    .as_u16()
            };
            (name, if n % 4 < 2 { "query" } else { "listShares" }, status)
        }));
    }
    for read in reads {
        let (name, operation, status) = read.await.unwrap();
        assert_eq!(status, 200);
        *answered
            .entry((name.to_string(), operation.to_string()))
            .or_default() += 1;
    }
    // SIGKILL right after the answers arrived: no graceful shutdown, nothing shipped yet.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert_eq!(shipped(&destination).await.len(), 0);

    // Restarted on the same journal: the leftover segment is closed and shipped first.
    let second = Binary::start(&config, &out, "60", &dir.path().join("second.log"));
    let records = wait_for(&destination, 40, Duration::from_secs(10)).await;
    assert_eq!(records.len(), 40, "{records:#?}");
    let mut recorded: HashMap<(String, String), usize> = HashMap::new();
    for record in &records {
        assert_eq!(record.status, 200);
        *recorded
            .entry((record.recipient.clone(), record.operation.clone()))
            .or_default() += 1;
    }
    assert_eq!(recorded, answered);
    assert!(unique_ids(&records), "none duplicated");

    // A read after the restart, then a graceful stop (SIGTERM): its segment is shipped on the way out.
    assert_eq!(
        get(&format!("{}/shares", second.endpoint), ALICE, "k")
            .await
            .status(),
        200
    );
    let base = second.endpoint.trim_end_matches("/delta-sharing");
    let metrics = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("delta_bridge_access_records_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("delta_bridge_access_segments_pending 0\n"),
        "{metrics}"
    );
    let pid = second.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut second = second;
    assert!(second.child.wait().unwrap().success());
    let records = shipped(&destination).await;
    assert_eq!(records.len(), 41);
    assert!(unique_ids(&records), "ids stay unique across the restart");
    let servers: std::collections::HashSet<_> = list_shipped(&destination)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.server)
        .collect();
    assert_eq!(servers.len(), 1, "the restarted server keeps its id");
}
