//! `share.yaml`, regenerated from the store (never from memory) and written atomically.
//!
//! Regenerations in this process take turns (a lock). Across replicas, each writer re-reads the share
//! generation after writing and writes again if it moved, so the last file written always reflects the
//! last change, and 50 concurrent shares end with all 50 in the file.

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

    /// Writes the file from what the store holds now.
    pub async fn regenerate(&self, store: &Store, storage: &Storage) -> Result<()> {
        let _turn = self.turn.lock().await;
        loop {
            let (generation, shares) = store.all_shares().await?;
            let text = render(&shares, storage);
            // Never write a file the sharing server would refuse.
            if let Err(e) = ShareConfig::from_yaml(&text) {
                return Err(Error::ShareFile(std::io::Error::other(e.to_string())));
            }
            let path = self.path.clone();
            tokio::task::spawn_blocking(move || {
                delta_bridge_shares::write_atomically(&path, &text)
            })
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .map_err(Error::ShareFile)?;
            if store.share_generation().await? == generation {
                return Ok(());
            }
        }
    }
}

/// The YAML for a set of shares: one share per dataset (named by its id) holding one table, and one
/// token per share that can read only it.
pub fn render(shares: &[ShareRecord], storage: &Storage) -> String {
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
                        history_shared: Some(true),
                        start_version: None,
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
