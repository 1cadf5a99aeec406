//! Log replay with a cache: the state of a table at a version, computed once and reused.
//!
//! A [`TableLog`] remembers what `_delta_log/` held when last listed, every commit it has parsed, and a
//! few snapshots. A query of an unchanged table lists the log directory (to notice new versions) and
//! reads nothing else. A new version is applied on top of the newest cached snapshot; a historical one
//! starts from the newest checkpoint at or before it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::log::{self, Action, FileAction, LogFileKind, Metadata, Protocol};
use crate::store::Store;
use crate::{Error, Location, Result};

/// How many snapshots of one table stay cached (the latest and a few time-travel targets).
const SNAPSHOTS_PER_TABLE: usize = 4;

/// A table as of one version.
#[derive(Debug)]
pub struct Snapshot {
    /// The version.
    pub version: i64,
    /// Protocol in force.
    pub protocol: Arc<Protocol>,
    /// Metadata in force.
    pub metadata: Arc<Metadata>,
    /// Active data files, in log order.
    pub files: Vec<Arc<FileAction>>,
}

#[derive(Debug, Default)]
struct Listing {
    /// Commit version → commit time (epoch ms), made strictly increasing.
    commits: BTreeMap<i64, i64>,
    /// Checkpoint version → (part, parts, file name) of every part seen.
    checkpoints: BTreeMap<i64, Vec<(u32, u32, String)>>,
    /// Name of the last commit file seen, to list only newer ones next time.
    last_commit_name: Option<String>,
    listed: bool,
}

/// The cached state of one table's log.
#[derive(Debug)]
pub struct TableLog {
    name: String,
    location: Location,
    listing: Listing,
    commits: HashMap<i64, Arc<Vec<Action>>>,
    snapshots: BTreeMap<i64, Arc<Snapshot>>,
}

impl TableLog {
    /// An empty cache for the table `name` at `location`.
    pub fn new(name: &str, location: Location) -> Self {
        TableLog {
            name: name.to_string(),
            location,
            listing: Listing::default(),
            commits: HashMap::new(),
            snapshots: BTreeMap::new(),
        }
    }

    fn corrupt(&self, file: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::CorruptLog {
            table: self.name.clone(),
            file: file.into(),
            reason: reason.into(),
        }
    }

    /// Lists new files of `_delta_log/`. With `force == false` a table listed before is not listed again.
    pub async fn refresh(&mut self, store: &Store, force: bool) -> Result<()> {
        if self.listing.listed && !force {
            return Ok(());
        }
        let entries = store
            .list_log(&self.location, self.listing.last_commit_name.as_deref())
            .await?;
        let mut changed = false;
        for entry in entries {
            match log::classify(&entry.name) {
                LogFileKind::Commit(version) => {
                    self.listing.commits.insert(version, entry.last_modified_ms);
                    self.listing.last_commit_name = Some(entry.name);
                    changed = true;
                }
                LogFileKind::Checkpoint {
                    version,
                    part,
                    parts,
                } => {
                    let parts_seen = self.listing.checkpoints.entry(version).or_default();
                    if !parts_seen.iter().any(|(p, n, _)| *p == part && *n == parts) {
                        parts_seen.push((part, parts, entry.name));
                    }
                }
                LogFileKind::Other => {}
            }
        }
        if changed {
            // Commit times are file modification times, made strictly increasing as the reference server does.
            let mut previous = i64::MIN;
            for time in self.listing.commits.values_mut() {
                if *time <= previous {
                    *time = previous + 1;
                }
                previous = *time;
            }
        }
        self.listing.listed = true;
        if self.latest_version().is_none() {
            return Err(Error::TableNotFound {
                table: self.name.clone(),
            });
        }
        Ok(())
    }

    /// The newest version in the log.
    pub fn latest_version(&self) -> Option<i64> {
        let commit = self.listing.commits.keys().next_back().copied();
        let checkpoint = self.complete_checkpoints().map(|(v, _)| v).max();
        commit.max(checkpoint)
    }

    /// Commit time (epoch ms) of a version, when its commit file is still in the log.
    pub fn commit_time(&self, version: i64) -> Option<i64> {
        self.listing.commits.get(&version).copied()
    }

    /// The earliest version whose commit time is at or after `time_ms`.
    pub fn version_at_or_after(&self, time_ms: i64) -> Option<i64> {
        self.listing
            .commits
            .iter()
            .find(|(_, t)| **t >= time_ms)
            .map(|(v, _)| *v)
    }

    /// The latest version whose commit time is at or before `time_ms`.
    pub fn version_at_or_before(&self, time_ms: i64) -> Option<i64> {
        self.listing
            .commits
            .iter()
            .rev()
            .find(|(_, t)| **t <= time_ms)
            .map(|(v, _)| *v)
    }

    /// The earliest version whose commit is still in the log.
    pub fn earliest_commit(&self) -> Option<i64> {
        self.listing.commits.keys().next().copied()
    }

