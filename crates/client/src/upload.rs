//! The upload engine: convert locally with the ingest library, presign, upload the files (or their
//! parts) concurrently with retries, then ask the backend to commit; optionally share. Progress events and
//! cancellation are designed for a GUI progress bar; a journal makes it resumable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use delta_bridge_api::{
    DatasetDetail, FileSpec, FileUpload, Mode, PresignRequest, PresignResponse, ProcessRequest,
    Snippet,
};
use delta_bridge_ingest::{ColumnType, ConvertOptions, ReadText};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::sync::CancellationToken;

use crate::jobs::Job;
use crate::journal::{Journal, StagedFile};
use crate::secret::Secret;
use crate::{Client, Error, Result};

/// What to upload, as asked: the request a journal records, so an interrupted upload can be listed and
/// asked again as it was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UploadRequest {
    /// CSV files; with several, they must have the same columns and become one version. A single
    /// directory holding a Delta table (made by `delta-bridge convert`) is uploaded as it is.
    pub files: Vec<PathBuf>,
    /// Dataset name (default: the first file's name without extension).
    #[serde(default)]
    pub name: Option<String>,
    /// Create the dataset, append to it or overwrite it.
    pub mode: Mode,
    /// Share it once committed (and answer the snippet).
    #[serde(default)]
    pub share: bool,
    /// How to read the CSV files instead of what is detected (dialect, column names and types), as
    /// text: parsed by the ingest library's rules when the upload starts.
    #[serde(default)]
    pub read: ReadText,
}

/// What to upload, and how.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// The request.
    pub request: UploadRequest,
    /// Files or parts in flight at once.
    pub concurrency: usize,
    /// Size at which the conversion closes a data file, which then goes up while the rest is converted
    /// ([`FILE_BYTES`] unless told).
    pub file_bytes: usize,
}

impl UploadRequest {
    /// The dataset's name: the one chosen, or the first file's name without its extensions
    /// (`sales.csv.gz` → `sales`).
    pub fn dataset_name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => {
                let mut stem = self
                    .files
                    .first()
                    .and_then(|f| f.file_name())
                    .and_then(|s| s.to_str())
                    .unwrap_or("data");
                while let Some((before, extension)) = stem.rsplit_once('.') {
                    let known = delta_bridge_ingest::EXTENSIONS
                        .iter()
                        .any(|e| e.eq_ignore_ascii_case(extension));
                    if before.is_empty() || !known {
                        break;
                    }
                    stem = before;
                }
                stem.to_string()
            }
        }
    }
}

/// Where an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Stage {
    /// Converting the file to a local Delta table.
    Converting,
    /// Sending data files.
    Uploading,
    /// The backend is committing the version.
    Committing,
    /// Sharing.
    Sharing,
}

/// A progress event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Progress {
    /// Stage.
    pub stage: Stage,
    /// Bytes done in this stage.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes_done: u64,
    /// Bytes in this stage.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes_total: u64,
}

/// Receives progress events (from any thread).
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// The result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Uploaded {
    /// The dataset after the commit.
    pub dataset: DatasetDetail,
    /// The snippet, if shared.
    pub snippet: Option<Snippet>,
    /// Whether an interrupted upload was resumed.
    pub resumed: bool,
    /// Bytes sent by this run (not counting what an earlier run sent).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes_sent: u64,
    /// What the conversion noted: columns widened, workbook error cells made nulls, JSON keys first seen late.
    pub notes: Vec<String>,
}

const ATTEMPTS: u32 = 6;

