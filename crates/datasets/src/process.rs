//! Processing: verifying an upload's objects and committing them as a new Delta version, the backend
//! being the only writer of `_delta_log`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use delta_bridge_ingest::{ColumnType, DataFile, FooterError};
use futures::{StreamExt, TryStreamExt};

use crate::delta_log::{self, Added};
use crate::store::{CommitPlan, FileRecord, Upload, UploadFile, VersionRecord};
use crate::*;

/// Longest Parquet footer read (with its 8-byte trailer); a file declaring more is refused.
pub const MAX_FOOTER: u64 = 16 << 20;

/// The upload's files that make the version (`names` in that order, or all in upload order) and those
/// left out.
fn choose_files<'a>(
    upload: &'a Upload,
    names: Option<&[String]>,
) -> Result<(Vec<&'a UploadFile>, Vec<&'a UploadFile>)> {
    let Some(names) = names else {
        return Ok((upload.files.iter().collect(), Vec::new()));
    };
    if names.is_empty() {
        return Err(Error::Invalid(
            "files: name at least one file of the upload".into(),
        ));
    }
    let by_name: HashMap<&str, &UploadFile> =
        upload.files.iter().map(|f| (f.name.as_str(), f)).collect();
    let mut taken = std::collections::HashSet::with_capacity(names.len());
    let mut chosen = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let file = by_name.get(name.as_str()).copied().ok_or_else(|| {
            Error::Invalid(format!(
                "files[{i}]: upload {} has no file named {name:?}",
                upload.id
            ))
        })?;
        if !taken.insert(file.index) {
            return Err(Error::Invalid(format!(
                "files[{i}]: {name:?} is named more than once"
            )));
        }
        chosen.push(file);
    }
    let discarded = upload
        .files
        .iter()
        .filter(|f| !taken.contains(&f.index))
        .collect();
    Ok((chosen, discarded))
}

