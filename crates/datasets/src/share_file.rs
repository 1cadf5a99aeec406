//! `share.yaml`, regenerated from the store (never from memory) and written atomically.
//!
//! The file carries the store's share generation (`generation:`). Writers in every process on one store
//! take turns through a lock row in the store (held while the file is written), and none replaces a file
//! stamped with a generation at least as new as the one it would write, so a revoked token never comes
//! back. A reconciler ([`crate::Datasets::maintain`]) rewrites the file whenever it lags the store.

use std::path::{Path, PathBuf};

use delta_bridge_shares::{
    RawAuthorization, RawConfig, RawSchema, RawShare, RawTable, RawToken, ShareConfig,
};

use crate::storage::Storage;
use crate::store::{ShareRecord, Store};
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

/// Writes `share.yaml`.
#[derive(Debug)]
pub struct ShareFile {
    path: PathBuf,
    turn: tokio::sync::Mutex<()>,
}

impl ShareFile {
    /// The file at `path`.
    pub fn new(path: &Path) -> ShareFile {
        ShareFile {
            path: path.to_path_buf(),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The generation the file on disk is stamped with (`None` if it is missing, unreadable or has no
    /// stamp).
    pub async fn written_generation(&self) -> Option<i64> {
        let path = self.path.clone();
        let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
            .await
            .ok()?
            .ok()?;
        stamp(&text)
    }

    /// Brings the file up to what the store holds now; returns the generation the file then has.
    /// Does nothing when the file is already stamped with that generation or a newer one.
    pub async fn regenerate(&self, store: &Store, storage: &Storage) -> Result<i64> {
        let _turn = self.turn.lock().await;
        let path = self.path.clone();
        store
            .with_share_file_lock(|generation, shares| async move {
                let on_disk = {
                    let path = path.clone();
                    tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
                        .await
                        .ok()
                        .and_then(|r| r.ok())
                        .and_then(|text| stamp(&text))
                };
                if on_disk.is_some_and(|g| g >= generation) {
                    return Ok(());
                }
                let text = render(generation, &shares, storage);
                // Never write a file the sharing server would refuse.
                if let Err(e) = ShareConfig::from_yaml(&text) {
                    return Err(Error::ShareFile(std::io::Error::other(e.to_string())));
                }
                tokio::task::spawn_blocking(move || {
                    delta_bridge_shares::write_atomically(&path, &text)
                })
                .await
                .map_err(std::io::Error::other)
                .and_then(|r| r)
                .map_err(Error::ShareFile)
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

/// The YAML for a set of shares: one share per dataset (named by its id) holding one table, and one
/// token per share that can read only it.
pub fn render(generation: i64, shares: &[ShareRecord], storage: &Storage) -> String {
    let tokens: Vec<RawToken> = shares
        .iter()
        .map(|s| RawToken {
            name: Some(s.dataset_id.clone()),
            token_hash: Some(s.token_hash.clone()),
            shares: vec![s.dataset_id.clone()],
            expires_at: None,
        })
        .collect();
    // With nothing shared, the file still needs a credential for the server to stay closed: a random
    // bearer token nobody is ever given (it opens no share, as there are none).
    let bearer_token = tokens.is_empty().then(|| crate::ids::random_hex(32));
    let config = RawConfig {
        version: Some(1),
        generation: Some(generation.max(0) as u64),
        shares: shares
            .iter()
            .map(|s| RawShare {
                name: Some(s.dataset_id.clone()),
                schemas: vec![RawSchema {
                    name: Some(SCHEMA.into()),
                    tables: vec![RawTable {
                        name: Some(table_name(&s.dataset_name)),
                        location: Some(storage.location(&table_key(&s.dataset_id))),
                        id: Some(s.dataset_id.clone()),
                        // Recipients reach the version current when it was shared, and later ones;
                        // the history before it only when the owner chose to share it.
                        history_shared: Some(true),
                        start_version: Some(s.start_version),
                    }],
                }],
            })
            .collect(),
        authorization: Some(RawAuthorization {
            bearer_token,
            tokens,
        }),
        ..Default::default()
    };
    delta_bridge_shares::to_yaml(&config)
}