impl Client {
    /// Uploads CSV files as a new version of a dataset. Running the same upload again after a crash, a
    /// kill or a pause resumes it. `job` stops it: cancelled, what was sent is forgotten
    /// ([`Error::Cancelled`]); paused, the journal is kept ([`Error::Paused`]) and
    /// [`Client::interrupted`] lists it.
    pub async fn upload(
        &self,
        options: &UploadOptions,
        progress: ProgressFn,
        job: &Job,
    ) -> Result<Uploaded> {
        let request = &options.request;
        if request.files.is_empty() {
            return Err(Error::Input("give at least one file".into()));
        }
        let read = request
            .read
            .options(None)
            .map_err(|e| Error::Input(e.to_string()))?;
        let name = request.dataset_name();
        let token = self.id_token().await?;
        let account = self.account().await?;
        // Other read options make another conversion, so another journal.
        let key = journal_key(
            self.backend().url(),
            &account.uid,
            &format!("{name}\0{read:?}"),
            request.mode.as_str(),
            &request.files,
        )?;
        let journal_path = self.journal_path(&key);
        let (mut journal, resumed) = match Journal::load(&journal_path)? {
            // Converted, or interrupted while files were already going up (converting again makes the
            // same files, and what was sent of them is kept).
            Some(j) if j.converted || j.upload_id.is_some() => (j, true),
            _ => {
                // Recorded before anything else, so a crash or a pause during the conversion is listed
                // as interrupted too.
                let journal = Journal {
                    name: name.clone(),
                    mode: request.mode,
                    staging: self.state_dir().join("staging").join(&key),
                    backend: self.backend().url().to_string(),
                    request: Some(request.clone()),
                    ..Default::default()
                };
                journal.save(&journal_path)?;
                (journal, false)
            }
        };
        let cancel = job.token();
        let table = request
            .files
            .first()
            .filter(|p| request.files.len() == 1 && p.join("_delta_log").is_dir())
            .cloned();
        if let (false, Some(table)) = (journal.converted, &table) {
            // A Delta table converted earlier (`delta-bridge convert`): its data files go up as they are.
            let dir = table.clone();
            let described = tokio::task::spawn_blocking(move || describe(&dir))
                .await
                .map_err(|e| Error::Local(format!("reading the table stopped: {e}")))?;
            journal.files = self.unless_stopped(described, &journal_path, job)?;
            journal.staging = table.clone();
            journal.keep_staging = true;
            journal.converted = true;
            journal.save(&journal_path)?;
        }
        let converting = !journal.converted;
        let shared = Arc::new(Mutex::new(journal));
        // Conversion and upload overlap: each data file goes up as soon as the conversion closes it.
        let stop = cancel.child_token();
        let (events, incoming) = tokio::sync::mpsc::unbounded_channel();
        let conversion = async {
            if !converting {
                let files = shared.lock().expect("not poisoned").files.clone();
                for file in files {
                    let _ = events.send(Incoming::Ready(file));
                }
                drop(events);
                return Ok(None);
            }
            let types = if request.mode == Mode::Create {
                None
            } else {
                self.dataset_types(&token, &name).await?
            };
            let staging = shared.lock().expect("not poisoned").staging.clone();
            let converted = convert(
                &request.files,
                &staging,
                &read,
                types,
                &progress,
                &stop,
                options.file_bytes.max(1 << 20),
                events,
            )
            .await;
            Ok(Some(converted?))
        };
        let conversion = async {
            let result = conversion.await;
            if result.is_err() {
                stop.cancel();
            }
            result
        };
        let sending = async {
            let result = self
                .send(
                    &shared,
                    &journal_path,
                    options,
                    &progress,
                    &stop,
                    incoming,
                    converting,
                )
                .await;
            if result.is_err() {
                stop.cancel();
            }
            result
        };
        let (converted, sent) = tokio::join!(conversion, sending);
        let stopped = |e: Error| -> Error {
            match e {
                Error::Cancelled if job.is_paused() => Error::Paused,
                e => e,
            }
        };
        let converted = match (converted, &sent) {
            // The conversion stopped because sending failed: sending's error says why.
            (Err(Error::Cancelled), Err(e))
                if !cancel.is_cancelled() && !matches!(e, Error::Cancelled) =>
            {
                None
            }
            (Err(e), _) => {
                let e = stopped(e);
                let journal = shared.lock().expect("not poisoned").clone();
                // Paused, or failed for a reason that may pass (the backend unreachable, the disk
                // full) once files went up: the journal stays with what was sent, to be resumed.
                let keep =
                    matches!(e, Error::Paused) || (!abandons(&e) && journal.upload_id.is_some());
                if !keep {
                    // Cancelled, input that cannot be converted, or nothing sent yet: nothing of it is
                    // an interrupted upload; what went up already is abandoned.
                    self.forget(&journal_path, &journal, Some(token)).await;
                }
                return Err(e);
            }
            (Ok(converted), _) => converted,
        };
        let (upload_id, bytes_sent) = match sent.map_err(stopped) {
            Ok(sent) => sent,
            // Pausing means "later": the journal stays, with what was sent.
            Err(Error::Paused) => return Err(Error::Paused),
            Err(Error::Cancelled) => {
                // Cancelling means "not this": forget the journal and the local copy (a crash or a kill,
                // which cannot clean up, is what resuming is for).
                let journal = shared.lock().expect("not poisoned").clone();
                self.forget(&journal_path, &journal, Some(token)).await;
                return Err(Error::Cancelled);
            }
            Err(e) => return Err(e),
        };
        if let Some((order, notes)) = converted {
            // The version is the files of the conversion's last passes, in row order; any other file
            // the upload holds was made obsolete by a pass that started over.
            let mut j = shared.lock().expect("not poisoned");
            let files = order
                .iter()
                .map(|local| {
                    j.files
                        .iter()
                        .find(|f| f.path == *local)
                        .cloned()
                        .ok_or_else(|| {
                            Error::Local(format!("{} was converted but not sent", local.display()))
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            j.files = files;
            j.notes = notes;
            j.converted = true;
            j.save(&journal_path)?;
        }
        let journal = shared.lock().expect("not poisoned").clone();

        let total: u64 = journal.files.iter().map(|f| f.size as u64).sum();
        progress(Progress {
            stage: Stage::Committing,
            bytes_done: 0,
            bytes_total: total,
        });
        let parts: BTreeMap<String, Vec<String>> = journal
            .sent
            .iter()
            .filter(|(_, s)| !s.parts.is_empty())
            .map(|(name, s)| (name.clone(), s.parts.values().cloned().collect()))
            .collect();
        let token = self.id_token().await?;
        let mut dataset = self
            .backend()
            .process(
                &token,
                &ProcessRequest {
                    upload_id,
                    mode: request.mode,
                    parts,
                    files: Some(journal.files.iter().map(|f| f.name.clone()).collect()),
                },
            )
            .await?;
        progress(Progress {
            stage: Stage::Committing,
            bytes_done: total,
            bytes_total: total,
        });
        // Committed: the journal and the local copy have done their job.
        remove_journal(&journal_path, &journal);
        let snippet = if request.share {
            progress(Progress {
                stage: Stage::Sharing,
                bytes_done: 0,
                bytes_total: 1,
            });
            let token = self.id_token().await?;
            let shared = self
                .backend()
                .share(&token, &dataset.dataset.id, false)
                .await?;
            // The answer describes the dataset as it is now: shared.
            dataset.dataset.shared = true;
            Some(shared.snippet)
        } else {
            None
        };
        Ok(Uploaded {
            dataset,
            snippet,
            resumed,
            bytes_sent,
            notes: journal.notes,
        })
    }

    /// Where upload `key`'s journal is.
    pub(crate) fn journal_path(&self, key: &str) -> PathBuf {
        self.state_dir().join("uploads").join(format!("{key}.json"))
    }

    /// The result of a conversion (or of describing a table): a pause keeps the journal (nothing was
    /// sent; resuming converts again), a cancel or a failure forgets it (a file that cannot be read is
    /// no interrupted upload).
    fn unless_stopped<T>(&self, result: Result<T>, journal_path: &Path, job: &Job) -> Result<T> {
        match result {
            Ok(value) => Ok(value),
            Err(Error::Cancelled) if job.is_paused() => Err(Error::Paused),
            Err(e) => {
                let _ = std::fs::remove_file(journal_path);
                Err(e)
            }
        }
    }

    /// Forgets an upload: its journal, its local copy, and (best effort: the upload is forgotten here
    /// whether or not the backend can be reached) what the backend received.
    pub(crate) async fn forget(
        &self,
        journal_path: &Path,
        journal: &Journal,
        token: Option<Secret>,
    ) {
        remove_journal(journal_path, journal);
        if let Some(upload_id) = &journal.upload_id {
            let token = match self.id_token().await {
                Ok(token) => token,
                Err(_) => match token {
                    Some(token) => token,
                    None => return,
                },
            };
            if let Err(e) = self.backend().abort_upload(&token, upload_id).await {
                tracing::warn!("the backend could not abandon upload {upload_id}: {e}");
            }
        }
    }

    /// The column types of the caller's dataset with this name, so an append or overwrite converts to
    /// them (a ZIP column that is text in the dataset stays text even if this file's codes look numeric).
    async fn dataset_types(
        &self,
        token: &Secret,
        name: &str,
    ) -> Result<Option<BTreeMap<String, ColumnType>>> {
        let datasets = self.backend().all_datasets(token).await?;
        let Some(dataset) = datasets.iter().find(|d| d.name == name) else {
            return Ok(None);
        };
        Ok(Some(
            dataset
                .schema
                .iter()
                .filter_map(|c| {
                    ColumnType::from_delta_name(&c.data_type).map(|t| (c.name.clone(), t))
                })
                .collect(),
        ))
    }

    /// Sends every file `incoming` hands over, as it comes: presigns it (the first creates the upload,
    /// the next are added to it), then sends its parts not sent yet, a few at a time across files.
    /// Resuming, the backend says first what it holds, and a file converted again with the same bytes
    /// as one the upload has is that one. Answers the upload id and the bytes this run sent.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        journal: &Arc<Mutex<Journal>>,
        journal_path: &Path,
        options: &UploadOptions,
        progress: &ProgressFn,
        cancel: &CancellationToken,
        mut incoming: tokio::sync::mpsc::UnboundedReceiver<Incoming>,
        converting: bool,
    ) -> Result<(String, u64)> {
        let mut urls: BTreeMap<String, FileUpload> = BTreeMap::new();
        let existing = journal.lock().expect("not poisoned").upload_id.clone();
        if let Some(upload_id) = &existing {
            let token = self.id_token().await?;
            let again = PresignRequest {
                upload_id: Some(upload_id.clone()),
                ..Default::default()
            };
            match self.backend().presign(&token, &again).await {
                Ok(presigned) => {
                    let mut j = journal.lock().expect("not poisoned");
                    learn(&mut j, &presigned);
                    j.save(journal_path)?;
                    urls.extend(presigned.files.into_iter().map(|f| (f.name.clone(), f)));
                }
                // Sent and committed by an earlier run that died before it could tell.
                Err(Error::Refused { status: 409, .. }) if !converting => {
                    return Ok((upload_id.clone(), 0));
                }
                // Left unprocessed past its URLs' expiry, the backend swept it: start the upload again.
                Err(Error::Refused { status: 404, .. }) => {
                    let mut j = journal.lock().expect("not poisoned");
                    j.upload_id = None;
                    j.sent.clear();
                    if converting {
                        j.files.clear();
                    }
                    j.save(journal_path)?;
                }
                Err(e) => return Err(e),
            }
        }
        let shared = Arc::new(Sending {
            http: self.uploads_http().clone(),
            journal: journal.clone(),
            journal_path: journal_path.to_path_buf(),
            progress: progress.clone(),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            converting: AtomicBool::new(converting),
            converts: converting,
            slots: Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1))),
        });
        let mut puts: Puts = tokio::task::JoinSet::new();
        // When the upload's URLs were last made again (for PUTs whose URL had expired).
        let mut renewed: Option<Instant> = None;
        // Each file's PUTs stop with its token: the whole upload's, or its own once it is obsolete.
        let mut going: Vec<(PathBuf, CancellationToken, Arc<Counted>)> = Vec::new();
        // The files of a journal written before this run that this conversion has not made again.
        let mut unmatched: Vec<StagedFile> = if converting {
            journal.lock().expect("not poisoned").files.clone()
        } else {
            Vec::new()
        };
        let mut sent_before = 0;
        loop {
            let next = tokio::select! {
                next = incoming.recv() => next,
                Some(finished) = puts.join_next(), if !puts.is_empty() => {
                    self.settle(finished, &mut puts, &mut urls, &mut renewed, journal, &shared, cancel)
                        .await?;
                    continue;
                }
                _ = cancel.cancelled() => return Err(Error::Cancelled),
            };
            let file = match next {
                None => break,
                Some(Incoming::StartedOver) => {
                    // Its files are removed: stop sending them; the commit leaves them out, and
                    // so does the progress.
                    for (path, token, counted) in &going {
                        if !path.exists() && !token.is_cancelled() {
                            token.cancel();
                            shared.forget(counted);
                        }
                    }
                    continue;
                }
                Some(Incoming::Ready(file)) => file,
                Some(Incoming::Closed(path)) => {
                    let hashed = path.clone();
                    let (size, sha256) =
                        match tokio::task::spawn_blocking(move || hash_file(&hashed))
                            .await
                            .map_err(|e| Error::Local(format!("hashing stopped: {e}")))?
                        {
                            Ok(hashed) => hashed,
                            // Removed before it could be read because its pass started over (the
                            // conversion removes a pass's files before it says so): not in the version.
                            Err(_) if converting && !path.exists() => continue,
                            Err(e) => return Err(e),
                        };
                    let local = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or("data.parquet")
                        .to_string();
                    // Made again with the same bytes as a file the upload has: it is that file.
                    let name = match unmatched
                        .iter()
                        .position(|f| f.size == size as i64 && f.sha256 == sha256)
                    {
                        Some(i) => unmatched.remove(i).name,
                        None => local,
                    };
                    let file = StagedFile {
                        name,
                        path,
                        size: size as i64,
                        sha256,
                    };
                    let mut j = journal.lock().expect("not poisoned");
                    match j.files.iter_mut().find(|f| f.name == file.name) {
                        Some(known) => known.path = file.path.clone(),
                        None => j.files.push(file.clone()),
                    }
                    j.save(journal_path)?;
                    file
                }
            };
            let upload = match urls.get(&file.name) {
                Some(upload) => upload.clone(),
                None => {
                    let presigned = self.presign_file(journal, journal_path, &file).await?;
                    urls.extend(presigned.files.into_iter().map(|f| (f.name.clone(), f)));
                    urls.get(&file.name).cloned().ok_or_else(|| {
                        Error::Network(format!("the backend gave no URL for {}", file.name))
                    })?
                }
            };
            let sent = journal
                .lock()
                .expect("not poisoned")
                .sent
                .get(&file.name)
                .cloned()
                .unwrap_or_default();
            let token = cancel.child_token();
            let counted = Arc::new(Counted {
                size: file.size as u64,
                ..Default::default()
            });
            going.push((file.path.clone(), token.clone(), counted.clone()));
            shared.total.fetch_add(file.size as u64, Ordering::Relaxed);
            let held = AtomicU64::new(0);
            let items = work_items(&file, &upload, &sent, &held, &counted, &token);
            let held = held.into_inner();
            counted.bytes.fetch_add(held, Ordering::Relaxed);
            shared.done.fetch_add(held, Ordering::Relaxed);
            sent_before += held;
            for item in items {
                spawn_put(&mut puts, &shared, item, cancel, None);
            }
        }
        shared.converting.store(false, Ordering::Relaxed);
        progress(Progress {
            stage: Stage::Uploading,
            bytes_done: shared.done.load(Ordering::Relaxed),
            bytes_total: shared.total.load(Ordering::Relaxed),
        });
        while let Some(finished) = tokio::select! {
            finished = puts.join_next() => finished,
            _ = cancel.cancelled() => return Err(Error::Cancelled),
        } {
            self.settle(
                finished,
                &mut puts,
                &mut urls,
                &mut renewed,
                journal,
                &shared,
                cancel,
            )
            .await?;
        }
        let upload_id = journal
            .lock()
            .expect("not poisoned")
            .upload_id
            .clone()
            .ok_or_else(|| Error::Local("the conversion made no data file".into()))?;
        let done = shared.done.load(Ordering::Relaxed);
        Ok((upload_id, done.saturating_sub(sent_before)))
    }