impl Datasets {
    /// Verifies an upload's objects and commits them as a new version (create, append or overwrite).
    /// Processing an upload again returns the version it was committed as.
    pub async fn process(&self, owner: &str, request: ProcessRequest) -> Result<DatasetDetail> {
        // Parsed with the request: a mode that is not one was refused as an invalid body.
        let operation = request.mode;
        let upload = self.owned_upload(owner, &request.upload_id).await?;
        if upload.committed_version.is_some() {
            return self.dataset(owner, &upload.dataset_id).await;
        }
        // One process at a time per user: another upload of theirs is refused; the same upload again
        // waits for the one under way and then answers what it did.
        let _turn = self.processing.take(owner, &upload.id).await?;
        let upload = self.owned_upload(owner, &request.upload_id).await?;
        if upload.committed_version.is_some() {
            return self.dataset(owner, &upload.dataset_id).await;
        }
        let existing = self.store.dataset(owner, &upload.dataset_id).await?;
        match (&existing, operation) {
            (Some(d), Mode::Create) => {
                return Err(Error::Conflict(format!(
                    "dataset {:?} already exists; append to it or overwrite it",
                    d.name
                )));
            }
            (None, Mode::Append | Mode::Overwrite) => {
                return Err(Error::NotFound(format!(
                    "no dataset {:?} to {}; create it first",
                    upload.dataset_name,
                    operation.as_str()
                )));
            }
            _ => {}
        }
        let (chosen, discarded) = choose_files(&upload, request.files.as_deref())?;
        let mut columns: Option<Vec<(String, ColumnType)>> = None;
        let mut added = Vec::with_capacity(chosen.len());
        let mut rows_added = 0i64;
        // Objects are checked a few at a time (reading them back is I/O bound), answered in order.
        let checks: Vec<_> = chosen
            .iter()
            .map(|file| self.verify_file(&upload.id, file, &request))
            .collect();
        let checked: Vec<DataFile> = futures::stream::iter(checks)
            .buffered(4)
            .try_collect()
            .await?;
        for (file, described) in chosen.iter().copied().zip(checked) {
            let these: Vec<(String, String)> = described
                .columns
                .iter()
                .map(|(n, t)| (n.clone(), t.delta_name().to_string()))
                .collect();
            if let Some(first) = &columns {
                let first: Vec<(String, String)> = first
                    .iter()
                    .map(|(n, t)| (n.clone(), t.delta_name().to_string()))
                    .collect();
                if first != these {
                    return Err(Error::Invalid(format!(
                        "file {:?} has columns ({}), but the upload's first file has ({})",
                        file.name,
                        describe(&these),
                        describe(&first)
                    )));
                }
            } else {
                columns = Some(described.columns.clone());
            }
            rows_added += described.rows as i64;
            added.push((file, described));
        }
        let columns = columns.unwrap_or_default();
        let schema: Vec<ColumnInfo> = columns
            .iter()
            .map(|(name, t)| ColumnInfo {
                name: name.clone(),
                data_type: t.delta_name().to_string(),
            })
            .collect();
        if let Some(dataset) = &existing {
            let current = parse_schema(&dataset.schema_json);
            if current != schema {
                let show = |s: &[ColumnInfo]| {
                    s.iter()
                        .map(|c| format!("{} {}", c.name, c.data_type))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(Error::Invalid(format!(
                    "the files' columns ({}) differ from dataset {:?}'s ({}); {}",
                    show(&schema),
                    dataset.name,
                    show(&current),
                    if operation == Mode::Append {
                        "overwrite needs the same columns too; create a new dataset for other columns"
                    } else {
                        "create a new dataset for other columns"
                    }
                )));
            }
        }
        let table = table_key(&upload.dataset_id);
        let now = now_ms();
        let removed = if operation == Mode::Overwrite {
            self.store.files(&upload.dataset_id).await?
        } else {
            Vec::new()
        };
        let added_records: Vec<FileRecord> = added
            .iter()
            .map(|(file, described)| FileRecord {
                path: relative(&file.key, &table),
                size: file.size,
                rows: described.rows as i64,
            })
            .collect();
        let log_files: Vec<Added> = added
            .iter()
            .map(|(file, described)| Added {
                path: relative(&file.key, &table),
                size: file.size,
                stats: described.stats.clone(),
            })
            .collect();
        let bytes_added: i64 = added_records.iter().map(|f| f.size).sum();
        let (version, rows, bytes, created_at, previous) = match &existing {
            None => (0, rows_added, bytes_added, now, None),
            Some(d) if operation == Mode::Overwrite => (
                d.version + 1,
                rows_added,
                bytes_added,
                d.created_at,
                Some(d.version),
            ),
            Some(d) => (
                d.version + 1,
                d.rows + rows_added,
                d.bytes + bytes_added,
                d.created_at,
                Some(d.version),
            ),
        };
        let attempt = Attempt::start();
        if !self
            .store
            .begin_commit(&upload.id, attempt.0, upload.files.len())
            .await?
        {
            // Processed meanwhile by another request: answer as if this one had done it.
            return self.dataset(owner, &upload.dataset_id).await;
        }
        let mut plan = CommitPlan {
            dataset: Dataset {
                id: upload.dataset_id.clone(),
                owner: owner.to_string(),
                name: upload.dataset_name.clone(),
                version,
                rows,
                bytes,
                schema_json: serde_json::to_string(&schema).expect("columns serialize"),
                created_at,
                updated_at: now,
                shared: existing.as_ref().is_some_and(|d| d.shared),
            },
            previous_version: previous,
            attempt: attempt.0,
            record: VersionRecord {
                version,
                operation,
                rows,
                bytes,
                files_added: added_records.len() as i64,
                rows_added,
                committed_at: now,
            },
            added: added_records,
            replace_files: operation == Mode::Overwrite,
            upload_id: upload.id.clone(),
            discarded: discarded.into_iter().cloned().collect(),
        };
        let entry = delta_log::entry(
            &upload.id,
            operation,
            &table_name(&upload.dataset_name),
            &columns,
            &log_files,
            &removed,
            now,
        );
        let key = delta_log::entry_key(&table, version);
        // No store transaction is open while storage is written: the entry first (put-if-absent, within
        // the lease), then one short transaction that commits the version under the same lease.
        let entry = Bytes::from(entry);
        let budget = self.settings.commit_lease / 3;
        let mut written =
            tokio::time::timeout(budget, self.write_entry(&key, entry.clone(), &upload.id))
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Storage(format!(
                        "writing the log entry of version {version} took longer than {} s",
                        budget.as_secs_f64()
                    )))
                });
        if matches!(written, Err(Error::Storage(_))) && attempt.age() < budget * 2 {
            // A write that failed or timed out may still land later: write again, put-if-absent, so that
            // either this one lands (and the late one is refused) or the late one did (and is adopted).
            // Committing then leaves no entry the store does not know.
            written =
                tokio::time::timeout(budget, self.write_entry(&key, entry.clone(), &upload.id))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Error::Storage(format!(
                            "writing the log entry of version {version} timed out"
                        )))
                    });
        }
        let committed = match written {
            Ok(adopted) if attempt.age() < self.settings.commit_lease => {
                // An adopted entry's commit time is the version's: the store says what recipients see.
                if let Some(at) = adopted {
                    plan.record.committed_at = at;
                    plan.dataset.updated_at = at;
                    if plan.previous_version.is_none() {
                        plan.dataset.created_at = at;
                    }
                }
                self.store.commit(&plan).await
            }
            Ok(_) => Err(Error::Storage(format!(
                "committing version {version} took longer than {} s",
                self.settings.commit_lease.as_secs_f64()
            ))),
            Err(e) => Err(e),
        };
        match committed {
            Ok(()) => {
                metrics::counter!("delta_bridge_versions_committed_total", "mode" => operation.as_str())
                    .increment(1);
                metrics::counter!("delta_bridge_committed_bytes_total")
                    .increment(plan.added.iter().map(|f| f.size.max(0) as u64).sum());
                if operation == Mode::Overwrite {
                    self.spawn_vacuum(&upload.dataset_id);
                }
            }
            Err(e) => {
                // Committed after all (the answer to COMMIT was lost), or by another request of the
                // same upload (now, or once its attempt ends): answer as if this one had done it.
                if self.committed_by_any_attempt(&upload.id, attempt).await {
                    return self.dataset(owner, &upload.dataset_id).await;
                }
                self.forget_entry(&key, &upload.id, attempt).await;
                return Err(e);
            }
        }
        self.dataset(owner, &upload.dataset_id).await
    }

    /// Whether an upload is committed, waiting (within its lease) while another attempt of the same
    /// upload that took over from `attempt` may still commit it.
    async fn committed_by_any_attempt(&self, upload_id: &str, attempt: Attempt) -> bool {
        loop {
            match self.store.commit_attempt(upload_id).await {
                Ok(Some((_, true))) => return true,
                Ok(Some((Some(other), false)))
                    if other != attempt.0 && Attempt(other).age() < self.settings.commit_lease =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                _ => return false,
            }
        }
    }

    /// Writes a version's log entry unless one is there. An entry already there is adopted when it
    /// commits this same upload (a retry after a failure between the entry and the store's commit);
    /// another upload's entry that the store does not know is removed once its commit's lease is long
    /// over (it was left by a failure), and answered as a conflict while that commit may still land.
    /// Answers the commit time of the entry in storage (an adopted one keeps its own).
    async fn write_entry(&self, key: &str, entry: Bytes, upload_id: &str) -> Result<Option<i64>> {
        for _ in 0..2 {
            let outcome = self.storage.put_new(key, entry.clone()).await;
            let existing = match outcome {
                Ok(true) => return Ok(None),
                Ok(false) => self.storage.get(key).await?,
                // The write may have landed although its answer was lost: look before failing.
                Err(e) => match self.storage.get(key).await {
                    Ok(Some(found)) if found == entry => return Ok(None),
                    _ => return Err(e),
                },
            };
            let Some(existing) = existing else { continue };
            let owner = delta_log::upload_of(&existing);
            if owner.as_deref() == Some(upload_id) {
                if delta_log::files_of(&existing) != delta_log::files_of(&entry) {
                    // An earlier attempt of this upload chose other files (a retry that named
                    // others): this attempt removes that entry as it fails, so the next one writes
                    // its own.
                    return Err(Error::Conflict(
                        "an earlier attempt to process this upload chose other files; process it again"
                            .into(),
                    ));
                }
                tracing::info!(
                    upload = upload_id,
                    key,
                    "adopting the log entry of an earlier attempt"
                );
                return Ok(delta_log::timestamp_of(&existing));
            }
            let state = match &owner {
                Some(other) => self.store.commit_attempt(other).await?,
                None => None,
            };
            match state {
                Some((_, true)) => {
                    return Err(Error::Conflict(
                        "the dataset changed while this upload was processed; process it again"
                            .into(),
                    ));
                }
                Some((Some(at), false)) if Attempt(at).age() < 2 * self.settings.commit_lease => {
                    return Err(Error::Conflict(
                        "another upload is being committed to this dataset; process this one again in a minute"
                            .into(),
                    ));
                }
                _ => {
                    tracing::warn!(
                        key,
                        left_by = owner.as_deref().unwrap_or("unknown"),
                        "removing a log entry a failed commit left"
                    );
                    self.storage.delete_object(key, None).await?;
                }
            }
        }
        Err(Error::Conflict(
            "the dataset changed while this upload was processed; process it again".into(),
        ))
    }

    /// After a failed commit: removes the entry it wrote, unless another attempt of the same upload has
    /// taken over or the upload was committed after all (best effort: a later `process` also removes it).
    async fn forget_entry(&self, key: &str, upload_id: &str, attempt: Attempt) {
        match self.store.commit_attempt(upload_id).await {
            Ok(Some((Some(at), false))) if at == attempt.0 => {}
            Ok(None) => {}
            _ => return,
        }
        match self.storage.get(key).await {
            Ok(Some(found)) if delta_log::upload_of(&found).as_deref() == Some(upload_id) => {
                if let Err(e) = self.storage.delete_object(key, None).await {
                    tracing::warn!(
                        key,
                        detail = e.detail().unwrap_or_default(),
                        "could not remove the log entry of a failed commit; the next process of this dataset will"
                    );
                }
            }
            _ => {}
        }
    }

    /// Checks one uploaded file and describes it from its footer.
    async fn verify_file(
        &self,
        upload_id: &str,
        file: &UploadFile,
        request: &ProcessRequest,
    ) -> Result<DataFile> {
        if file.part_size > 0 {
            let count = part_count(file.size, file.part_size) as usize;
            let etags = match (&self.storage, request.parts.get(&file.name)) {
                (_, Some(etags)) => etags.clone(),
                (Storage::Local { .. }, None) => vec![String::new(); count],
                (Storage::S3 { .. }, None) => {
                    return Err(Error::Invalid(format!(
                        "file {:?} was uploaded in {count} parts; give their ETags in parts[{:?}]",
                        file.name, file.name
                    )));
                }
            };
            if etags.len() != count {
                return Err(Error::Invalid(format!(
                    "file {:?} has {count} parts, but {} ETags were given",
                    file.name,
                    etags.len()
                )));
            }
            if self.storage.size(&file.key).await?.is_none() {
                let id = file.multipart_id.as_deref().unwrap_or_default();
                self.storage
                    .complete_multipart(&file.key, id, &etags)
                    .await?;
            }
        }
        let size = self
            .storage
            .size(&file.key)
            .await?
            .ok_or_else(|| Error::Invalid(format!("file {:?} was not uploaded", file.name)))?;
        if size != file.size as u64 {
            return Err(Error::Invalid(format!(
                "file {:?} has {size} bytes, but {} were presigned",
                file.name, file.size
            )));
        }
        // The footer first: it is small (at most MAX_FOOTER), and one that is refused costs no hashing.
        let mut length = 64 * 1024;
        let described = loop {
            let tail = self.storage.tail(&file.key, size, length).await?;
            match delta_bridge_ingest::read_footer(&tail) {
                Ok(described) => break described,
                Err(FooterError::NeedTail(n)) if n as u64 > MAX_FOOTER => {
                    return Err(Error::Invalid(format!(
                        "file {:?}: its Parquet footer declares {}, more than the {} this server reads; write smaller row groups or fewer columns",
                        file.name,
                        upload::bytes_text(n as i64),
                        upload::bytes_text(MAX_FOOTER as i64)
                    )));
                }
                Err(FooterError::NeedTail(n)) if (n as u64) <= size && n as u64 > length => {
                    length = n as u64
                }
                Err(e) => {
                    return Err(Error::Invalid(format!("file {:?}: {e}", file.name)));
                }
            }
        };
        // Reading a whole object back is the expensive check: done once per file, then recorded (its
        // bytes cannot change: a PUT is checked against the presigned SHA-256, a completed multipart
        // upload takes no more parts).
        if !file.verified {
            if !self.storage.has_sha256(&file.key, &file.sha256).await? {
                return Err(Error::Invalid(format!(
                    "file {:?} does not have the SHA-256 that was presigned",
                    file.name
                )));
            }
            self.store.file_verified(upload_id, file.index).await?;
        }
        Ok(described)
    }
}

