//! Trustworthy sharing: a share publishes from the version current when it was made, deleted means
//! deleted, revocations land even when share.yaml cannot be written for a while, log entries are
//! immutable and agree with the store, and concurrent share/unshare calls (also from two backends on
//! one store and one share.yaml) answer what they did.

use std::collections::BTreeSet;
use std::process::Command;

use super::*;

const MISTAKE: &str = "ssn,amount\n123-45-6789,1.5\n";
const CORRECTED: &str = "ssn,amount\nredacted,1.5\n";

/// Every file under a dataset's directory, relative to it.
fn stored(backend: &Backend, id: &str) -> BTreeSet<String> {
    let root = backend.dir.path().join("storage/datasets").join(id);
    let mut found = BTreeSet::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.insert(
                    path.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    found
}

fn share_yaml(backend: &Backend) -> String {
    std::fs::read_to_string(backend.dir.path().join("share.yaml")).unwrap()
}

/// The first version share.yaml lets recipients reach of a dataset's table, if it is shared there.
fn shared_start(backend: &Backend, id: &str) -> Option<i64> {
    let config = delta_bridge_shares::ShareConfig::from_yaml(&share_yaml(backend)).unwrap();
    config
        .shares
        .iter()
        .find(|s| s.name == id)
        .map(|s| s.schemas[0].tables[0].start_version)
}

/// The Parquet files of a CSV, converted in the backend's directory.
fn csv_files(backend: &Backend, csv: &str) -> Vec<PathBuf> {
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    parquet_files(&work, csv)
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 10 s");
}

/// Makes a directory unwritable even for root (the immutable attribute), until dropped.
struct Frozen(PathBuf);

impl Frozen {
    fn new(dir: &Path) -> Frozen {
        let status = Command::new("chattr").arg("+i").arg(dir).status().unwrap();
        assert!(status.success(), "chattr +i {} failed", dir.display());
        Frozen(dir.to_path_buf())
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

async fn create_and_overwrite(backend: &Backend, name: &str) -> (String, BTreeSet<String>) {
    let (status, body) = backend
        .upload("ana", name, &csv_files(backend, MISTAKE), "create")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let first = stored(backend, &id);
    let (status, body) = backend
        .upload("ana", name, &csv_files(backend, CORRECTED), "overwrite")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 1);
    (id, first)
}

#[tokio::test]
async fn a_share_publishes_from_the_current_version_and_overwritten_files_are_vacuumed() {
    let backend = Backend::start().await;
    let (id, first) = create_and_overwrite(&backend, "people").await;
    let mistaken: Vec<String> = first
        .iter()
        .filter(|f| f.ends_with(".parquet"))
        .cloned()
        .collect();
    assert_eq!(mistaken.len(), 1);
    // Retention 0 and no share: the overwritten file goes as soon as the overwrite is committed.
    eventually("the overwritten file is vacuumed", || {
        !stored(&backend, &id).contains(&mistaken[0])
    })
    .await;
    let (status, body) = backend
        .post("/share", "ana", json!({"datasetId": id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["startVersion"].as_i64(), body["history"].as_bool()),
        (Some(1), Some(false))
    );
    assert_eq!(
        shared_start(&backend, &id),
        Some(1),
        "recipients cannot reach version 0"
    );
    // What is left: the log and the current version's one file.
    let left = stored(&backend, &id);
    assert_eq!(left.iter().filter(|f| f.ends_with(".parquet")).count(), 1);
    assert!(left.iter().all(|f| !f.contains(mistaken[0].as_str())));
    // Sharing with history now starts at the first version whose files are all still there.
    let (status, body) = backend
        .post(
            "/share",
            "ana",
            json!({"datasetId": id, "withHistory": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["startVersion"].as_i64(), body["history"].as_bool()),
        (Some(1), Some(true))
    );
}

#[tokio::test]
async fn history_is_shared_only_when_asked_and_kept_only_while_reachable() {
    let backend = Backend::launch(Options {
        retention: Duration::from_secs(7 * 86_400),
        ..Options::default()
    })
    .await;
    let (id, first) = create_and_overwrite(&backend, "people").await;
    let (_, body) = backend
        .post("/share", "ana", json!({"datasetId": id}))
        .await;
    assert_eq!(body["startVersion"], 1);
    let token = body["snippet"]["profile"]["bearerToken"].clone();
    assert_eq!(shared_start(&backend, &id).unwrap(), 1);
    // Within the retention window the old file stays (the owner's own time travel).
    assert!(first.is_subset(&stored(&backend, &id)));
    // The owner chooses to share the history: same token, recipients reach version 0.
    let (_, body) = backend
        .post(
            "/share",
            "ana",
            json!({"datasetId": id, "withHistory": true}),
        )
        .await;
    assert_eq!(
        (body["startVersion"].as_i64(), body["history"].as_bool()),
        (Some(0), Some(true))
    );
    assert_eq!(body["snippet"]["profile"]["bearerToken"], token);
    assert_eq!(shared_start(&backend, &id).unwrap(), 0);
    // The dataset's page says what it shares.
    let (_, again) = backend.get(&format!("/snippet?tableId={id}"), "ana").await;
    assert_eq!(again["history"], true);
}

#[tokio::test]
async fn an_unshare_that_cannot_write_share_yaml_lands_by_itself_once_it_can() {
    let backend = Backend::start().await;
    let files = csv_files(&backend, CSV);
    let (_, body) = backend.upload("ana", "kept", &files, "create").await;
    let id = body["id"].as_str().unwrap().to_string();
    let (_, body) = backend.upload("ana", "deleted", &files, "create").await;
    let gone = body["id"].as_str().unwrap().to_string();
    for dataset in [&id, &gone] {
        let (status, _) = backend
            .post("/share", "ana", json!({"datasetId": dataset}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let before = share_yaml(&backend);
    let frozen = Frozen::new(backend.dir.path());
    let (status, body) = backend
        .post("/unshare", "ana", json!({"datasetId": id}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        (body["wasShared"].as_bool(), body["revocation"].as_str()),
        (Some(true), Some("pending"))
    );
    // Asking again does not pretend: still pending, although there is nothing left to unshare.
    let (status, body) = backend
        .post("/unshare", "ana", json!({"datasetId": id}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        (body["wasShared"].as_bool(), body["revocation"].as_str()),
        (Some(false), Some("pending"))
    );
    let (status, body) = backend.delete(&format!("/datasets/{gone}"), "ana").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        (
            body["revocation"].as_str(),
            body["storageDeleted"].as_bool()
        ),
        (Some("pending"), Some(false))
    );
    // Not yet: the file still serves both, and the deleted dataset's files are still there (deleting
    // them before the file stops serving the table would break its recipients mid-read).
    assert_eq!(share_yaml(&backend), before);
    assert!(!stored(&backend, &gone).is_empty());
    let (_, health) = backend
        .call(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["shareFile"]["lagging"], true);
    assert_eq!(health["pendingDeletions"], 1);
    // Retries keep failing while the directory stays unwritable.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(share_yaml(&backend), before);
    drop(frozen);
    // Without any further call, the revocation and the deletion land.
    eventually("the revocation lands", || {
        shared_start(&backend, &id).is_none() && shared_start(&backend, &gone).is_none()
    })
    .await;
    eventually("the deleted dataset's storage is gone", || {
        !backend
            .dir
            .path()
            .join("storage/datasets")
            .join(&gone)
            .exists()
    })
    .await;
    // The deletion's record is dropped just after its storage is gone: health follows, a moment later.
    let mut health = json!(null);
    for _ in 0..100 {
        (_, health) = backend
            .call(reqwest::Method::GET, "/healthz", None, None)
            .await;
        if health["pendingDeletions"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["pendingDeletions"], 0, "{health}");
    let (status, body) = backend
        .post("/unshare", "ana", json!({"datasetId": id}))
        .await;
    assert_eq!(
        (status, body["revocation"].as_str()),
        (StatusCode::OK, Some("inForce"))
    );
}

#[tokio::test]
async fn a_deleted_datasets_storage_goes_with_it() {
    let backend = Backend::start().await;
    let (_, body) = backend
        .upload("ana", "gone", &csv_files(&backend, CSV), "create")
        .await;
    let id = body["id"].as_str().unwrap().to_string();
    backend
        .post("/share", "ana", json!({"datasetId": id}))
        .await;
    let (status, body) = backend.delete(&format!("/datasets/{id}"), "ana").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(shared_start(&backend, &id).is_none());
    assert!(
        !backend
            .dir
            .path()
            .join("storage/datasets")
            .join(&id)
            .exists()
    );
    let (status, _) = backend.delete(&format!("/datasets/{id}"), "ana").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A log entry a commit wrote before its store transaction failed (a kill, a lost connection).
fn leave_entry(backend: &Backend, id: &str, version: i64, upload_id: &str) -> PathBuf {
    leave_entry_adding(backend, id, version, upload_id, 0)
}

/// [`leave_entry`] adding the first `files` files of the upload (`part-<n>-<upload>.parquet`).
fn leave_entry_adding(
    backend: &Backend,
    id: &str,
    version: i64,
    upload_id: &str,
    files: usize,
) -> PathBuf {
    let path = backend.dir.path().join(format!(
        "storage/datasets/{id}/_delta_log/{version:020}.json"
    ));
    let mut entry =
        json!({"commitInfo": {"timestamp": 1, "operation": "WRITE", "uploadId": upload_id}})
            .to_string();
    for n in 0..files {
        let add = json!({"add": {"path": format!("part-{n:05}-{upload_id}.parquet")}});
        entry += &format!("\n{add}");
    }
    std::fs::write(&path, format!("{entry}\n")).unwrap();
    path
}

#[tokio::test]
async fn an_entry_left_by_a_failed_commit_is_adopted_by_its_upload_or_removed_for_another() {
    let backend = Backend::start().await;
    let files = csv_files(&backend, CSV);
    let (_, body) = backend.upload("ana", "t", &files, "create").await;
    let id = body["id"].as_str().unwrap().to_string();
    // A ghost of an upload the store never committed (its commit failed, it is long gone).
    let ghost = leave_entry(&backend, &id, 1, "up00000000000000000000");
    let (status, body) = backend.upload("ana", "t", &files, "append").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 1);
    let text = std::fs::read_to_string(&ghost).unwrap();
    assert!(
        text.contains("\"add\""),
        "the next process replaced the ghost: {text}"
    );
    assert!(!text.contains("up00000000000000000000"));

    // An entry of this very upload (written before its store commit failed) is adopted as it is.
    let specs: Vec<Value> = files.iter().map(|f| spec(f)).collect();
    let (_, presigned) = backend
        .post("/presign", "ana", json!({"datasetId": id, "files": specs}))
        .await;
    let upload_id = presigned["uploadId"].as_str().unwrap().to_string();
    for (file, upload) in files.iter().zip(presigned["files"].as_array().unwrap()) {
        let response = backend
            .http
            .put(upload["url"].as_str().unwrap())
            .body(std::fs::read(file).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    // Not if it adds other files (an attempt that named others): that attempt fails and removes it...
    let other = leave_entry_adding(&backend, &id, 2, &upload_id, files.len() + 1);
    let append = json!({"uploadId": upload_id, "mode": "append"});
    let (status, body) = backend.post("/process", "ana", append.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        !other.exists(),
        "the entry that added other files is removed"
    );
    // ...and one that adds the same files is adopted as it is.
    let own = leave_entry_adding(&backend, &id, 2, &upload_id, files.len());
    let written = std::fs::read_to_string(&own).unwrap();
    let (status, body) = backend.post("/process", "ana", append).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(
        std::fs::read_to_string(&own).unwrap(),
        written,
        "never rewritten"
    );

    // Abandoning an upload removes an entry its failed commit left.
    let (_, presigned) = backend
        .post("/presign", "ana", json!({"datasetId": id, "files": specs}))
        .await;
    let upload_id = presigned["uploadId"].as_str().unwrap().to_string();
    let left = leave_entry(&backend, &id, 3, &upload_id);
    let (status, _) = backend
        .delete(&format!("/uploads/{upload_id}"), "ana")
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!left.exists());
}

#[tokio::test]
async fn log_entries_are_written_once_and_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::local(dir.path()).unwrap();
    let key = "datasets/x/_delta_log/00000000000000000000.json";
    assert!(storage.put_new(key, "first\n".into()).await.unwrap());
    assert!(!storage.put_new(key, "second\n".into()).await.unwrap());
    assert_eq!(storage.get(key).await.unwrap().unwrap(), "first\n");
    // No temporary is left beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("datasets/x/_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1);
}

#[tokio::test]
async fn concurrent_shares_and_unshares_on_two_backends_answer_what_they_did() {
    let first = Arc::new(Backend::start().await);
    let second = Arc::new(first.replica().await);
    let files = csv_files(&first, CSV);
    let mut ids = Vec::new();
    for i in 0..4 {
        let (status, body) = first
            .upload("ana", &format!("t{i}"), &files, "create")
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    // Revoked token hashes, each with the moment its unshare answered "in force".
    let revoked = Arc::new(std::sync::Mutex::new(
        Vec::<(String, std::time::Instant)>::new(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let path = first.dir.path().join("share.yaml");
    // A reader polls share.yaml all along: no token may come back after its revocation.
    let watcher = {
        let (revoked, stop, path) = (revoked.clone(), stop.clone(), path.clone());
        tokio::spawn(async move {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let seen = std::time::Instant::now();
                let text = std::fs::read_to_string(&path).unwrap();
                for (hash, at) in revoked.lock().unwrap().iter() {
                    assert!(
                        !(text.contains(hash.as_str()) && seen > *at),
                        "a revoked token is back in share.yaml"
                    );
                }
                reads += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            reads
        })
    };
    let mut calls = Vec::new();
    for i in 0..200usize {
        let backend = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let id = ids[i % ids.len()].clone();
        let revoked = revoked.clone();
        calls.push(tokio::spawn(async move {
            if (i / 4) % 2 == 0 {
                let (status, body) = backend
                    .post("/share", "ana", json!({"datasetId": id}))
                    .await;
                assert_eq!(status, StatusCode::OK, "share {id}: {body}");
            } else {
                let before = backend.get(&format!("/snippet?tableId={id}"), "ana").await;
                let (status, body) = backend
                    .post("/unshare", "ana", json!({"datasetId": id}))
                    .await;
                assert_eq!(status, StatusCode::OK, "unshare {id}: {body}");
                assert_eq!(body["revocation"], "inForce");
                if before.0 == StatusCode::OK && body["wasShared"] == true {
                    let token = before.1["snippet"]["profile"]["bearerToken"]
                        .as_str()
                        .unwrap();
                    // The token read before this unshare: revoked by it, or by another unshare in
                    // between (a share in between makes a new token).
                    let hash = delta_bridge_shares::hash_token(token);
                    let text =
                        std::fs::read_to_string(backend.dir.path().join("share.yaml")).unwrap();
                    assert!(
                        !text.contains(hash.as_str()),
                        "unshare answered in force, but the token is served"
                    );
                    revoked
                        .lock()
                        .unwrap()
                        .push((hash, std::time::Instant::now()));
                }
            }
        }));
    }
    for call in calls {
        call.await.unwrap();
    }
    // Deletes on both backends while the other datasets are still shared and unshared: each answers
    // what it did, and the rest never see a 404.
    let mut calls = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let backend = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let id = id.clone();
        calls.push(tokio::spawn(async move {
            if i < 2 {
                let (status, body) = backend.delete(&format!("/datasets/{id}"), "ana").await;
                assert_eq!(status, StatusCode::NO_CONTENT, "delete {id}: {body}");
            } else {
                for round in 0..10 {
                    let path = if round % 2 == 0 { "/share" } else { "/unshare" };
                    let (status, body) = backend.post(path, "ana", json!({"datasetId": id})).await;
                    assert_eq!(status, StatusCode::OK, "{path} {id}: {body}");
                }
            }
        }));
    }
    for call in calls {
        call.await.unwrap();
    }
    for id in &ids[..2] {
        assert!(!first.dir.path().join("storage/datasets").join(id).exists());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(watcher.await.unwrap() > 10);
    // At the end share.yaml equals the store: the shared datasets' tables, nothing else.
    let (_, page) = first.get("/datasets", "ana").await;
    let shared: BTreeSet<String> = page["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["shared"] == true)
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    let config = delta_bridge_shares::ShareConfig::from_yaml(&share_yaml(&first)).unwrap();
    let in_file: BTreeSet<String> = config.shares.iter().map(|s| s.name.clone()).collect();
    assert_eq!(in_file, shared);
}