    /// Takes the outcome of one PUT: an item whose URL had expired (it waited behind others, or its URL
    /// came from the start of a long run) goes again on the upload's URLs made again (at most
    /// [`RENEWALS`] times); any other failure ends the sending.
    #[allow(clippy::too_many_arguments)]
    async fn settle(
        &self,
        finished: std::result::Result<Put, tokio::task::JoinError>,
        puts: &mut Puts,
        urls: &mut BTreeMap<String, FileUpload>,
        renewed: &mut Option<Instant>,
        journal: &Arc<Mutex<Journal>>,
        shared: &Arc<Sending>,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let (error, item, slot) = match finished {
            Ok(Put::Done) => return Ok(()),
            Ok(Put::Failed(e)) => return Err(e),
            Ok(Put::Expired(error, item, slot)) => (error, item, slot),
            Err(e) => return Err(Error::Local(format!("sending stopped: {e}"))),
        };
        if item.cancel.is_cancelled() {
            // Its file was made obsolete meanwhile (or the upload stops): not wanted any more.
            return Ok(());
        }
        if renewed.is_none_or(|at| at < item.issued) {
            let upload_id = journal.lock().expect("not poisoned").upload_id.clone();
            let Some(upload_id) = upload_id else {
                return Err(error);
            };
            let token = self.id_token().await?;
            let again = PresignRequest {
                upload_id: Some(upload_id),
                ..Default::default()
            };
            let presigned = self.backend().presign(&token, &again).await?;
            tracing::info!("upload URLs expired; made again");
            urls.extend(presigned.files.into_iter().map(|f| (f.name.clone(), f)));
            *renewed = Some(Instant::now());
        }
        let Some(item) = urls.get(&item.file).and_then(|upload| item.renewed(upload)) else {
            return Err(error);
        };
        // Its turn is kept: it goes at once, not behind the others (whose URLs would expire too).
        spawn_put(puts, shared, item, cancel, Some(slot));
        Ok(())
    }

