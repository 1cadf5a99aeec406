//! Delta-Bridge users' datasets: everything the backend does, with no HTTP in it.
//!
//! - [`Datasets::presign`] hands out upload URLs for a version's Parquet files: presigned PUTs (or parts)
//!   on S3; on local disk, signed expiring URLs to the backend's own upload route ([`Datasets::receive`]).
//! - [`Datasets::process`] verifies every uploaded object (exists, exact size, SHA-256, a Parquet footer
//!   whose columns match the dataset) and commits them as a new Delta version: the backend is the only
//!   writer of `_delta_log`, and a dataset exists only once its first commit succeeded.
//! - [`Datasets::share`] gives a dataset a recipient token scoped to its own share and regenerates
//!   `share.yaml` from the store; [`Datasets::unshare`] takes it away again.
//!
//! Every operation takes the caller's user id; another user's dataset is indistinguishable from one that
//! does not exist.
#![warn(missing_docs)]

mod delta_log;
mod error;
mod ids;
mod secret;
mod share_file;
mod snippet;
mod storage;
mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use delta_bridge_ingest::{ColumnType, DataFile, FooterError};
use futures::{Stream, StreamExt, TryStreamExt};

pub use delta_bridge_api as api;
pub use delta_bridge_api::Snippet;
pub use error::{Error, Result};
pub use secret::Secret;
pub use share_file::{SCHEMA, ShareFile, stamp, table_key, table_name};
pub use snippet::snippet;
pub use storage::{Presigned, Storage};
pub use store::{Dataset, Store};

use api::*;
use delta_log::{Added, Operation};
use store::{CommitPlan, FileRecord, RemovedFile, Upload, UploadFile, VersionRecord};

/// Most files in one upload.
pub const MAX_FILES: usize = 10_000;
/// Largest file (S3's limit for one object).
pub const MAX_FILE_SIZE: i64 = 5 << 40;
/// Longest dataset name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most datasets on one page.
pub const MAX_PAGE: i64 = 500;
/// How long a commit may take by default from starting to write its log entry to committing it in the
/// store ([`Settings::commit_lease`]).
pub const COMMIT_LEASE: Duration = Duration::from_secs(60);

/// How the service behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The endpoint recipients reach the sharing server at (goes into profiles), such as
    /// `https://sharing.example.com/delta-sharing`.
    pub sharing_url: String,
    /// The public base URL of the backend itself (local upload URLs point at its upload route).
    pub public_url: String,
    /// Where `share.yaml` is written.
    pub share_file: PathBuf,
    /// Signs upload URLs and derives recipient tokens.
    pub secret: Secret,
    /// Files larger than this are uploaded in parts.
    pub multipart_threshold: i64,
    /// Bytes per part (S3 needs at least 5 MiB).
    pub part_size: i64,
    /// Lifetime of upload URLs.
    pub upload_expiry: Duration,
    /// How long files an overwrite removed stay in storage (time travel within it), unless a share
    /// still reaches a version that holds them.
    pub retention: Duration,
    /// How often [`Datasets::maintain`] checks `share.yaml` against the store and deletes what is due.
    pub maintenance_interval: Duration,
    /// How long a commit may take from starting to write its log entry to committing it in the store.
    /// An entry whose commit never happened (a crash, a lost connection) is removed once twice this has
    /// passed: by the next `process` of the dataset, or by [`Datasets::maintain`].
    pub commit_lease: Duration,
}

/// The service (cheap to clone: background tasks hold their own).
#[derive(Debug, Clone)]
pub struct Datasets {
    store: Store,
    storage: Storage,
    share_file: Arc<ShareFile>,
    settings: Settings,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("no dataset {id:?}"))
}

impl Datasets {
    /// The service over a store and storage; brings `share.yaml` up to the store once (if that fails,
    /// [`Datasets::maintain`] keeps trying, and `/healthz` says the file lags).
    pub async fn new(store: Store, storage: Storage, settings: Settings) -> Result<Datasets> {
        let share_file = Arc::new(ShareFile::new(&settings.share_file));
        let datasets = Datasets {
            store,
            storage,
            share_file,
            settings,
        };
        if let Err(e) = datasets.regenerate().await {
            tracing::error!(
                error = %e,
                detail = e.detail().unwrap_or_default(),
                "share.yaml could not be written at start; retrying in the background"
            );
        }
        Ok(datasets)
    }

