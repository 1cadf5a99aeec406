//! `share.yaml`, regenerated from the store (never from memory) and written atomically: a file, or one
//! S3 object replaced only by conditional PUTs ([`ShareTarget`]).
//!
//! The file carries the store's share generation (`generation:`). Writers in every process on one store
//! take turns through a lock row in the store (held while the file is written), and none replaces a file
//! stamped with a generation at least as new as the one it would write, so a revoked token never comes
//! back. A reconciler ([`crate::Datasets::maintain`]) rewrites the file whenever it lags the store.

use std::path::PathBuf;

use delta_bridge_shares::{
    RawAuthorization, RawConfig, RawSchema, RawShare, RawTable, RawToken, ShareConfig,
};

use crate::storage::{Storage, s3_failure};
use crate::store::{Published, Store};
use crate::{Error, Result};

/// The schema every dataset's share holds its table in.
pub const SCHEMA: &str = "default";

/// The key of a dataset's table directory under the storage root.
pub fn table_key(dataset_id: &str) -> String {
    format!("datasets/{dataset_id}")
}

/// The table name recipients see: the dataset's name with the column-name rules applied (no dots or
/// spaces, so `profile#share.schema.table` stays unambiguous).
pub fn table_name(dataset_name: &str) -> String {
    let cleaned = delta_bridge_ingest::names::clean(dataset_name);
    if cleaned.is_empty() {
        "data".to_string()
    } else {
        cleaned
    }
}

/// Where `share.yaml` is written: a file on this machine, or one S3 object that sharing servers on other
/// machines poll.
#[derive(Debug, Clone)]
pub enum ShareTarget {
    /// A path on this machine (written atomically: temporary file, fsync, rename).
    File(PathBuf),
    /// One object, replaced only by a conditional PUT (`If-Match` the version read, or `If-None-Match: *`
    /// when there is none), so no writer ever replaces a version it has not seen.
    Object {
        /// The client (endpoint, region, credentials).
        client: aws_sdk_s3::Client,
        /// The bucket.
        bucket: String,
        /// The object's key.
        key: String,
    },
}

impl std::fmt::Display for ShareTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShareTarget::File(path) => write!(f, "{}", path.display()),
            ShareTarget::Object { bucket, key, .. } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// What is there now: the text, and for an object its ETag (what a conditional PUT must match).
struct Current {
    text: String,
    etag: Option<String>,
}

/// How a write ended.
enum Written {
    Done,
    /// Someone else replaced the object since it was read.
    Changed,
}

impl ShareTarget {
    /// The text there now (none if missing; for a file, also if unreadable: it is rewritten).
    async fn read(&self) -> Result<Option<Current>> {
        match self {
            ShareTarget::File(path) => {
                let path = path.clone();
                Ok(
                    tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
                        .await
                        .ok()
                        .and_then(|r| r.ok())
                        .map(|text| Current { text, etag: None }),
                )
            }
            ShareTarget::Object {
                client,
                bucket,
                key,
            } => {
                let answer = match client.get_object().bucket(bucket).key(key).send().await {
                    Ok(answer) => answer,
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                        return Ok(None);
                    }
                    Err(e) => return Err(s3_failure(&format!("reading s3://{bucket}/{key}"), &e)),
                };
                let etag = answer.e_tag().map(str::to_string);
                let bytes = answer
                    .body
                    .collect()
                    .await
                    .map_err(|e| Error::Storage(format!("reading s3://{bucket}/{key}: {e}")))?;
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| Error::Storage(format!("s3://{bucket}/{key} is not UTF-8")))?;
                Ok(Some(Current { text, etag }))
            }
        }
    }

    /// Writes `text` over what was read (`over`: none if nothing was there).
    async fn write(&self, text: String, over: Option<&Current>) -> Result<Written> {
        match self {
            ShareTarget::File(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    delta_bridge_shares::write_atomically(&path, &text)
                })
                .await
                .map_err(std::io::Error::other)
                .and_then(|r| r)
                .map_err(Error::ShareFile)?;
                Ok(Written::Done)
            }
            ShareTarget::Object {
                client,
                bucket,
                key,
            } => {
                let mut put = client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type("application/yaml")
                    .body(text.into_bytes().into());
                put = match over.and_then(|c| c.etag.as_deref()) {
                    Some(etag) => put.if_match(etag),
                    None => put.if_none_match("*"),
                };
                match put.send().await {
                    Ok(_) => Ok(Written::Done),
                    // 412: replaced (or created) since it was read; 409: a concurrent conditional write.
                    Err(e)
                        if matches!(
                            e.raw_response().map(|r| r.status().as_u16()),
                            Some(412 | 409)
                        ) =>
                    {
                        Ok(Written::Changed)
                    }
                    Err(e) => Err(s3_failure(&format!("writing s3://{bucket}/{key}"), &e)),
                }
            }
        }
    }
}

/// Writes `share.yaml`.
#[derive(Debug)]
pub struct ShareFile {
    target: ShareTarget,
    turn: tokio::sync::Mutex<()>,
}