    /// Presigns one file: creates the upload with it, or adds it to the upload.
    async fn presign_file(
        &self,
        journal: &Arc<Mutex<Journal>>,
        journal_path: &Path,
        file: &StagedFile,
    ) -> Result<PresignResponse> {
        let (name, upload_id) = {
            let j = journal.lock().expect("not poisoned");
            (j.name.clone(), j.upload_id.clone())
        };
        let request = PresignRequest {
            name: upload_id.is_none().then_some(name),
            upload_id,
            files: vec![FileSpec {
                name: file.name.clone(),
                size: file.size,
                sha256: file.sha256.clone(),
            }],
            ..Default::default()
        };
        let token = self.id_token().await?;
        let presigned = self.backend().presign(&token, &request).await?;
        let mut j = journal.lock().expect("not poisoned");
        learn(&mut j, &presigned);
        j.save(journal_path)?;
        Ok(presigned)
    }
}

/// Records an upload's id and dataset, and what the backend says storage already holds (a run killed
/// after storage had a part but before the journal recorded it).
fn learn(j: &mut Journal, presigned: &PresignResponse) {
    j.upload_id = Some(presigned.upload_id.clone());
    j.dataset_id = Some(presigned.dataset_id.clone());
    for upload in &presigned.files {
        let sent = j.sent.entry(upload.name.clone()).or_default();
        sent.part_size = upload.part_size;
        if upload.uploaded {
            sent.whole = true;
        }
        for part in &upload.received {
            sent.parts
                .entry(part.number)
                .or_insert_with(|| part.etag.clone());
        }
    }
}

/// What every PUT of one run shares.
struct Sending {
    http: reqwest::Client,
    journal: Arc<Mutex<Journal>>,
    journal_path: PathBuf,
    progress: ProgressFn,
    /// Bytes sent (and held by storage before this run).
    done: AtomicU64,
    /// Bytes of the files handed over so far.
    total: AtomicU64,
    /// While the conversion goes on, its progress is what is shown.
    converting: AtomicBool,
    /// This run converts (its files may be made obsolete by a pass that starts over).
    converts: bool,
    /// PUTs in flight at once.
    slots: Arc<tokio::sync::Semaphore>,
}

/// One file's share of the progress.
#[derive(Default)]
struct Counted {
    size: u64,
    /// Bytes of it sent (and held by storage before this run).
    bytes: AtomicU64,
    /// Made obsolete by a pass that started over: no longer counted.
    dropped: AtomicBool,
}

impl Sending {
    /// Counts `n` more bytes of a file sent, and says so unless the conversion's progress is shown.
    fn sent(&self, counted: &Counted, n: u64) {
        if counted.dropped.load(Ordering::Relaxed) {
            return;
        }
        counted.bytes.fetch_add(n, Ordering::Relaxed);
        let now = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if !self.converting.load(Ordering::Relaxed) {
            (self.progress)(Progress {
                stage: Stage::Uploading,
                bytes_done: now,
                bytes_total: self.total.load(Ordering::Relaxed),
            });
        }
    }

