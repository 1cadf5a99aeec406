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

mod activity;
mod delta_log;
mod error;
mod ids;
mod process;
mod recipients;
mod secret;
mod share_file;
mod snippet;
mod storage;
mod store;
mod upload;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

pub use activity::{ACTIVITY_RETENTION, ActivityQuery, MAX_READS, describe as describe_access_log};
pub use delta_bridge_access as access;
pub use delta_bridge_api as api;
pub use delta_bridge_api::Snippet;
pub use error::{Error, Result};
pub use process::MAX_FOOTER;
pub use recipients::{ACTIVATION_EXPIRY, Activation, ActivationPage, MAX_OVERLAP, Profile};
pub use secret::{Secret, Secrets};
pub use share_file::{SCHEMA, ShareFile, ShareTarget, stamp, table_key, table_name};
pub use snippet::snippet;
pub use storage::{Presigned, Storage};
pub use store::{Dataset, Store};
pub use upload::{MAX_PARTS, PAGE_URLS, Swept};

use api::*;
use store::RemovedFile;

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
    pub share_file: ShareTarget,
    /// Sign upload URLs and derive recipient tokens (the current one; those it replaced keep verifying).
    pub secrets: Secrets,
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
    /// What one upload and one user may take.
    pub limits: Limits,
    /// Where the sharing servers ship the access log (none: no reads are collected).
    pub access_log: Option<delta_bridge_access::Destination>,
    /// How long reads stay in the activity (older ones are deleted with each vacuum pass).
    pub activity_retention: Duration,
    /// How long an unused activation link works ([`ACTIVATION_EXPIRY`] by default).
    pub activation_expiry: Duration,
}

/// What one upload and one user may take (defaults a laptop demo never reaches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most files in one upload (at most [`MAX_FILES`]).
    pub files_per_upload: usize,
    /// Most bytes in one upload.
    pub bytes_per_upload: i64,
    /// Most datasets one user keeps.
    pub datasets_per_user: i64,
    /// Most bytes one user keeps: their datasets' current versions and their unprocessed uploads.
    pub bytes_per_user: i64,
    /// Most upload URLs in one `/presign` answer (at most [`PAGE_URLS`]); the rest come in pages.
    pub urls_per_answer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            files_per_upload: MAX_FILES,
            bytes_per_upload: 1 << 40,
            datasets_per_user: 1_000,
            bytes_per_user: 1 << 40,
            urls_per_answer: PAGE_URLS,
        }
    }
}

/// The service (cheap to clone: background tasks hold their own).
#[derive(Debug, Clone)]
pub struct Datasets {
    store: Store,
    storage: Storage,
    share_file: Arc<ShareFile>,
    settings: Settings,
    processing: process::Processing,
}

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(crate) fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn not_found(id: &str) -> Error {
    Error::NotFound(format!("no dataset {id:?}"))
}

