//! Log replay with a cache: the state of a table at a version, computed once and reused.
//!
//! A [`TableLog`] remembers what `_delta_log/` held when last listed, every commit it has parsed, and a
//! few snapshots. A query of an unchanged table lists the log directory (to notice new versions) and
//! reads nothing else. A new version is applied on top of the newest cached snapshot; a historical one
//! starts from the newest checkpoint at or before it.
//!
//! Log entries are immutable by the Delta protocol, but a writer that failed half-way may have replaced or
//! removed one. Every listing is compared with what was cached: a parsed commit whose entry changed
//! (size, modification time, ETag or inode) is read again, one that vanished is gone, and every snapshot
//! that included either is dropped.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::log::{self, Action, FileAction, LogFileKind, Metadata, Protocol};
use crate::store::{EntryIdentity, Store};
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
    /// Active data files in log order: commits ascending, adds in order within a commit, a file added
    /// again at the place of its latest add.
    pub files: Vec<Arc<FileAction>>,
}

/// One part of a checkpoint as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CheckpointPart {
    part: u32,
    parts: u32,
    name: String,
    identity: EntryIdentity,
}

#[derive(Debug, Default)]
struct Listing {
    /// Commit version → identity of its file.
    commits: BTreeMap<i64, EntryIdentity>,
    /// Commit version → commit time (epoch ms), made strictly increasing.
    times: BTreeMap<i64, i64>,
    /// Checkpoint version → every part seen.
    checkpoints: BTreeMap<i64, Vec<CheckpointPart>>,
    listed: bool,
}

/// The cached state of one table's log.
#[derive(Debug)]
pub struct TableLog {
    name: String,
    location: Location,
    listing: Listing,
    /// Parsed commits, with the identity their file had when listed before the read.
    commits: HashMap<i64, (EntryIdentity, Arc<Vec<Action>>)>,
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

    /// Lists `_delta_log/` and drops what no longer matches it. With `force == false` a table listed
    /// before is not listed again.
    pub async fn refresh(&mut self, store: &Store, force: bool) -> Result<()> {
        if self.listing.listed && !force {
            return Ok(());
        }
        let entries = store.list_log(&self.location).await?;
        let mut commits = BTreeMap::new();
        let mut times = BTreeMap::new();
        let mut checkpoints: BTreeMap<i64, Vec<CheckpointPart>> = BTreeMap::new();
        for entry in entries {
            match log::classify(&entry.name) {
                LogFileKind::Commit(version) => {
                    commits.insert(version, entry.identity);
                    times.insert(version, entry.last_modified_ms);
                }
                LogFileKind::Checkpoint {
                    version,
                    part,
                    parts,
                } => {
                    let parts_seen = checkpoints.entry(version).or_default();
                    if !parts_seen
                        .iter()
                        .any(|p| p.part == part && p.parts == parts)
                    {
                        parts_seen.push(CheckpointPart {
                            part,
                            parts,
                            name: entry.name,
                            identity: entry.identity,
                        });
                    }
                }
                LogFileKind::Other => {}
            }
        }
        // Commit times are file modification times, made strictly increasing as the reference server does.
        let mut previous = i64::MIN;
        for time in times.values_mut() {
            if *time <= previous {
                *time = previous + 1;
            }
            previous = *time;
        }
        // The first version whose cached state no longer matches its entry: a parsed commit replaced or
        // removed, or a checkpoint part that was seen before and is now different or gone.
        let mut stale_from: Option<i64> = None;
        let mut stale = |version: i64| {
            stale_from = Some(stale_from.map_or(version, |v| v.min(version)));
        };
        self.commits.retain(|version, (identity, _)| {
            let unchanged = commits.get(version) == Some(&*identity);
            if !unchanged {
                stale(*version);
            }
            unchanged
        });
        for (version, parts) in &self.listing.checkpoints {
            let now = checkpoints.get(version);
            if parts
                .iter()
                .any(|part| now.is_none_or(|now| !now.contains(part)))
            {
                stale(*version);
            }
        }
        if let Some(version) = stale_from {
            tracing::warn!(
                table = %self.name,
                version,
                "a log entry changed or vanished since it was read; versions from {version} on are read again"
            );
            self.snapshots.retain(|v, _| *v < version);
        }
        self.listing = Listing {
            commits,
            times,
            checkpoints,
            listed: true,
        };
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
        self.listing.times.get(&version).copied()
    }