    /// Brings `share.yaml` up to the store; returns the generation it then has.
    pub async fn regenerate(&self) -> Result<i64> {
        self.spawn_regenerate()
            .await
            .map_err(|e| Error::ShareFile(std::io::Error::other(e)))?
    }

    /// The same in a task of its own, which a client going away cannot cancel.
    fn spawn_regenerate(&self) -> tokio::task::JoinHandle<Result<i64>> {
        let (store, storage, file) = (
            self.store.clone(),
            self.storage.clone(),
            self.share_file.clone(),
        );
        tokio::spawn(async move { file.regenerate(&store, &storage).await })
    }

    /// Waits (a few seconds at most) for `share.yaml` to reach `generation`, regenerating it in a task
    /// no client can cancel. Whether it did: if not, [`Datasets::maintain`] lands it once the fault clears.
    async fn land(&self, generation: i64) -> bool {
        let attempt = self.spawn_regenerate();
        match tokio::time::timeout(Duration::from_secs(5), attempt).await {
            Ok(Ok(Ok(written))) if written >= generation => true,
            Ok(Ok(Err(e))) => {
                tracing::error!(
                    error = %e,
                    detail = e.detail().unwrap_or_default(),
                    "share.yaml could not be written; retrying in the background"
                );
                false
            }
            _ => self
                .share_file
                .written_generation()
                .await
                .is_some_and(|g| g >= generation),
        }
    }