/// Whose `process` is under way, in this backend: one per user.
#[derive(Debug, Default, Clone)]
pub(crate) struct Processing {
    under_way: Arc<std::sync::Mutex<HashMap<String, Running>>>,
}

#[derive(Debug)]
struct Running {
    upload_id: String,
    done: Arc<tokio::sync::Mutex<()>>,
}

/// A user's turn to process; ends when dropped.
pub(crate) struct Turn {
    processing: Processing,
    owner: String,
    done: Arc<tokio::sync::Mutex<()>>,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl Processing {
    /// The owner's turn to process `upload_id`: at once when nothing of theirs is under way, after the
    /// one under way when it is the same upload, else [`Error::Busy`].
    pub(crate) async fn take(&self, owner: &str, upload_id: &str) -> Result<Turn> {
        loop {
            let waiting = {
                let mut under_way = self.under_way.lock().expect("not poisoned");
                match under_way.get(owner) {
                    None => {
                        let done = Arc::new(tokio::sync::Mutex::new(()));
                        let held = done.clone().try_lock_owned().expect("a new lock is free");
                        under_way.insert(
                            owner.to_string(),
                            Running {
                                upload_id: upload_id.to_string(),
                                done: done.clone(),
                            },
                        );
                        return Ok(Turn {
                            processing: self.clone(),
                            owner: owner.to_string(),
                            done,
                            _held: held,
                        });
                    }
                    Some(running) if running.upload_id == upload_id => running.done.clone(),
                    Some(running) => {
                        return Err(Error::Busy(format!(
                            "upload {} of yours is being processed; process {upload_id} once it is done",
                            running.upload_id
                        )));
                    }
                }
            };
            drop(waiting.lock().await);
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut under_way = self.processing.under_way.lock().expect("not poisoned");
        if under_way
            .get(&self.owner)
            .is_some_and(|running| Arc::ptr_eq(&running.done, &self.done))
        {
            under_way.remove(&self.owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_process_per_user_and_the_same_upload_waits_its_turn() {
        let processing = Processing::default();
        let first = processing.take("ana", "up-1").await.unwrap();
        assert!(matches!(
            processing.take("ana", "up-2").await,
            Err(Error::Busy(_))
        ));
        let other_user = processing.take("bo", "up-3").await.unwrap();
        let again = {
            let processing = processing.clone();
            tokio::spawn(async move { processing.take("ana", "up-1").await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !again.is_finished(),
            "the same upload waits for the one under way"
        );
        drop(first);
        again.await.unwrap().unwrap();
        drop(other_user);
        processing.take("ana", "up-2").await.unwrap();
    }
}
