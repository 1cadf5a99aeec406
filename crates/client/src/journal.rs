//! The journal of an upload: what is converted, which files and parts are uploaded (with their ETags),
//! whether it was committed. Written atomically after every step, so a killed upload resumes where it
//! stopped and never sends a completed part again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::upload::UploadRequest;
use crate::{Client, Error, Result};

/// One converted data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Its name (unique in the upload).
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
    /// Bytes.
    pub size: i64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// What was sent of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// Bytes per part (the last has the rest), when the file goes up in parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_size: Option<i64>,
    /// The whole file went up in one PUT.
    #[serde(default)]
    pub whole: bool,
    /// Parts that went up, with their ETags.
    #[serde(default)]
    pub parts: BTreeMap<i64, String>,
}

/// The journal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The upload as it was asked (journals written before it was recorded have none, and are not
    /// listed as interrupted).
    #[serde(default)]
    pub request: Option<UploadRequest>,
    /// The backend it goes to.
    #[serde(default)]
    pub backend: String,
    /// Dataset name.
    pub name: String,
    /// Create, append or overwrite (`create`, `append`, `overwrite` in the file, as ever).
    pub mode: delta_bridge_api::Mode,
    /// The converted table.
    pub staging: PathBuf,
    /// Whether the conversion finished.
    pub converted: bool,
    /// The table was the user's own (uploaded as it is): never deleted.
    #[serde(default)]
    pub keep_staging: bool,
    /// Its data files.
    pub files: Vec<StagedFile>,
    /// What the conversion noted, for the answer (kept across a resume).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The backend's upload id, once presigned.
    pub upload_id: Option<String>,
    /// The dataset, once presigned.
    pub dataset_id: Option<String>,
    /// What was sent, by file name.
    pub sent: BTreeMap<String, Sent>,
}

impl Journal {
    /// Reads a journal, if there is one.
    pub fn load(path: &Path) -> Result<Option<Journal>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Local(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes it atomically, for the user alone (its directory 0700, the file 0600).
    pub fn save(&self, path: &Path) -> Result<()> {
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                crate::private::private_dir(parent)?;
            }
            crate::private::write(path, &serde_json::to_vec_pretty(self).expect("serializes"))
        };
        write().map_err(|e| Error::Local(format!("{}: {e}", path.display())))
    }
}

/// An upload that started and did not finish (paused, cancelled by a crash or a kill, failed on the
/// network): the same request again resumes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Interrupted {
    /// Its journal's key, for [`Client::discard`].
    pub key: String,
    /// The upload as it was asked.
    pub request: UploadRequest,
    /// Bytes storage holds of it.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes_sent: u64,
    /// Bytes to send (before the conversion finished: the CSV files' size).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes_total: u64,
    /// Whether the conversion had finished (if not, resuming converts again).
    pub converted: bool,
}

impl Journal {
    /// Bytes recorded as sent.
    pub fn bytes_sent(&self) -> u64 {
        self.files
            .iter()
            .map(|file| {
                let size = file.size.max(0) as u64;
                match self.sent.get(&file.name) {
                    None => 0,
                    Some(sent) if sent.whole => size,
                    Some(sent) => {
                        let part = sent.part_size.unwrap_or(0).max(0) as u64;
                        sent.parts
                            .keys()
                            .map(|n| {
                                let offset = (*n).max(1) as u64 - 1;
                                part.min(size.saturating_sub(offset * part))
                            })
                            .sum()
                    }
                }
            })
            .sum()
    }

    /// Bytes to send: the converted files, or before the conversion the CSV files.
    pub fn bytes_total(&self) -> u64 {
        if self.converted {
            return self.files.iter().map(|f| f.size.max(0) as u64).sum();
        }
        self.request.as_ref().map_or(0, |r| {
            r.files
                .iter()
                .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
                .sum()
        })
    }
}

/// Whether `key` is a journal key (24 lowercase hex digits), so it can name a file.
fn is_key(key: &str) -> bool {
    key.len() == 24 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Client {
    /// The uploads to this backend that started and did not finish, newest first.
    pub fn interrupted(&self) -> Result<Vec<Interrupted>> {
        let dir = self.journal_path("x");
        let dir = dir.parent().expect("journals are in a directory");
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::Local(format!("{}: {e}", dir.display()))),
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(key) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .filter(|k| is_key(k))
            else {
                continue;
            };
            let Ok(Some(journal)) = Journal::load(&path) else {
                continue;
            };
            if journal.backend != self.backend_url() {
                continue;
            }
            let Some(request) = journal.request.clone() else {
                continue;
            };
            let modified = entry.metadata().and_then(|m| m.modified()).ok();
            found.push((
                modified,
                Interrupted {
                    key: key.to_string(),
                    request,
                    bytes_sent: journal.bytes_sent(),
                    bytes_total: journal.bytes_total(),
                    converted: journal.converted,
                },
            ));
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.key.cmp(&b.1.key)));
        Ok(found.into_iter().map(|(_, i)| i).collect())
    }

    /// Forgets an interrupted upload: its journal, its local copy and (best effort) what the backend
    /// received. False if there was none with that key.
    pub async fn discard(&self, key: &str) -> Result<bool> {
        if !is_key(key) {
            return Ok(false);
        }
        let path = self.journal_path(key);
        let Some(journal) = Journal::load(&path)? else {
            return Ok(false);
        };
        self.forget(&path, &journal, None).await;
        Ok(true)
    }
}