    /// Keeps storage and `share.yaml` agreeing with the store, until the process ends: rewrites the file
    /// whenever its generation is behind the store's (retrying with backoff while that fails), deletes
    /// what deleted datasets left once the file no longer serves them, and vacuums files overwrites
    /// removed once nothing reachable needs them. Runs on every replica; each step is idempotent.
    pub async fn maintain(&self) {
        let mut delay = self.settings.maintenance_interval;
        let mut last_vacuum = std::time::Instant::now() - Duration::from_secs(3600);
        loop {
            let healthy = match self.maintain_once(&mut last_vacuum).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        detail = e.detail().unwrap_or_default(),
                        "maintenance failed; retrying"
                    );
                    false
                }
            };
            delay = if healthy {
                self.settings.maintenance_interval
            } else {
                (delay * 2).min(Duration::from_secs(30))
            };
            tokio::time::sleep(delay).await;
        }
    }

    async fn maintain_once(&self, last_vacuum: &mut std::time::Instant) -> Result<()> {
        let generation = self.store.share_generation().await?;
        let mut written = self.share_file.written_generation().await;
        if written.is_none_or(|w| w < generation) {
            written = Some(
                self.spawn_regenerate()
                    .await
                    .map_err(|e| Error::ShareFile(std::io::Error::other(e)))??,
            );
            tracing::info!(generation, "share.yaml brought up to the store");
        }
        self.delete_due(written.unwrap_or(-1)).await?;
        self.remove_abandoned_entries().await?;
        if last_vacuum.elapsed() >= self.settings.maintenance_interval * 15 {
            *last_vacuum = std::time::Instant::now();
            let before = now_ms() - self.settings.retention.as_millis() as i64;
            for id in self.store.datasets_to_vacuum(before).await? {
                self.vacuum(&id).await?;
            }
        }
        Ok(())
    }

    /// Removes log entries that commits left when they failed after writing them and never came back
    /// (a crash, a lost connection), once their lease is long over: the store never committed them.
    async fn remove_abandoned_entries(&self) -> Result<()> {
        for (upload_id, dataset_id, at) in self.store.unfinished_commits().await? {
            if Attempt(at).age() < 2 * self.settings.commit_lease {
                continue;
            }
            let next = match self.store.dataset_version(&dataset_id).await? {
                Some(version) => version + 1,
                None => 0,
            };
            let key = delta_log::entry_key(&table_key(&dataset_id), next);
            if let Some(found) = self.storage.get(&key).await?
                && delta_log::upload_of(&found).as_deref() == Some(upload_id.as_str())
            {
                tracing::warn!(
                    key,
                    upload = upload_id,
                    "removing a log entry a failed commit left"
                );
                self.storage.delete_object(&key, None).await?;
            }
            self.store.end_attempt(&upload_id, at).await?;
        }
        Ok(())
    }

    /// Deletes the storage of deleted datasets whose removal `share.yaml` (at `written`) already shows.
    async fn delete_due(&self, written: i64) -> Result<()> {
        for deletion in self.store.deletions().await? {
            if deletion.after_generation > written {
                continue;
            }
            self.storage.delete_prefix(&deletion.prefix).await?;
            if let Some((key, id)) = &deletion.multipart {
                self.storage.delete_object(key, Some(id)).await?;
            }
            self.store.finish_deletion(&deletion.id).await?;
            tracing::info!(prefix = deletion.prefix, "deleted");
        }
        Ok(())
    }

    /// Deletes the files overwrites removed from one dataset that no share reaches and whose retention
    /// is over; returns how many.
    pub async fn vacuum(&self, dataset_id: &str) -> Result<usize> {
        let plan = self.store.vacuum_plan(dataset_id).await?;
        let before = now_ms() - self.settings.retention.as_millis() as i64;
        let table = table_key(dataset_id);
        let doomed: Vec<RemovedFile> = plan
            .removed
            .into_iter()
            .filter(|f| f.removed_at <= before)
            // A share starting at or after the version that removed a file never reaches it.
            .filter(|f| {
                plan.shared_from
                    .is_none_or(|start| start >= f.removed_version)
            })
            .filter(|f| !plan.current.contains(&f.path))
            .collect();
        for file in &doomed {
            self.storage
                .delete_object(&format!("{table}/{}", file.path), None)
                .await?;
        }
        self.store.vacuumed(dataset_id, &doomed).await?;
        if !doomed.is_empty() {
            tracing::info!(dataset = dataset_id, files = doomed.len(), "vacuumed");
        }
        Ok(doomed.len())
    }

    /// Vacuums a dataset in the background (after an overwrite or an unshare); failures are logged and
    /// the next maintenance pass tries again.
    fn spawn_vacuum(&self, dataset_id: &str) {
        let this = self.clone();
        let id = dataset_id.to_string();
        tokio::spawn(async move {
            if let Err(e) = this.vacuum(&id).await {
                tracing::warn!(dataset = id, error = %e, detail = e.detail().unwrap_or_default(), "vacuum failed");
            }
        });
    }

    /// Whether `share.yaml` is as new as the store, and what is left to delete: for `/healthz`.
    pub async fn health(&self) -> Health {
        let store = self.store.share_generation().await.ok();
        let file = self.share_file.written_generation().await;
        let pending_deletions = self.store.pending_deletions().await.ok();
        let lagging = match (store, file) {
            (Some(s), Some(f)) => f < s,
            _ => true,
        };
        Health {
            ok: !lagging && pending_deletions.is_some(),
            store_generation: store,
            file_generation: file,
            share_file_lagging: lagging,
            pending_deletions,
        }
    }

    /// Upload URLs for the files of a new version of the caller's dataset (by name, created on commit
    /// if new, or by id), or fresh URLs for an unprocessed upload.
    pub async fn presign(&self, owner: &str, request: PresignRequest) -> Result<PresignResponse> {
        let expires_at = now_ms() + self.settings.upload_expiry.as_millis() as i64;
        if let Some(upload_id) = &request.upload_id {
            let upload = self.owned_upload(owner, upload_id).await?;
            if let Some(version) = upload.committed_version {
                return Err(Error::Conflict(format!(
                    "upload {upload_id} was already processed as version {version}"
                )));
            }
            self.store.extend_upload(upload_id, expires_at).await?;
            return self.upload_urls(&upload, expires_at, true).await;
        }
        validate_files(&request.files)?;
        let (dataset_id, dataset_name) = match (&request.dataset_id, &request.name) {
            (Some(id), _) => {
                let dataset = self
                    .store
                    .dataset(owner, id)
                    .await?
                    .ok_or_else(|| not_found(id))?;
                (dataset.id, dataset.name)
            }
            (None, Some(name)) => {
                let name = validate_name(name)?;
                match self.store.dataset_by_name(owner, &name).await? {
                    Some(dataset) => (dataset.id, dataset.name),
                    None => (ids::dataset_id(), name),
                }
            }
            (None, None) => {
                return Err(Error::Invalid(
                    "give the dataset's name (or datasetId) and its files".into(),
                ));
            }
        };
        let upload_id = ids::upload_id();
        let mut files = Vec::with_capacity(request.files.len());
        for (index, spec) in request.files.iter().enumerate() {
            let key = format!(
                "{}/part-{index:05}-{upload_id}.parquet",
                table_key(&dataset_id)
            );
            let multipart = spec.size > self.settings.multipart_threshold;
            let multipart_id = match (&self.storage, multipart) {
                (_, false) => None,
                (Storage::Local { .. }, true) => Some(format!("{upload_id}-{index}")),
                (Storage::S3 { .. }, true) => Some(self.storage.start_multipart(&key).await?),
            };
            files.push(UploadFile {
                index: index as i64,
                name: spec.name.clone(),
                key,
                size: spec.size,
                sha256: spec.sha256.to_ascii_lowercase(),
                part_size: if multipart {
                    self.settings.part_size
                } else {
                    0
                },
                multipart_id,
            });
        }
        let upload = Upload {
            id: upload_id,
            owner: owner.to_string(),
            dataset_id,
            dataset_name,
            created_at: now_ms(),
            expires_at,
            committed_version: None,
            files,
        };
        self.store.insert_upload(&upload).await?;
        self.upload_urls(&upload, expires_at, false).await
    }

    /// The URLs of an upload; when `resuming`, also what storage already holds.
    async fn upload_urls(
        &self,
        upload: &Upload,
        expires_at: i64,
        resuming: bool,
    ) -> Result<PresignResponse> {
        let expires_in = Duration::from_millis((expires_at - now_ms()).max(1000) as u64);
        let mut files = Vec::with_capacity(upload.files.len());
        for file in &upload.files {
            let mut out = FileUpload {
                name: file.name.clone(),
                url: None,
                headers: Vec::new(),
                part_size: None,
                parts: Vec::new(),
                uploaded: false,
                received: Vec::new(),
            };
            if resuming {
                if file.part_size == 0 {
                    out.uploaded = self.storage.size(&file.key).await? == Some(file.size as u64);
                } else if let Some(id) = &file.multipart_id {
                    out.received = self
                        .storage
                        .received_parts(id, &file.key)
                        .await?
                        .into_iter()
                        .map(|(number, etag)| ReceivedPart { number, etag })
                        .collect();
                }
            }
            if file.part_size == 0 {
                let presigned = match &self.storage {
                    Storage::Local { .. } => self.local_url(upload, file, 0, expires_at),
                    Storage::S3 { .. } => {
                        self.storage
                            .presign_put(&file.key, file.size, &file.sha256, expires_in)
                            .await?
                    }
                };
                out.url = Some(presigned.url);
                out.headers = headers(presigned.headers);
            } else {
                out.part_size = Some(file.part_size);
                let count = part_count(file.size, file.part_size);
                for number in 1..=count {
                    let presigned = match &self.storage {
                        Storage::Local { .. } => self.local_url(upload, file, number, expires_at),
                        Storage::S3 { .. } => {
                            let id = file.multipart_id.as_deref().unwrap_or_default();
                            self.storage
                                .presign_part(&file.key, id, number as i32, expires_in)
                                .await?
                        }
                    };
                    out.parts.push(PartUpload {
                        number,
                        url: presigned.url,
                        headers: headers(presigned.headers),
                    });
                }
            }
            files.push(out);
        }
        Ok(PresignResponse {
            upload_id: upload.id.clone(),
            dataset_id: upload.dataset_id.clone(),
            expires_at: rfc3339(expires_at),
            files,
        })
    }

    fn local_url(&self, upload: &Upload, file: &UploadFile, part: i64, expires: i64) -> Presigned {
        let expires = expires / 1000;
        let signature = self
            .settings
            .secret
            .upload_signature(&upload.id, file.index, part, expires);
        Presigned {
            url: format!(
                "{}/upload/{}/{}?part={part}&expires={expires}&signature={signature}",
                self.settings.public_url.trim_end_matches('/'),
                upload.id,
                file.index
            ),
            headers: Vec::new(),
        }
    }

    /// Receives one file (`part` 0) or part (from 1) of a local upload through a signed URL. Returns
    /// the ETag to quote when processing. A request whose declared length (`Content-Length`) differs
    /// from what was presigned is refused before its body is read.
    pub async fn receive<S, E>(
        &self,
        target: &UploadTarget,
        declared: Option<u64>,
        body: S,
    ) -> Result<String>
    where
        S: Stream<Item = std::result::Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let forbidden = || Error::Forbidden("this upload URL is not valid".into());
        if !self.storage.is_local() || !ids::is_id(&target.upload_id, "up") {
            return Err(forbidden());
        }
        let expected = self.settings.secret.upload_signature(
            &target.upload_id,
            target.index,
            target.part,
            target.expires,
        );
        if !secret::same(&expected, &target.signature) {
            return Err(forbidden());
        }
        if target.expires * 1000 < now_ms() {
            return Err(Error::Forbidden(
                "this upload URL has expired; presign the upload again".into(),
            ));
        }
        let upload = self
            .store
            .upload(&target.upload_id)
            .await?
            .ok_or_else(forbidden)?;
        if upload.committed_version.is_some() {
            return Err(Error::Conflict(format!(
                "upload {} was already processed",
                upload.id
            )));
        }
        let file = upload
            .files
            .iter()
            .find(|f| f.index == target.index)
            .ok_or_else(forbidden)?;
        let (key, limit, sha256) = if target.part == 0 {
            if file.part_size != 0 {
                return Err(forbidden());
            }
            (
                file.key.clone(),
                file.size as u64,
                Some(file.sha256.as_str()),
            )
        } else {
            let count = part_count(file.size, file.part_size);
            if file.part_size == 0 || target.part > count {
                return Err(forbidden());
            }
            let start = (target.part - 1) * file.part_size;
            let length = file.part_size.min(file.size - start);
            let id = file.multipart_id.as_deref().unwrap_or_default();
            (
                format!(".uploads/{id}/{}", target.part),
                length as u64,
                None,
            )
        };
        match declared {
            Some(n) if n > limit => {
                return Err(Error::TooLarge(format!(
                    "{}: {n} bytes are more than the {limit} that were presigned",
                    describe_target(&file.name, target.part)
                )));
            }
            Some(n) if n < limit => {
                return Err(Error::Invalid(format!(
                    "{}: {n} bytes, but {limit} were presigned",
                    describe_target(&file.name, target.part)
                )));
            }
            _ => {}
        }
        let (written, digest) = self
            .storage
            .receive(&key, body, limit, sha256)
            .await
            .map_err(|e| match e {
                Error::Invalid(m) => {
                    Error::Invalid(format!("{}: {m}", describe_target(&file.name, target.part)))
                }
                Error::TooLarge(m) => {
                    Error::TooLarge(format!("{}: {m}", describe_target(&file.name, target.part)))
                }
                other => other,
            })?;
        tracing::info!(
            upload = %upload.id,
            file = target.index,
            part = target.part,
            bytes = written,
            "received"
        );
        Ok(format!("\"{digest}\""))
    }

    /// Verifies an upload's objects and commits them as a new version (create, append or overwrite).
    /// Processing an upload again returns the version it was committed as.
    pub async fn process(&self, owner: &str, request: ProcessRequest) -> Result<DatasetDetail> {
        let operation = match request.mode.as_str() {
            "create" => Operation::Create,
            "append" => Operation::Append,
            "overwrite" => Operation::Overwrite,
            other => {
                return Err(Error::Invalid(format!(
                    "mode {other:?} is not one of create, append, overwrite"
                )));
            }
        };
        let upload = self.owned_upload(owner, &request.upload_id).await?;
        if upload.committed_version.is_some() {
            return self.dataset(owner, &upload.dataset_id).await;
        }
        let existing = self.store.dataset(owner, &upload.dataset_id).await?;
        match (&existing, operation) {
            (Some(d), Operation::Create) => {
                return Err(Error::Conflict(format!(
                    "dataset {:?} already exists; append to it or overwrite it",
                    d.name
                )));
            }
            (None, Operation::Append | Operation::Overwrite) => {
                return Err(Error::NotFound(format!(
                    "no dataset {:?} to {}; create it first",
                    upload.dataset_name,
                    operation.name()
                )));
            }
            _ => {}
        }
        let mut columns: Option<Vec<(String, ColumnType)>> = None;
        let mut added = Vec::with_capacity(upload.files.len());
        let mut rows_added = 0i64;
        // Objects are checked a few at a time (reading them back is I/O bound), answered in order.
        let checks: Vec<_> = upload
            .files
            .iter()
            .map(|file| self.verify_file(file, &request))
            .collect();
        let checked: Vec<DataFile> = futures::stream::iter(checks)
            .buffered(4)
            .try_collect()
            .await?;
        for (file, described) in upload.files.iter().zip(checked) {
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
                    if operation == Operation::Append {
                        "overwrite needs the same columns too; create a new dataset for other columns"
                    } else {
                        "create a new dataset for other columns"
                    }
                )));
            }
        }
        let table = table_key(&upload.dataset_id);
        let now = now_ms();
        let removed = if operation == Operation::Overwrite {
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
            Some(d) if operation == Operation::Overwrite => (
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
        match self.store.begin_commit(&upload.id, attempt.0).await {
            Ok(()) => {}
            // Processed meanwhile by another request: answer as if this one had done it.
            Err(Error::Conflict(_)) => return self.dataset(owner, &upload.dataset_id).await,
            Err(e) => return Err(e),
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
                operation: operation.name().to_string(),
                rows,
                bytes,
                files_added: added_records.len() as i64,
                rows_added,
                committed_at: now,
            },
            added: added_records,
            replace_files: operation == Operation::Overwrite,
            upload_id: upload.id.clone(),
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
                if operation == Operation::Overwrite {
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
    async fn verify_file(&self, file: &UploadFile, request: &ProcessRequest) -> Result<DataFile> {
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
        if !self.storage.has_sha256(&file.key, &file.sha256).await? {
            return Err(Error::Invalid(format!(
                "file {:?} does not have the SHA-256 that was presigned",
                file.name
            )));
        }
        let mut length = 64 * 1024;
        loop {
            let tail = self.storage.tail(&file.key, size, length).await?;
            match delta_bridge_ingest::read_footer(&tail) {
                Ok(described) => return Ok(described),
                Err(FooterError::NeedTail(n)) if (n as u64) <= size && n as u64 > length => {
                    length = n as u64
                }
                Err(e) => {
                    return Err(Error::Invalid(format!("file {:?}: {e}", file.name)));
                }
            }
        }
    }

    async fn owned_upload(&self, owner: &str, upload_id: &str) -> Result<Upload> {
        match self.store.upload(upload_id).await? {
            Some(upload) if upload.owner == owner => Ok(upload),
            _ => Err(Error::NotFound(format!("no upload {upload_id:?}"))),
        }
    }

    /// A page of the caller's datasets, newest first.
    pub async fn datasets(
        &self,
        owner: &str,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<DatasetPage> {
        let limit = limit.unwrap_or(100);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(Error::Invalid(format!("limit must be 1 to {MAX_PAGE}")));
        }
        let after = cursor.map(parse_cursor).transpose()?;
        let mut rows = self.store.datasets(owner, after, limit + 1).await?;
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|d| format!("{}.{}", d.created_at, d.id))
        } else {
            None
        };
        Ok(DatasetPage {
            datasets: rows.iter().map(info).collect(),
            next_cursor,
        })
    }

    /// One of the caller's datasets with its versions.
    pub async fn dataset(&self, owner: &str, id: &str) -> Result<DatasetDetail> {
        let dataset = self
            .store
            .dataset(owner, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let versions = self
            .store
            .versions(id)
            .await?
            .into_iter()
            .map(|v| VersionInfo {
                version: v.version,
                operation: v.operation,
                rows: v.rows,
                bytes: v.bytes,
                files_added: v.files_added,
                rows_added: v.rows_added,
                committed_at: rfc3339(v.committed_at),
            })
            .collect();
        Ok(DatasetDetail {
            dataset: info(&dataset),
            versions,
        })
    }

    /// Deletes one of the caller's datasets: forgotten, with the deletion of its storage recorded in the
    /// same transaction (an outbox); then `share.yaml` stops serving it and its storage is deleted. If
    /// either fails, [`Datasets::maintain`] finishes it by itself.
    pub async fn delete(&self, owner: &str, id: &str) -> Result<Removal> {
        if !ids::is_id(id, "ds") {
            return Err(not_found(id));
        }
        self.store
            .delete_dataset(owner, id, &table_key(id))
            .await?
            .ok_or_else(|| not_found(id))?;
        let generation = self.store.share_generation().await?;
        let revoked = self.land(generation).await;
        let mut deleted = false;
        if revoked {
            let this = self.clone();
            let task = tokio::spawn(async move { this.delete_due(generation).await });
            deleted = match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(Ok(Ok(()))) => true,
                Ok(Ok(Err(e))) => {
                    tracing::warn!(dataset = id, error = %e, detail = e.detail().unwrap_or_default(), "storage deletion failed; retrying in the background");
                    false
                }
                _ => false,
            };
        }
        Ok(Removal {
            revocation: if revoked {
                Revocation::InForce
            } else {
                Revocation::Pending
            },
            storage_deleted: deleted,
        })
    }

    /// Abandons one of the caller's unprocessed uploads (the user cancelled it): forgets it, so that
    /// its URLs and a later `process` are refused, then deletes what storage already received.
    pub async fn abort(&self, owner: &str, upload_id: &str) -> Result<()> {
        let upload = self
            .store
            .delete_upload(owner, upload_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no upload {upload_id:?}")))?;
        for file in &upload.files {
            self.storage
                .delete_object(&file.key, file.multipart_id.as_deref())
                .await?;
        }
        // A commit of it that failed after writing its log entry left that entry: remove it too.
        let next = match self.store.dataset(owner, &upload.dataset_id).await? {
            Some(d) => d.version + 1,
            None => 0,
        };
        let key = delta_log::entry_key(&table_key(&upload.dataset_id), next);
        if let Some(found) = self.storage.get(&key).await?
            && delta_log::upload_of(&found).as_deref() == Some(upload_id)
        {
            self.storage.delete_object(&key, None).await?;
        }
        tracing::info!(
            upload = upload_id,
            files = upload.files.len(),
            "aborted upload"
        );
        Ok(())
    }

    /// Shares one of the caller's datasets (again: the same token) and returns its snippet. Recipients
    /// reach the version current now and later ones; with `history`, the versions before it too.
    pub async fn share(&self, owner: &str, request: &ShareRequest) -> Result<ShareResponse> {
        let id = request.dataset_id.as_str();
        let salt = ids::random_hex(32);
        let token = self.settings.secret.recipient_token(id, &salt);
        let share = self
            .store
            .share(
                owner,
                id,
                &salt,
                &delta_bridge_shares::hash_token(&token),
                request.with_history,
            )
            .await?
            .ok_or_else(|| not_found(id))?;
        self.regenerate().await?;
        if !share.history {
            self.spawn_vacuum(id);
        }
        Ok(self.share_response(&share))
    }

    /// Stops sharing one of the caller's datasets. Answers once the `share.yaml` that revokes its token
    /// is written (the sharing server reloads it within a second), or says the revocation is pending:
    /// it then lands by itself once the fault clears. Asking again is safe and says where it stands.
    pub async fn unshare(&self, owner: &str, id: &str) -> Result<UnshareResponse> {
        self.store
            .dataset(owner, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let (was_shared, generation) = self.store.unshare(owner, id).await?;
        let revocation = if self.land(generation).await {
            Revocation::InForce
        } else {
            Revocation::Pending
        };
        if was_shared {
            self.spawn_vacuum(id);
        }
        Ok(UnshareResponse {
            dataset_id: id.to_string(),
            shared: false,
            was_shared,
            revocation,
        })
    }

    /// The snippet of one of the caller's shared datasets.
    pub async fn snippet(&self, owner: &str, id: &str) -> Result<ShareResponse> {
        match self.store.share_of(owner, id).await? {
            Some(share) => Ok(self.share_response(&share)),
            None => {
                self.store
                    .dataset(owner, id)
                    .await?
                    .ok_or_else(|| not_found(id))?;
                Err(Error::Conflict(format!(
                    "dataset {id:?} is not shared; share it first"
                )))
            }
        }
    }

    fn share_response(&self, share: &store::ShareRecord) -> ShareResponse {
        let token = self
            .settings
            .secret
            .recipient_token(&share.dataset_id, &share.salt);
        ShareResponse {
            shared: true,
            start_version: share.start_version,
            history: share.history,
            snippet: snippet(
                &share.dataset_id,
                &share.dataset_name,
                &self.settings.sharing_url,
                &token,
            ),
        }
    }
}

/// One attempt to commit an upload: when it started (ms since the epoch, times 1000, plus a random
/// number below 1000, so two attempts in the same millisecond differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attempt(i64);

impl Attempt {
    fn start() -> Attempt {
        let mut noise = [0u8; 2];
        getrandom::fill(&mut noise).expect("the operating system's random source works");
        Attempt(now_ms() * 1000 + i64::from(u16::from_le_bytes(noise) % 1000))
    }

    fn age(self) -> Duration {
        Duration::from_millis((now_ms() - self.0 / 1000).max(0) as u64)
    }
}

/// What `/healthz` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Nothing lags and the store answers.
    pub ok: bool,
    /// The store's share generation (`None` if the store did not answer).
    pub store_generation: Option<i64>,
    /// The generation `share.yaml` is stamped with (`None` if missing or unreadable).
    pub file_generation: Option<i64>,
    /// Whether `share.yaml` is behind the store (a revocation not yet in force).
    pub share_file_lagging: bool,
    /// Storage deletions not done yet (`None` if the store did not answer).
    pub pending_deletions: Option<i64>,
}

/// Where a local upload URL points, as its route received it.
#[derive(Debug, Clone)]
pub struct UploadTarget {
    /// Upload id.
    pub upload_id: String,
    /// File index.
    pub index: i64,
    /// 0 for a whole file, else the part number.
    pub part: i64,
    /// Expiry (epoch seconds).
    pub expires: i64,
    /// Signature (hex).
    pub signature: String,
}

fn describe_target(name: &str, part: i64) -> String {
    if part == 0 {
        format!("file {name:?}")
    } else {
        format!("part {part} of file {name:?}")
    }
}

fn part_count(size: i64, part_size: i64) -> i64 {
    (size + part_size - 1) / part_size
}

fn headers(pairs: Vec<(String, String)>) -> Vec<Header> {
    pairs
        .into_iter()
        .map(|(name, value)| Header { name, value })
        .collect()
}

fn relative(key: &str, table: &str) -> String {
    key.strip_prefix(table)
        .map(|k| k.trim_start_matches('/'))
        .unwrap_or(key)
        .to_string()
}

fn describe(columns: &[(String, String)]) -> String {
    columns
        .iter()
        .map(|(n, t)| format!("{n} {t}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_schema(json: &str) -> Vec<ColumnInfo> {
    serde_json::from_str(json).unwrap_or_default()
}

fn info(d: &Dataset) -> DatasetInfo {
    DatasetInfo {
        id: d.id.clone(),
        name: d.name.clone(),
        version: d.version,
        rows: d.rows,
        bytes: d.bytes,
        schema: parse_schema(&d.schema_json),
        shared: d.shared,
        created_at: rfc3339(d.created_at),
        updated_at: rfc3339(d.updated_at),
    }
}

fn parse_cursor(cursor: &str) -> Result<(i64, String)> {
    let invalid = || Error::Invalid("cursor is not one this server returned".into());
    let (time, id) = cursor.split_once('.').ok_or_else(invalid)?;
    let time = time.parse().map_err(|_| invalid())?;
    if !ids::is_id(id, "ds") {
        return Err(invalid());
    }
    Ok((time, id.to_string()))
}

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::Invalid("the dataset name is empty".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::Invalid(format!(
            "the dataset name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "the dataset name contains control characters".into(),
        ));
    }
    Ok(name.to_string())
}

fn validate_files(files: &[FileSpec]) -> Result<()> {
    if files.is_empty() {
        return Err(Error::Invalid("files: give at least one file".into()));
    }
    if files.len() > MAX_FILES {
        return Err(Error::Invalid(format!(
            "files: at most {MAX_FILES} files per upload"
        )));
    }
    let mut names = std::collections::HashSet::new();
    for (i, file) in files.iter().enumerate() {
        let at = format!("files[{i}]");
        if file.name.is_empty() || file.name.len() > 1024 {
            return Err(Error::Invalid(format!("{at}.name must be 1 to 1024 bytes")));
        }
        if !names.insert(file.name.as_str()) {
            return Err(Error::Invalid(format!(
                "{at}.name {:?} appears more than once",
                file.name
            )));
        }
        if !(1..=MAX_FILE_SIZE).contains(&file.size) {
            return Err(Error::Invalid(format!(
                "{at}.size must be 1 to {MAX_FILE_SIZE} bytes"
            )));
        }
        if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Invalid(format!("{at}.sha256 must be 64 hex digits")));
        }
    }
    Ok(())
}