    /// Takes back `n` bytes of a file counted by an attempt that failed (they go again).
    fn unsent(&self, counted: &Counted, n: u64) {
        if counted.dropped.load(Ordering::Relaxed) {
            return;
        }
        let less = |v: u64| Some(v.saturating_sub(n));
        let _ = counted
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, less);
        let _ = self
            .done
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, less);
    }

    /// Takes an obsolete file out of the progress, so that what is done reaches the total.
    fn forget(&self, counted: &Counted) {
        counted.dropped.store(true, Ordering::Relaxed);
        let _ = self
            .total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_sub(counted.size))
            });
        let bytes = counted.bytes.swap(0, Ordering::Relaxed);
        let _ = self
            .done
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                Some(d.saturating_sub(bytes))
            });
    }

    /// Sends one item, retrying with backoff on 5xx, timeouts and dropped connections. Answers its
    /// ETag.
    async fn put(self: &Arc<Self>, item: &Item, cancel: &CancellationToken) -> Result<String> {
        let mut attempt = 0;
        loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let counted = Arc::new(AtomicU64::new(0));
            let outcome = tokio::select! {
                outcome = put_once(self, item, &counted) => outcome,
                _ = cancel.cancelled() => Err(Attempt::Fatal(Error::Cancelled)),
            };
            match outcome {
                Ok(etag) => return Ok(etag),
                Err(Attempt::Retry(reason)) if attempt + 1 < ATTEMPTS => {
                    self.unsent(&item.counted, counted.load(Ordering::Relaxed));
                    attempt += 1;
                    let wait = Duration::from_millis(250 << attempt).min(Duration::from_secs(8));
                    tracing::warn!(
                        "sending {} failed ({reason}); retrying in {wait:?}",
                        what(item)
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(Attempt::Retry(reason)) => {
                    return Err(Error::Network(format!(
                        "sending {} failed {ATTEMPTS} times ({reason}); run the same command again to resume",
                        what(item)
                    )));
                }
                Err(Attempt::Fatal(e)) => return Err(e),
            }
        }
    }
}

/// How many times one PUT's URL is made again after a 403 (an expired URL; one that is refused when
/// just made is refused for another reason).
const RENEWALS: u32 = 3;

/// The PUTs of one run.
type Puts = tokio::task::JoinSet<Put>;

/// How one PUT ended.
enum Put {
    /// Sent and recorded, or no longer wanted (its file made obsolete).
    Done,
    /// Refused with 403 (an expired URL, most likely): to go again on a URL made again, in the slot
    /// it holds.
    Expired(Error, Item, tokio::sync::OwnedSemaphorePermit),
    Failed(Error),
}

/// Sends `item` (when a slot is free) and records it in the journal.
fn spawn_put(
    puts: &mut Puts,
    shared: &Arc<Sending>,
    item: Item,
    cancel_all: &CancellationToken,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let shared = shared.clone();
    let cancel_all = cancel_all.clone();
    let converting = shared.converts;
    puts.spawn(async move {
        let slot = match slot {
            Some(slot) => slot,
            None => match shared.slots.clone().acquire_owned().await {
                Ok(slot) => slot,
                Err(_) => return Put::Failed(Error::Cancelled),
            },
        };
        let etag = match shared.put(&item, &item.cancel).await {
            Ok(etag) => etag,
            // Removed by the conversion because its pass started over (stopped here, or gone before
            // it could be opened): it is not in the version; nothing to record.
            Err(Error::Cancelled | Error::Local(_))
                if converting && !cancel_all.is_cancelled() && !item.path.exists() =>
            {
                return Put::Done;
            }
            Err(e @ Error::Refused { status: 403, .. }) if item.renewals < RENEWALS => {
                return Put::Expired(e, item, slot);
            }
            Err(e) => return Put::Failed(e),
        };
        let mut j = shared.journal.lock().expect("not poisoned");
        let sent = j.sent.entry(item.file.clone()).or_default();
        match item.part {
            0 => sent.whole = true,
            n => {
                sent.parts.insert(n, etag);
            }
        }
        match j.save(&shared.journal_path) {
            Ok(()) => Put::Done,
            Err(e) => Put::Failed(e),
        }
    });
}

/// One PUT: a whole file (`part` 0) or one part.
struct Item {
    file: String,
    path: PathBuf,
    part: i64,
    offset: u64,
    length: u64,
    url: String,
    headers: Vec<(String, String)>,
    /// Its file's share of the progress.
    counted: Arc<Counted>,
    /// When its URL was handed over (it was made then or before).
    issued: Instant,
    /// How many times its URL was made again after one had expired.
    renewals: u32,
    /// Stops its PUT (its file's token).
    cancel: CancellationToken,
}

impl Item {
    /// The same PUT on the URL `upload` (made again) gives it.
    fn renewed(self, upload: &FileUpload) -> Option<Item> {
        let (url, headers) = match (self.part, &upload.url) {
            (0, Some(url)) => (url.clone(), &upload.headers),
            (0, None) => return None,
            (n, _) => {
                let part = upload.parts.iter().find(|p| p.number == n)?;
                (part.url.clone(), &part.headers)
            }
        };
        Some(Item {
            url,
            headers: headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
            issued: Instant::now(),
            renewals: self.renewals + 1,
            ..self
        })
    }
}

fn work_items(
    file: &StagedFile,
    upload: &FileUpload,
    sent: &crate::journal::Sent,
    done: &AtomicU64,
    counted: &Arc<Counted>,
    cancel: &CancellationToken,
) -> Vec<Item> {
    let headers = |h: &[delta_bridge_api::Header]| -> Vec<(String, String)> {
        h.iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect()
    };
    if let Some(url) = &upload.url {
        if sent.whole {
            done.fetch_add(file.size as u64, Ordering::Relaxed);
            return Vec::new();
        }
        return vec![Item {
            file: file.name.clone(),
            path: file.path.clone(),
            part: 0,
            offset: 0,
            length: file.size as u64,
            url: url.clone(),
            headers: headers(&upload.headers),
            counted: counted.clone(),
            issued: Instant::now(),
            renewals: 0,
            cancel: cancel.clone(),
        }];
    }
    let part_size = upload.part_size.unwrap_or(file.size) as u64;
    upload
        .parts
        .iter()
        .filter_map(|part| {
            let offset = (part.number as u64 - 1) * part_size;
            let length = part_size.min(file.size as u64 - offset);
            if sent.parts.contains_key(&part.number) {
                done.fetch_add(length, Ordering::Relaxed);
                return None;
            }
            Some(Item {
                file: file.name.clone(),
                path: file.path.clone(),
                part: part.number,
                offset,
                length,
                url: part.url.clone(),
                headers: headers(&part.headers),
                counted: counted.clone(),
                issued: Instant::now(),
                renewals: 0,
                cancel: cancel.clone(),
            })
        })
        .collect()
}

fn what(item: &Item) -> String {
    match item.part {
        0 => item.file.clone(),
        n => format!("part {n} of {}", item.file),
    }
}

enum Attempt {
    Retry(String),
    Fatal(Error),
}