    fn complete_checkpoints(&self) -> impl Iterator<Item = (i64, Vec<String>)> + '_ {
        self.listing
            .checkpoints
            .iter()
            .filter_map(|(version, parts)| {
                // Pick a part count for which every part is present.
                let counts: Vec<u32> = parts.iter().map(|(_, n, _)| *n).collect();
                counts.into_iter().find_map(|n| {
                    let mut names: Vec<(u32, String)> = parts
                        .iter()
                        .filter(|(_, count, _)| *count == n)
                        .map(|(p, _, name)| (*p, name.clone()))
                        .collect();
                    names.sort();
                    names.dedup_by_key(|(p, _)| *p);
                    (names.len() == n as usize)
                        .then(|| (*version, names.into_iter().map(|(_, name)| name).collect()))
                })
            })
    }

    /// The actions of one commit, parsed once.
    pub async fn commit(&mut self, store: &Store, version: i64) -> Result<Arc<Vec<Action>>> {
        if let Some(actions) = self.commits.get(&version) {
            return Ok(actions.clone());
        }
        if !self.listing.commits.contains_key(&version) {
            return Err(Error::InvalidParameter(format!(
                "version {version} of table '{}' is no longer in its log (the earliest available is {})",
                self.name,
                self.earliest_commit()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "none".into())
            )));
        }
        let file = format!("{version:020}.json");
        let bytes = store.read_log_file(&self.location, &file).await?;
        let actions = Arc::new(log::parse_commit(&bytes).map_err(|e| self.corrupt(&file, e.0))?);
        self.commits.insert(version, actions.clone());
        Ok(actions)
    }

    /// The table as of `version` (which must exist).
    pub async fn snapshot(&mut self, store: &Store, version: i64) -> Result<Arc<Snapshot>> {
        if let Some(snapshot) = self.snapshots.get(&version) {
            return Ok(snapshot.clone());
        }
        let cached_base = self
            .snapshots
            .range(..version)
            .next_back()
            .map(|(v, s)| (*v, s.clone()));
        let checkpoint = self
            .complete_checkpoints()
            .filter(|(v, _)| *v <= version)
            .last();
        let mut protocol = None;
        let mut metadata = None;
        let mut files: HashMap<String, Arc<FileAction>> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        let start = match (cached_base, checkpoint) {
            (Some((base_version, base)), checkpoint)
                if checkpoint
                    .as_ref()
                    .is_none_or(|(cv, _)| *cv <= base_version) =>
            {
                protocol = Some(base.protocol.clone());
                metadata = Some(base.metadata.clone());
                for file in &base.files {
                    let key = file.replay_key();
                    order.push(key.clone());
                    files.insert(key, file.clone());
                }
                base_version + 1
            }
            (_, Some((checkpoint_version, names))) => {
                for name in names {
                    let bytes = store.read_log_file(&self.location, &name).await?;
                    let actions =
                        log::parse_checkpoint(bytes).map_err(|e| self.corrupt(&name, e.0))?;
                    for action in actions {
                        match action {
                            Action::Add(add) => {
                                let key = add.replay_key();
                                if files.insert(key.clone(), add).is_none() {
                                    order.push(key);
                                }
                            }
                            Action::Metadata(m) => metadata = Some(m),
                            Action::Protocol(p) => protocol = Some(p),
                            Action::Remove(_) | Action::Cdc(_) => {}
                        }
                    }
                }
                checkpoint_version + 1
            }
            _ => 0,
        };
        for v in start..=version {
            let actions = self.commit(store, v).await?;
            for action in actions.iter() {
                match action {
                    Action::Add(add) => {
                        let key = add.replay_key();
                        if files.insert(key.clone(), add.clone()).is_none() {
                            order.push(key);
                        }
                    }
                    Action::Remove(remove) => {
                        files.remove(&remove.replay_key());
                    }
                    Action::Metadata(m) => metadata = Some(m.clone()),
                    Action::Protocol(p) => protocol = Some(p.clone()),
                    Action::Cdc(_) => {}
                }
            }
        }
        let file = format!("{version:020}.json");
        let protocol = protocol
            .ok_or_else(|| self.corrupt(&file, "no protocol action at or before this version"))?;
        let metadata = metadata
            .ok_or_else(|| self.corrupt(&file, "no metaData action at or before this version"))?;
        let files = order
            .into_iter()
            .filter_map(|key| files.remove(&key))
            .collect();
        let snapshot = Arc::new(Snapshot {
            version,
            protocol,
            metadata,
            files,
        });
        self.snapshots.insert(version, snapshot.clone());
        while self.snapshots.len() > SNAPSHOTS_PER_TABLE {
            // Keep the newest; drop the oldest historical one.
            let oldest = *self.snapshots.keys().next().expect("not empty");
            self.snapshots.remove(&oldest);
        }
        Ok(snapshot)
    }
}