impl ShareFile {
    /// The file (or object) at `target`.
    pub fn new(target: ShareTarget) -> ShareFile {
        ShareFile {
            target,
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Where it is.
    pub fn target(&self) -> &ShareTarget {
        &self.target
    }

    /// The generation the file is stamped with (`None` if it is missing, unreadable or has no stamp).
    pub async fn written_generation(&self) -> Option<i64> {
        stamp(&self.target.read().await.ok()??.text)
    }

    /// Brings the file up to what the store holds now; returns the generation the file then has.
    /// Does nothing when the file is already stamped with that generation or a newer one.
    pub async fn regenerate(&self, store: &Store, storage: &Storage) -> Result<i64> {
        let _turn = self.turn.lock().await;
        let target = &self.target;
        store
            .with_share_file_lock(|generation, published| async move {
                // Writers take turns through the store's lock; a conditional write that still finds the
                // object changed (a writer outside this store's turns) reads it again.
                for _ in 0..5 {
                    let current = target.read().await?;
                    if current
                        .as_ref()
                        .and_then(|c| stamp(&c.text))
                        .is_some_and(|g| g >= generation)
                    {
                        return Ok(());
                    }
                    let text = render(generation, &published, storage, chrono::Utc::now());
                    // Never write a file the sharing server would refuse.
                    if let Err(e) = ShareConfig::from_yaml(&text) {
                        return Err(Error::ShareFile(std::io::Error::other(e.to_string())));
                    }
                    match target.write(text, current.as_ref()).await? {
                        Written::Done => return Ok(()),
                        Written::Changed => {
                            tracing::warn!("{target} changed while it was being written; reading it again")
                        }
                    }
                }
                Err(Error::ShareFile(std::io::Error::other(format!(
                    "{target} kept changing while it was being written: is another deployment writing it?"
                ))))
            })
            .await
    }
}

/// The `generation:` stamp of a `share.yaml` text, read without parsing the rest (the backend writes it
/// as a top-level line).
pub fn stamp(text: &str) -> Option<i64> {
    text.lines()
        .find_map(|line| line.strip_prefix("generation:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The name of a recipient's token that a rotation replaced, while it still works.
pub fn previous_token_name(recipient_id: &str) -> String {
    format!("{recipient_id}:previous")
}

/// The YAML for what the store publishes: one share per dataset shared by link (named by its id) with a
/// token that reads only it, and one share per recipient (named by its id) holding every dataset granted
/// to it, each from its own start version, with the recipient's token (expiring with it) and, during a
/// rotation's overlap, the replaced token until the overlap ends.
pub fn render(
    generation: i64,
    published: &Published,
    storage: &Storage,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let table = |name: &str, dataset_id: &str, start_version: i64| RawTable {
        name: Some(name.to_string()),
        location: Some(storage.location(&table_key(dataset_id))),
        id: Some(dataset_id.to_string()),
        // Recipients reach the version current when it was shared, and later ones; the history before
        // it only when the owner chose to share it.
        history_shared: Some(true),
        start_version: Some(start_version),
    };
    let schema = |tables: Vec<RawTable>| RawSchema {
        name: Some(SCHEMA.into()),
        tables,
    };
    let at = |ms: i64| {
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let mut shares = Vec::new();
    let mut tokens = Vec::new();
    for s in &published.shares {
        shares.push(RawShare {
            name: Some(s.dataset_id.clone()),
            schemas: vec![schema(vec![table(
                &table_name(&s.dataset_name),
                &s.dataset_id,
                s.start_version,
            )])],
        });
        tokens.push(RawToken {
            name: Some(s.dataset_id.clone()),
            token_hash: Some(s.token_hash.clone()),
            shares: vec![s.dataset_id.clone()],
            expires_at: None,
        });
    }
    for p in &published.recipients {
        let r = &p.recipient;
        let tables: Vec<RawTable> = p
            .grants
            .iter()
            .map(|g| table(&g.table_name, &g.dataset_id, g.start_version))
            .collect();
        shares.push(RawShare {
            name: Some(r.id.clone()),
            // A recipient with nothing granted has an empty share: its profile lists no table.
            schemas: if tables.is_empty() {
                Vec::new()
            } else {
                vec![schema(tables)]
            },
        });
        tokens.push(RawToken {
            name: Some(r.id.clone()),
            token_hash: Some(r.token_hash.clone()),
            shares: vec![r.id.clone()],
            expires_at: r.expires_at.map(at),
        });
        if let (Some(hash), Some(until)) = (&r.previous_token_hash, r.previous_until)
            && until > now.timestamp_millis()
        {
            let until = r.expires_at.map_or(until, |e| e.min(until));
            tokens.push(RawToken {
                name: Some(previous_token_name(&r.id)),
                token_hash: Some(hash.clone()),
                shares: vec![r.id.clone()],
                expires_at: Some(at(until)),
            });
        }
    }
    // With nothing shared, the file still needs a credential for the server to stay closed: a random
    // bearer token nobody is ever given (it opens no share, as there are none).
    let bearer_token = tokens.is_empty().then(|| crate::ids::random_hex(32));
    let config = RawConfig {
        version: Some(1),
        generation: Some(generation.max(0) as u64),
        shares,
        authorization: Some(RawAuthorization {
            bearer_token,
            tokens,
        }),
        ..Default::default()
    };
    delta_bridge_shares::to_yaml(&config)
}