async fn put_once(
    shared: &Arc<Sending>,
    item: &Item,
    counted: &Arc<AtomicU64>,
) -> Result<String, Attempt> {
    let local =
        |e: std::io::Error| Attempt::Fatal(Error::Local(format!("{}: {e}", item.path.display())));
    let mut file = tokio::fs::File::open(&item.path).await.map_err(local)?;
    file.seek(std::io::SeekFrom::Start(item.offset))
        .await
        .map_err(local)?;
    let reader = file.take(item.length);
    let stream = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024).inspect_ok({
        let counted = counted.clone();
        let shared = shared.clone();
        let file = item.counted.clone();
        move |chunk| {
            let n = chunk.len() as u64;
            counted.fetch_add(n, Ordering::Relaxed);
            shared.sent(&file, n);
        }
    });
    let body = reqwest::Body::wrap_stream(stream.map_ok(bytes::Bytes::from).boxed());
    let mut request = shared
        .http
        .put(&item.url)
        .header(reqwest::header::CONTENT_LENGTH, item.length)
        .body(body);
    for (name, value) in &item.headers {
        if !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("host") {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.map_err(|e| {
        Attempt::Retry(if e.is_timeout() {
            "timed out".into()
        } else {
            "connection failed".into()
        })
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string());
    }
    let text = response.text().await.unwrap_or_default();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(Attempt::Retry(format!("HTTP {status}")));
    }
    let message = serde_json::from_str::<delta_bridge_api::ErrorBody>(&text)
        .map(|b| b.error.message)
        .unwrap_or_else(|_| format!("storage answered HTTP {status}"));
    Err(Attempt::Fatal(Error::Refused {
        status: status.as_u16(),
        code: "UPLOAD".into(),
        message: format!("sending {} was refused: {message}", what(item)),
    }))
}

/// What the conversion hands the sender: data files as they are closed (or, for a table converted
/// earlier, as they are), and passes that started over.
enum Incoming {
    /// A data file the conversion closed: to be hashed and sent.
    Closed(PathBuf),
    /// A data file already described.
    Ready(StagedFile),
    /// A pass started over: the files it had closed are gone and will not be in the version.
    StartedOver,
}

/// Whether a conversion that failed with `e` ends the upload whatever was sent: the user cancelled,
/// or the input cannot be converted however often it is tried.
fn abandons(e: &Error) -> bool {
    use delta_bridge_ingest::Error as Ingest;
    match e {
        Error::Cancelled | Error::Input(_) => true,
        Error::Ingest(Ingest::Io { .. } | Ingest::Delta { .. }) => false,
        Error::Ingest(_) => true,
        _ => false,
    }
}

/// Converts the input files into one local Delta table, telling `events` each data file as it is
/// closed. Answers the table's data files in row order, and what the conversion noted.
#[allow(clippy::too_many_arguments)]
async fn convert(
    files: &[PathBuf],
    staging: &Path,
    read: &delta_bridge_ingest::Options,
    types: Option<BTreeMap<String, ColumnType>>,
    progress: &ProgressFn,
    cancel: &CancellationToken,
    file_bytes: usize,
    events: tokio::sync::mpsc::UnboundedSender<Incoming>,
) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let _ = std::fs::remove_dir_all(staging);
    // The copy of the user's data is theirs alone: `staging/` and the table's directory are 0700 before
    // anything is written in them, and the written tree is made 0700/0600 once converted.
    staging
        .parent()
        .map_or(Ok(()), crate::private::private_dir)
        .and_then(|()| crate::private::private_dir(staging))
        .map_err(|e| Error::Local(format!("{}: {e}", staging.display())))?;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            cancel.cancelled().await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let files = files.to_vec();
    let read = read.clone();
    let table = staging.to_path_buf();
    let progress = progress.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<(Vec<PathBuf>, Vec<String>)> {
        let staging = table;
        let mut notes = Vec::new();
        let total: u64 = files
            .iter()
            .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
            .sum();
        let watch = |event: delta_bridge_ingest::FileEvent| {
            let _ = events.send(match event {
                delta_bridge_ingest::FileEvent::Closed { path, .. } => {
                    Incoming::Closed(path.to_path_buf())
                }
                delta_bridge_ingest::FileEvent::StartedOver => Incoming::StartedOver,
            });
        };
        let mut before = 0u64;
        for (i, file) in files.iter().enumerate() {
            let mut options = ConvertOptions {
                mode: if i == 0 {
                    delta_bridge_ingest::Mode::Create
                } else {
                    delta_bridge_ingest::Mode::Append
                },
                read: read.clone(),
                target_file_bytes: file_bytes,
                // Its files go up while it converts: the user's alone from their first byte.
                private: true,
                ..Default::default()
            };
            if let Some(types) = &types {
                // The dataset's types where the user chose none.
                for (i, t) in matching_types(file, &read, types)? {
                    if !options.read.types.iter().any(|(j, _)| *j == i) {
                        options.read.types.push((i, t));
                    }
                }
            }
            let base = before;
            let report = |p: delta_bridge_ingest::Progress| {
                progress(Progress {
                    stage: Stage::Converting,
                    bytes_done: base + p.bytes_done,
                    bytes_total: total,
                })
            };
            let converted = delta_bridge_ingest::convert_watching(
                file, &staging, &options, &report, &stop, &watch,
            )?;
            notes.extend(converted.widened.iter().map(|w| {
                format!(
                    "{}: column '{}' became {} (was {}): row {} has '{}'",
                    file.display(),
                    w.column,
                    w.to,
                    w.from,
                    w.row,
                    w.value
                )
            }));
            notes.extend(
                converted
                    .warnings
                    .iter()
                    .map(|w| format!("{}: {w}", file.display())),
            );
            before += std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        }
        crate::private::restrict_tree(&staging)
            .map_err(|e| Error::Local(format!("{}: {e}", staging.display())))?;
        let order = delta_bridge_ingest::table_files(&staging)?
            .iter()
            .map(|name| staging.join(name))
            .collect();
        Ok((order, notes))
    })
    .await
    .map_err(|e| Error::Local(format!("the conversion stopped: {e}")))?;
    watcher.abort();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(staging);
    }
    result
}

/// Size at which the conversion closes a data file and begins the next, so that it can go up while
/// the rest is converted: small enough that the first starts within a second of a 1 GB CSV and the
/// last is a short tail after the conversion ends, large enough that readers fetch few files.
pub const FILE_BYTES: usize = 32 << 20;

/// Type overrides that make a file's columns take the dataset's types where they can.
fn matching_types(
    file: &Path,
    read: &delta_bridge_ingest::Options,
    types: &BTreeMap<String, ColumnType>,
) -> Result<Vec<(usize, ColumnType)>> {
    let preview = delta_bridge_ingest::preview(file, read)?;
    Ok(preview
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c.column_type.widens_to(types.get(&c.name)?)?)))
        .collect())
}

