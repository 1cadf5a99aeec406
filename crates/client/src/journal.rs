//! The journal of an upload: what is converted, which files and parts are uploaded (with their ETags),
//! whether it was committed. Written atomically after every step, so a killed upload resumes where it
//! stopped and never sends a completed part again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

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