impl Datasets {
    /// The service over a store and storage; brings `share.yaml` up to the store once (if that fails,
    /// [`Datasets::maintain`] keeps trying, and `/healthz` says the file lags).
    pub async fn new(store: Store, storage: Storage, settings: Settings) -> Result<Datasets> {
        // The store knows the secrets replicas share: another one is refused before anything is served.
        let fingerprints: Vec<String> = settings.secrets.all().map(Secret::fingerprint).collect();
        store.adopt_secrets(&fingerprints).await?;
        let share_file = Arc::new(ShareFile::new(settings.share_file.clone()));
        let datasets = Datasets {
            store,
            storage,
            share_file,
            settings,
            processing: process::Processing::default(),
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
    pub(crate) async fn land(&self, generation: i64) -> bool {
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
        self.sweep().await?;
        let collected = self.collect_reads().await?;
        if collected > 0 {
            tracing::debug!(collected, "reads collected from the access log");
        }
        if last_vacuum.elapsed() >= self.settings.maintenance_interval * 15 {
            *last_vacuum = std::time::Instant::now();
            let before = now_ms() - self.settings.retention.as_millis() as i64;
            for id in self.store.datasets_to_vacuum(before).await? {
                self.vacuum(&id).await?;
            }
            let forgotten = self
                .store
                .forget_reads(now_ms() - self.settings.activity_retention.as_millis() as i64)
                .await?;
            if forgotten > 0 {
                tracing::info!(forgotten, "reads past the activity retention deleted");
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
            if let Some((key, id)) = &deletion.object {
                self.storage.delete_object(key, id.as_deref()).await?;
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

    /// How the service was configured.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether the metadata store answers: for `/readyz`, which a load balancer asks every few seconds
    /// (so it reads nothing else: [`Datasets::health`] also reads `share.yaml`, an S3 GET when it is an object).
    pub async fn ready(&self) -> bool {
        self.store.share_generation().await.is_ok()
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
        if !DatasetId::is_valid(id) {
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

    /// Shares one of the caller's datasets (again: the same token) and returns its snippet. Recipients
    /// reach the version current now and later ones; with `history`, the versions before it too.
    pub async fn share(&self, owner: &str, request: &ShareRequest) -> Result<ShareResponse> {
        let id = request.dataset_id.as_str();
        let salt = ids::random_hex(32);
        let secret = self.settings.secrets.current();
        let token = secret.recipient_token(id, &salt);
        let share = self
            .store
            .share(
                owner,
                id,
                store::NewShare {
                    salt: &salt,
                    token_hash: &delta_bridge_shares::hash_token(&token),
                    secret_fingerprint: &secret.fingerprint(),
                },
                request.with_history,
            )
            .await?
            .ok_or_else(|| not_found(id))?;
        self.regenerate().await?;
        if !share.history {
            self.spawn_vacuum(id);
        }
        self.share_response(&share)
    }

    /// Stops sharing one of the caller's datasets with the named recipients (`link`: its snippet's
    /// token), or with everyone when none is named. Answers once the `share.yaml` that revokes their
    /// credentials is written (the sharing server reloads it within a second), or says the revocation is
    /// pending: it then lands by itself once the fault clears. Asking again is safe and says where it
    /// stands.
    pub async fn unshare(
        &self,
        owner: &str,
        id: &str,
        recipients: &[RecipientName],
    ) -> Result<UnshareResponse> {
        self.store
            .dataset(owner, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        for name in recipients.iter().filter(|n| !n.is_link()) {
            self.store
                .recipient(owner, name.as_str())
                .await?
                .ok_or_else(|| Error::NotFound(format!("no recipient {:?}", name.as_str())))?;
        }
        let started = std::time::Instant::now();
        let everyone = recipients.is_empty();
        let mut was_shared = false;
        if everyone || recipients.iter().any(RecipientName::is_link) {
            was_shared |= self.store.unshare(owner, id).await?.0;
        }
        let named: Vec<String> = recipients
            .iter()
            .filter(|n| !n.is_link())
            .map(|n| n.to_string())
            .collect();
        if everyone || !named.is_empty() {
            let names = (!everyone).then_some(named.as_slice());
            was_shared |= self.store.ungrant(owner, id, names).await?.0 > 0;
        }
        let generation = self.store.share_generation().await?;
        let revocation = self.revoked(generation, started).await;
        if was_shared {
            self.spawn_vacuum(id);
        }
        Ok(UnshareResponse {
            dataset_id: id.to_string(),
            shared: !everyone && self.store.shared_with_anyone(id).await?,
            was_shared,
            revocation,
        })
    }

    /// The snippet of one of the caller's shared datasets.
    pub async fn snippet(&self, owner: &str, id: &str) -> Result<ShareResponse> {
        match self.store.share_of(owner, id).await? {
            Some(share) => self.share_response(&share),
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

    fn share_response(&self, share: &store::ShareRecord) -> Result<ShareResponse> {
        // The token is derived with the secret the share was made with (a rotation keeps it).
        let secret = self
            .settings
            .secrets
            .find(&share.secret_fingerprint)
            .ok_or_else(|| Error::SecretUnknown(share.secret_fingerprint.clone()))?;
        let token = secret.recipient_token(&share.dataset_id, &share.salt);
        Ok(ShareResponse {
            shared: true,
            recipient: RecipientName::link(),
            start_version: share.start_version,
            history: share.history,
            snippet: snippet(
                &share.dataset_id,
                &share.dataset_name,
                &self.settings.sharing_url,
                &token,
            ),
        })
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
    if !DatasetId::is_valid(id) {
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