/// The data files of a table's current version, with sizes and SHA-256 (hashed on every core).
fn describe(table: &Path) -> Result<Vec<StagedFile>> {
    let relative = delta_bridge_ingest::table_files(table)?;
    let paths: Vec<PathBuf> = relative.iter().map(|name| table.join(name)).collect();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(paths.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    // One slot per file: its size and SHA-256, once a thread has hashed it.
    type Slot = Mutex<Option<Result<(u64, String)>>>;
    let hashes: Vec<Slot> = paths.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    *hashes[i].lock().expect("not poisoned") = Some(hash_file(path));
                }
            });
        }
    });
    let mut names = std::collections::HashSet::new();
    paths
        .into_iter()
        .zip(relative)
        .zip(hashes)
        .map(|((path, relative), hash)| {
            let (size, sha256) = hash
                .into_inner()
                .expect("not poisoned")
                .expect("every file was hashed")?;
            // Names are unique in an upload; a partitioned table's files could share a base name.
            let base = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("data.parquet")
                .to_string();
            let name = if names.insert(base.clone()) {
                base
            } else {
                relative.replace('/', "_")
            };
            Ok(StagedFile {
                name,
                size: size as i64,
                sha256,
                path,
            })
        })
        .collect()
}

fn hash_file(path: &Path) -> Result<(u64, String)> {
    let local = |e: std::io::Error| Error::Local(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(local)?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(local)?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// Removes a journal and the local copy it made (never a table the user gave).
fn remove_journal(journal_path: &Path, journal: &Journal) {
    let _ = std::fs::remove_file(journal_path);
    if !journal.keep_staging {
        let _ = std::fs::remove_dir_all(&journal.staging);
    }
}

/// The journal's name: the same command on the same unchanged files finds the same journal.
fn journal_key(
    backend: &str,
    uid: &str,
    name: &str,
    mode: &str,
    files: &[PathBuf],
) -> Result<String> {
    let mut hasher = Sha256::new();
    for part in [backend, uid, name, mode] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    for file in files {
        let path = std::fs::canonicalize(file)
            .map_err(|e| Error::Input(format!("{}: {e}", file.display())))?;
        let metadata = std::fs::metadata(&path)
            .map_err(|e| Error::Input(format!("{}: {e}", file.display())))?;
        let modified = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update(format!("\0{}\0{modified}\0", metadata.len()).as_bytes());
    }
    Ok(hex::encode(&hasher.finalize()[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file made obsolete by a pass that started over leaves the progress: what its PUTs had sent is
    /// taken back with its size, so the bar reaches its end when the version's files are sent.
    #[test]
    fn an_obsolete_file_leaves_the_progress() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Sending {
            http: reqwest::Client::new(),
            journal: Arc::new(Mutex::new(Journal::default())),
            journal_path: PathBuf::from("unused.json"),
            progress: {
                let seen = seen.clone();
                Arc::new(move |p: Progress| {
                    seen.lock().unwrap().push((p.bytes_done, p.bytes_total))
                })
            },
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            converting: AtomicBool::new(true),
            converts: true,
            slots: Arc::new(tokio::sync::Semaphore::new(1)),
        };
        let files: Vec<Arc<Counted>> = [100, 100, 100]
            .map(|size| {
                shared.total.fetch_add(size, Ordering::Relaxed);
                Arc::new(Counted {
                    size,
                    ..Default::default()
                })
            })
            .into();
        shared.sent(&files[0], 100);
        shared.sent(&files[1], 40);
        // A failed attempt of the first file's retry takes back what it had counted.
        shared.unsent(&files[1], 10);
        shared.sent(&files[1], 10);
        shared.forget(&files[1]);
        // Late bytes of the obsolete file's PUT are not counted.
        shared.sent(&files[1], 60);
        shared.converting.store(false, Ordering::Relaxed);
        shared.sent(&files[2], 60);
        shared.sent(&files[2], 40);
        assert_eq!(seen.lock().unwrap().clone(), [(160, 200), (200, 200)]);
    }

    #[test]
    fn a_dataset_is_named_after_its_first_file_unless_a_name_is_chosen() {
        let mut options = UploadRequest {
            files: vec![
                PathBuf::from("/home/ana/Q3 sales.csv"),
                PathBuf::from("b.csv"),
            ],
            name: None,
            mode: Mode::Create,
            share: false,
            read: Default::default(),
        };
        assert_eq!(options.dataset_name(), "Q3 sales");
        options.files = vec![PathBuf::from("/tmp/orders.2024.csv.gz")];
        assert_eq!(options.dataset_name(), "orders.2024");
        options.files = vec![PathBuf::from("Book1.XLSX")];
        assert_eq!(options.dataset_name(), "Book1");
        options.name = Some("sales".into());
        assert_eq!(options.dataset_name(), "sales");
    }

    #[tokio::test]
    async fn an_input_error_keeps_its_file_and_row_through_the_client() {
        let server = crate::testing::fake_server(|_| (500, "{}".into()));
        let root = tempfile::tempdir().unwrap();
        let csv = root.path().join("sales.csv");
        std::fs::write(&csv, "zip,amount\n01234,1.5\n98765\n").unwrap();
        let client = Client::signed_in_for_tests(
            crate::testing::settings(&server.url, &root.path().join("state")),
            "u",
        )
        .await;
        let options = UploadOptions {
            request: UploadRequest {
                files: vec![csv.clone()],
                mode: Mode::Create,
                ..Default::default()
            },
            concurrency: 1,
            file_bytes: FILE_BYTES,
        };
        let e = client
            .upload(&options, Arc::new(|_| {}), &Job::new())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Ingest(_)), "{e:?}");
        assert_eq!(e.kind(), crate::Kind::Input);
        assert_eq!(e.file(), Some(csv.as_path()));
        assert_eq!(e.row(), Some(3), "{e}");
        assert!(e.to_string().contains("row 3"), "{e}");
        // Nothing reached the backend.
        assert!(server.requests.lock().unwrap().is_empty());

        let typed = Error::from(delta_bridge_ingest::Error::ValueDoesNotFit {
            file: csv.clone(),
            row: 2,
            column: "amount".into(),
            expected: "int64",
            value: "1.5".into(),
        });
        assert_eq!((typed.row(), typed.column()), (Some(2), Some("amount")));
        let cancelled = Error::from(delta_bridge_ingest::Error::Cancelled { file: csv });
        assert!(matches!(cancelled, Error::Cancelled));
    }

    /// A backend whose single-PUT uploads take `put_seconds`, for stopping an upload while it sends.
    fn slow_backend(put_seconds: u64) -> (crate::testing::FakeServer, Arc<AtomicBool>) {
        let base = Arc::new(std::sync::OnceLock::<String>::new());
        let names = Arc::new(Mutex::new(Vec::<String>::new()));
        let putting = Arc::new(AtomicBool::new(false));
        let server = crate::testing::fake_server({
            let (base, names, putting) = (base.clone(), names.clone(), putting.clone());
            move |r| match (r.method.as_str(), r.path.as_str()) {
                ("POST", "/presign") => {
                    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                    if let Some(files) = body["files"].as_array().filter(|f| !f.is_empty()) {
                        *names.lock().unwrap() = files
                            .iter()
                            .map(|f| f["name"].as_str().unwrap().to_string())
                            .collect();
                    }
                    let files: Vec<serde_json::Value> = names
                        .lock()
                        .unwrap()
                        .iter()
                        .map(|n| serde_json::json!({"name": n, "url": format!("{}/put/{n}", base.get().unwrap())}))
                        .collect();
                    let answer = serde_json::json!({
                        "uploadId": "up1", "datasetId": "ds0123456789abcdef0123",
                        "expiresAt": "", "files": files
                    });
                    (200, answer.to_string())
                }
                ("PUT", _) => {
                    putting.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_secs(put_seconds));
                    (200, String::new())
                }
                ("DELETE", _) => (200, "{}".into()),
                _ => (
                    404,
                    r#"{"error":{"code":"NOT_FOUND","message":"no"}}"#.into(),
                ),
            }
        });
        base.set(server.url.clone()).unwrap();
        (server, putting)
    }

    async fn until(flag: &AtomicBool) {
        for _ in 0..500 {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("never happened");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pause_keeps_the_journal_for_interrupted_and_cancel_or_discard_forget_it() {
        let (server, putting) = slow_backend(1);
        let root = tempfile::tempdir().unwrap();
        let csv = root.path().join("sales.csv");
        std::fs::write(&csv, "zip,amount\n01234,1.5\n98765,2.25\n").unwrap();
        let client = Arc::new(
            Client::signed_in_for_tests(
                crate::testing::settings(&server.url, &root.path().join("state")),
                "u",
            )
            .await,
        );
        let request = UploadRequest {
            files: vec![csv.clone()],
            name: Some("sales".into()),
            mode: Mode::Create,
            share: true,
            read: ReadText {
                delimiter: Some("\\t".into()),
                ..Default::default()
            },
        };
        let jobs = Arc::new(crate::Jobs::default());
        let start = |id: u64| {
            let client = client.clone();
            let running = jobs.start(id);
            let options = UploadOptions {
                request: request.clone(),
                concurrency: 1,
                file_bytes: FILE_BYTES,
            };
            putting.store(false, Ordering::SeqCst);
            tokio::spawn(async move {
                client
                    .upload(&options, Arc::new(|_| {}), running.job())
                    .await
            })
        };
        assert!(client.interrupted().unwrap().is_empty());

        // Paused while sending: the journal stays, and lists the request as it was asked.
        let first = jobs.new_id();
        let upload = start(first);
        until(&putting).await;
        assert!(jobs.pause(first));
        let e = upload.await.unwrap().unwrap_err();
        assert!(matches!(e, Error::Paused), "{e:?}");
        assert_eq!(e.kind(), crate::Kind::Paused);
        let interrupted = client.interrupted().unwrap();
        assert_eq!(interrupted.len(), 1, "{interrupted:?}");
        assert_eq!(interrupted[0].request, request);
        assert_eq!(interrupted[0].bytes_sent, 0);
        assert!(interrupted[0].bytes_total > 0);
        let json = serde_json::to_value(&interrupted[0]).unwrap();
        assert_eq!(json["request"]["mode"], "create");
        assert_eq!(json["request"]["read"]["delimiter"], "\\t");
        assert!(
            json.get("bytesSent").is_some() && json.get("bytesTotal").is_some(),
            "{json}"
        );
        let key = interrupted[0].key.clone();
        assert!(client.journal_path(&key).exists());
        assert!(
            !server
                .requests
                .lock()
                .unwrap()
                .iter()
                .any(|r| r.method == "DELETE"),
            "a pause tells the backend nothing"
        );

        // The same request again resumes it; cancelled, everything is forgotten, the backend told.
        let second = jobs.new_id();
        let upload = start(second);
        until(&putting).await;
        assert!(jobs.cancel(second));
        let e = upload.await.unwrap().unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e:?}");
        assert!(client.interrupted().unwrap().is_empty());
        assert!(!client.journal_path(&key).exists());
        assert!(
            server
                .requests
                .lock()
                .unwrap()
                .iter()
                .any(|r| r.method == "DELETE" && r.path == "/uploads/up1"),
        );

        // Paused again, then discarded.
        let third = jobs.new_id();
        let upload = start(third);
        until(&putting).await;
        jobs.pause(third);
        assert!(matches!(upload.await.unwrap(), Err(Error::Paused)));
        let key = client.interrupted().unwrap()[0].key.clone();
        assert!(!client.discard("../../etc/passwd").await.unwrap());
        assert!(client.discard(&key).await.unwrap());
        assert!(client.interrupted().unwrap().is_empty());
        assert!(!client.discard(&key).await.unwrap());
        assert!(jobs.running().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn the_staged_copy_of_a_csv_is_for_the_user_alone() {
        use crate::private::tests::{mode, with_permissive_umask};
        let root = tempfile::tempdir().unwrap();
        let csv = root.path().join("sales.csv");
        std::fs::write(&csv, "zip,amount\n01234,1.5\n98765,2.25\n").unwrap();
        let staging = root.path().join("state/staging/key");
        let (files, _) = with_permissive_umask(|| {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime
                .block_on(convert(
                    std::slice::from_ref(&csv),
                    &staging,
                    &Default::default(),
                    None,
                    &(Arc::new(|_| {}) as ProgressFn),
                    &CancellationToken::new(),
                    FILE_BYTES,
                    tokio::sync::mpsc::unbounded_channel().0,
                ))
                .unwrap()
        });
        assert!(!files.is_empty());
        assert_eq!(mode(&root.path().join("state")), 0o700);
        let mut seen = 0;
        let mut pending = vec![root.path().join("state/staging")];
        while let Some(path) = pending.pop() {
            seen += 1;
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
            }
        }
        // staging/, the table, its _delta_log/, a log entry and at least one data file.
        assert!(seen >= 5, "{seen}");
    }
}