    /// The earliest version whose commit time is at or after `time_ms`.
    pub fn version_at_or_after(&self, time_ms: i64) -> Option<i64> {
        self.listing
            .times
            .iter()
            .find(|(_, t)| **t >= time_ms)
            .map(|(v, _)| *v)
    }

    /// The latest version whose commit time is at or before `time_ms`.
    pub fn version_at_or_before(&self, time_ms: i64) -> Option<i64> {
        self.listing
            .times
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
                let counts: Vec<u32> = parts.iter().map(|p| p.parts).collect();
                counts.into_iter().find_map(|n| {
                    let mut names: Vec<(u32, String)> = parts
                        .iter()
                        .filter(|p| p.parts == n)
                        .map(|p| (p.part, p.name.clone()))
                        .collect();
                    names.sort();
                    names.dedup_by_key(|(p, _)| *p);
                    (names.len() == n as usize)
                        .then(|| (*version, names.into_iter().map(|(_, name)| name).collect()))
                })
            })
    }

    /// The actions of one commit, parsed once (again only if its entry changed since).
    pub async fn commit(&mut self, store: &Store, version: i64) -> Result<Arc<Vec<Action>>> {
        if let Some((_, actions)) = self.commits.get(&version) {
            return Ok(actions.clone());
        }
        let Some(identity) = self.listing.commits.get(&version).cloned() else {
            return Err(Error::InvalidParameter(format!(
                "version {version} of table '{}' is no longer in its log (the earliest available is {})",
                self.name,
                self.earliest_commit()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "none".into())
            )));
        };
        let file = format!("{version:020}.json");
        let bytes = store.read_log_file(&self.location, &file).await?;
        let actions = Arc::new(log::parse_commit(&bytes).map_err(|e| self.corrupt(&file, e.0))?);
        self.commits.insert(version, (identity, actions.clone()));
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
        let mut files = Replay::default();
        let start = match (cached_base, checkpoint) {
            (Some((base_version, base)), checkpoint)
                if checkpoint
                    .as_ref()
                    .is_none_or(|(cv, _)| *cv <= base_version) =>
            {
                protocol = Some(base.protocol.clone());
                metadata = Some(base.metadata.clone());
                for file in &base.files {
                    files.add(file.clone());
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
                            Action::Add(add) => files.add(add),
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
                    Action::Add(add) => files.add(add.clone()),
                    Action::Remove(remove) => files.remove(remove),
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
        let files = files.into_files();
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

/// The active files during a replay, each at the place of its latest `add`.
#[derive(Debug, Default)]
struct Replay {
    files: HashMap<String, (u64, Arc<FileAction>)>,
    next: u64,
}

impl Replay {
    fn add(&mut self, file: Arc<FileAction>) {
        self.files.insert(file.replay_key(), (self.next, file));
        self.next += 1;
    }

    fn remove(&mut self, file: &FileAction) {
        self.files.remove(&file.replay_key());
    }

    fn into_files(self) -> Vec<Arc<FileAction>> {
        let mut files: Vec<(u64, Arc<FileAction>)> = self.files.into_values().collect();
        files.sort_unstable_by_key(|(place, _)| *place);
        files.into_iter().map(|(_, file)| file).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(commits: &[&str]) -> Vec<String> {
        let mut files = Replay::default();
        for commit in commits {
            for action in log::parse_commit(commit.as_bytes()).unwrap() {
                match action {
                    Action::Add(add) => files.add(add),
                    Action::Remove(remove) => files.remove(&remove),
                    _ => {}
                }
            }
        }
        files.into_files().iter().map(|f| f.path.clone()).collect()
    }

    fn add(path: &str) -> String {
        format!(
            r#"{{"add":{{"path":"{path}","partitionValues":{{}},"size":1,"modificationTime":1,"dataChange":true}}}}"#
        )
    }

    fn remove(path: &str) -> String {
        format!(r#"{{"remove":{{"path":"{path}","dataChange":true}}}}"#)
    }

    #[test]
    fn files_keep_log_order_and_a_file_added_again_takes_its_later_place() {
        let first = [add("a"), add("b"), add("c")].join("\n");
        let second = [remove("a"), add("d"), add("a")].join("\n");
        let third = [add("b"), add("e")].join("\n");
        assert_eq!(replay(&[&first]), ["a", "b", "c"]);
        assert_eq!(replay(&[&first, &second]), ["b", "c", "d", "a"]);
        assert_eq!(
            replay(&[&first, &second, &third]),
            ["c", "d", "a", "b", "e"]
        );
    }
}
