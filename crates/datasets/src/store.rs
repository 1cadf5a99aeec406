//! The metadata store: datasets, versions, uploads and shares, in SQLite by default and in Postgres by
//! configuration (`sqlx::Any`, portable SQL with `$n` parameters, migrations in `migrations/`).
//!
//! Every query names the owner, so a user can only ever reach their own rows. A commit is one
//! transaction that starts with a write (so SQLite takes its write lock first and concurrent writers
//! wait instead of failing), and an append or overwrite moves the version forward only from the version
//! it read (compare and swap), so two replicas can never commit the same version twice.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, ConnectOptions, Row};

use delta_bridge_api::Mode;

use crate::{Error, Result};

mod recipients;

pub use recipients::{GrantRecord, NewRead, PublishedRecipient, ReadFilter, RecipientRecord};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A committed dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Stable id (`ds` and 20 hex digits).
    pub id: String,
    /// The owner's user id.
    pub owner: String,
    /// The owner's name for it, unique per owner.
    pub name: String,
    /// Current Delta version.
    pub version: i64,
    /// Rows in the current version.
    pub rows: i64,
    /// Bytes of data files in the current version.
    pub bytes: i64,
    /// Columns as JSON (`[{"name","type"}]`).
    pub schema_json: String,
    /// When the first version was committed (ms since the epoch).
    pub created_at: i64,
    /// When the last version was committed.
    pub updated_at: i64,
    /// Whether the dataset is shared.
    pub shared: bool,
}

/// One committed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// Delta version.
    pub version: i64,
    /// How the version was made.
    pub operation: Mode,
    /// Rows in the table after it.
    pub rows: i64,
    /// Bytes in the table after it.
    pub bytes: i64,
    /// Files it added.
    pub files_added: i64,
    /// Rows it added.
    pub rows_added: i64,
    /// When (ms since the epoch).
    pub committed_at: i64,
}

/// A data file of a dataset's current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Path relative to the table root.
    pub path: String,
    /// Bytes.
    pub size: i64,
    /// Rows.
    pub rows: i64,
}

/// What one owner keeps (for quotas).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Datasets.
    pub datasets: i64,
    /// Bytes of their current versions.
    pub stored_bytes: i64,
    /// Bytes their unprocessed uploads will add.
    pub pending_bytes: i64,
}

/// A presigned upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Upload id.
    pub id: String,
    /// Who may process it.
    pub owner: String,
    /// The dataset it creates or changes.
    pub dataset_id: String,
    /// The dataset's name (used when it is created).
    pub dataset_name: String,
    /// When the upload URLs were first made.
    pub created_at: i64,
    /// When its URLs stop working (they can be made again until it is processed).
    pub expires_at: i64,
    /// The version it was committed as, once processed.
    pub committed_version: Option<i64>,
    /// Its files.
    pub files: Vec<UploadFile>,
}

/// One file of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    /// Position in the upload.
    pub index: i64,
    /// The client's name for it, unique in the upload.
    pub name: String,
    /// Object key under the storage root.
    pub key: String,
    /// Exact size in bytes.
    pub size: i64,
    /// SHA-256, 64 lowercase hex digits.
    pub sha256: String,
    /// Bytes per part, or 0 for one PUT.
    pub part_size: i64,
    /// Whether its object was read back once and had the presigned SHA-256.
    pub verified: bool,
    /// The S3 multipart upload id, for multipart files on S3.
    pub multipart_id: Option<String>,
}

/// A shared dataset, as `share.yaml` needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    /// The dataset.
    pub dataset_id: String,
    /// Its name.
    pub dataset_name: String,
    /// `sha256:<hex>` of the recipient token.
    pub token_hash: String,
    /// Salt the token is derived from.
    pub salt: String,
    /// The first version recipients can reach (the version current when it was shared, or the first
    /// one still whole when the owner shared the history).
    pub start_version: i64,
    /// Whether the owner chose to share the history.
    pub history: bool,
    /// The fingerprint of the secret its token is derived with.
    pub secret_fingerprint: String,
}

/// Everything `share.yaml` publishes: the datasets' link shares and every recipient with its grants.
#[derive(Debug, Clone, Default)]
pub struct Published {
    /// Link shares (anyone holding a dataset's snippet), by dataset id.
    pub shares: Vec<ShareRecord>,
    /// Recipients, by id, each with what it was granted.
    pub recipients: Vec<PublishedRecipient>,
}

/// What a new share records.
#[derive(Debug, Clone, Copy)]
pub struct NewShare<'a> {
    /// Salt its token is derived from.
    pub salt: &'a str,
    /// `sha256:<hex>` of its token.
    pub token_hash: &'a str,
    /// The secret its token is derived with.
    pub secret_fingerprint: &'a str,
}

/// A file an overwrite removed, kept until no share and no retention window needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedFile {
    /// Path relative to the table root.
    pub path: String,
    /// The version that removed it (versions before it, from the one that added it, hold it).
    pub removed_version: i64,
    /// When it was removed (ms since the epoch).
    pub removed_at: i64,
}

/// Storage to delete once `share.yaml` no longer serves it (an outbox row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// Row id.
    pub id: String,
    /// Every object under this prefix goes.
    pub prefix: String,
    /// An object to delete, with the multipart upload to abort for it (its id) if any.
    pub object: Option<(String, Option<String>)>,
    /// The share generation `share.yaml` must have reached first.
    pub after_generation: i64,
}

/// What a commit changes.
#[derive(Debug, Clone)]
pub struct CommitPlan {
    /// The dataset after the commit.
    pub dataset: Dataset,
    /// The version it had before (`None` when the commit creates it).
    pub previous_version: Option<i64>,
    /// When this commit's attempt started (its lease on the log entry, see [`Store::begin_commit`]).
    pub attempt: i64,
    /// The version record.
    pub record: VersionRecord,
    /// Files added.
    pub added: Vec<FileRecord>,
    /// Whether the old files are removed (overwrite).
    pub replace_files: bool,
    /// The upload being processed.
    pub upload_id: String,
    /// Its files left out of the version (made obsolete by a conversion that started over): their
    /// objects are deleted once the commit is recorded.
    pub discarded: Vec<UploadFile>,
}

/// The metadata store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    sqlite: bool,
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if sqlite {
                        // Connection settings, not queries: readers never wait for the writer, and a
                        // writer waits up to 30 s for another instead of failing at once.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *connection)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 30000")
                            .execute(&mut *connection)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| Error::Database(e.into()))?;
        Ok(Store { pool, sqlite })
    }

    /// Begins a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so a second writer waits out the busy timeout; a deferred transaction that read
    /// first and then wrote would instead fail at once with "database is locked" whenever another
    /// writer had committed in between, and that reached users as a 500.
    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(if self.sqlite {
            self.pool.begin_with("BEGIN IMMEDIATE").await?
        } else {
            self.pool.begin().await?
        })
    }

    /// The owner's dataset with this id.
    pub async fn dataset(&self, owner: &str, id: &str) -> Result<Option<Dataset>> {
        let row = sqlx::query(&format!(
            "{DATASET_SELECT} WHERE d.owner = $1 AND d.id = $2"
        ))
        .bind(owner)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| dataset(&r)).transpose()
    }

    /// The owner's dataset with this name.
    pub async fn dataset_by_name(&self, owner: &str, name: &str) -> Result<Option<Dataset>> {
        let row = sqlx::query(&format!(
            "{DATASET_SELECT} WHERE d.owner = $1 AND d.name = $2"
        ))
        .bind(owner)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| dataset(&r)).transpose()
    }

    /// The owner's datasets, newest first, after `(created_at, id)` of the previous page's last one.
    pub async fn datasets(
        &self,
        owner: &str,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<Dataset>> {
        let rows = match after {
            None => {
                sqlx::query(&format!(
                    "{DATASET_SELECT} WHERE d.owner = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2"
                ))
                .bind(owner)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            Some((created_at, id)) => {
                sqlx::query(&format!(
                    "{DATASET_SELECT} WHERE d.owner = $1 AND (d.created_at < $2 OR (d.created_at = $2 AND d.id < $3)) \
                     ORDER BY d.created_at DESC, d.id DESC LIMIT $4"
                ))
                .bind(owner)
                .bind(created_at)
                .bind(id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(dataset).collect()
    }

    /// A dataset's versions, oldest first.
    pub async fn versions(&self, dataset_id: &str) -> Result<Vec<VersionRecord>> {
        let rows = sqlx::query(
            "SELECT version, operation, rows_count, bytes, files_added, rows_added, committed_at \
             FROM versions WHERE dataset_id = $1 ORDER BY version",
        )
        .bind(dataset_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(VersionRecord {
                    version: r.try_get("version")?,
                    operation: r
                        .try_get::<String, _>("operation")?
                        .parse::<Mode>()
                        .map_err(|e| Error::Database(sqlx::Error::Decode(Box::new(e))))?,
                    rows: r.try_get("rows_count")?,
                    bytes: r.try_get("bytes")?,
                    files_added: r.try_get("files_added")?,
                    rows_added: r.try_get("rows_added")?,
                    committed_at: r.try_get("committed_at")?,
                })
            })
            .collect()
    }

    /// The data files of a dataset's current version.
    pub async fn files(&self, dataset_id: &str) -> Result<Vec<FileRecord>> {
        let rows = sqlx::query(
            "SELECT path, size, rows_count FROM files WHERE dataset_id = $1 ORDER BY path",
        )
        .bind(dataset_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FileRecord {
                    path: r.try_get("path")?,
                    size: r.try_get("size")?,
                    rows: r.try_get("rows_count")?,
                })
            })
            .collect()
    }

    /// Records a new upload and its files.
    pub async fn insert_upload(&self, upload: &Upload) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO uploads (id, owner, dataset_id, dataset_name, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&upload.id)
        .bind(&upload.owner)
        .bind(&upload.dataset_id)
        .bind(&upload.dataset_name)
        .bind(upload.created_at)
        .bind(upload.expires_at)
        .execute(&mut *tx)
        .await?;
        insert_upload_files(&mut tx, &upload.id, &upload.files).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds files to an upload that is neither processed nor being processed; `files` must continue its
    /// numbering (another request that added files meanwhile makes this one a conflict to retry).
    pub async fn add_upload_files(&self, upload_id: &str, files: &[UploadFile]) -> Result<()> {
        let mut tx = self.write().await?;
        // Written, not only read: on Postgres this locks the row, so adds and a commit's start take
        // turns (see `begin_commit`) and two adds never both count the same files.
        let open = sqlx::query(
            "UPDATE uploads SET committing_at = committing_at \
             WHERE id = $1 AND committed_version IS NULL AND committing_at IS NULL",
        )
        .bind(upload_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if open != 1 {
            return Err(Error::Conflict(format!(
                "upload {upload_id} is processed or being processed; files can no longer be added"
            )));
        }
        let held: i64 = sqlx::query("SELECT COUNT(*) AS n FROM upload_files WHERE upload_id = $1")
            .bind(upload_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if files.first().is_some_and(|f| f.index != held) {
            return Err(Error::Conflict(format!(
                "files were added to upload {upload_id} meanwhile; ask again"
            )));
        }
        insert_upload_files(&mut tx, upload_id, files).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves an unprocessed upload's expiry (its URLs were made again).
    pub async fn extend_upload(&self, upload_id: &str, expires_at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE uploads SET expires_at = $1 WHERE id = $2 AND committed_version IS NULL",
        )
        .bind(expires_at)
        .bind(upload_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An upload by id, whoever owns it (for signed upload URLs, which carry their own authority).
    pub async fn upload(&self, upload_id: &str) -> Result<Option<Upload>> {
        let Some(row) = sqlx::query(
            "SELECT id, owner, dataset_id, dataset_name, created_at, expires_at, committed_version \
             FROM uploads WHERE id = $1",
        )
        .bind(upload_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let mut connection = self.pool.acquire().await?;
        let files = upload_files(&mut connection, upload_id).await?;
        Ok(Some(Upload {
            id: row.try_get("id")?,
            owner: row.try_get("owner")?,
            dataset_id: row.try_get("dataset_id")?,
            dataset_name: row.try_get("dataset_name")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            committed_version: row.try_get("committed_version")?,
            files,
        }))
    }

    /// Checks a secret file's secrets (fingerprints, the current one first) against those the store
    /// knows. A first start records them; after that the current one must be known (one the rotation
    /// command recorded), else the replica has another secret file and is refused. Shares made before
    /// secrets were recorded are marked as made with the oldest secret recorded.
    pub async fn adopt_secrets(&self, fingerprints: &[String]) -> Result<()> {
        let Some(current) = fingerprints.first() else {
            return Err(Error::SecretMismatch(
                "the secret file holds no secret".into(),
            ));
        };
        let mut tx = self.write().await?;
        sqlx::query("UPDATE share_generation SET generation = generation WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let known: Vec<String> =
            sqlx::query_scalar("SELECT fingerprint FROM secrets ORDER BY added_at, fingerprint")
                .fetch_all(&mut *tx)
                .await?;
        if known.is_empty() {
            // The oldest secret of the file is the one legacy shares were made with.
            for (age, fingerprint) in fingerprints.iter().rev().enumerate() {
                sqlx::query("INSERT INTO secrets (fingerprint, added_at) VALUES ($1, $2)")
                    .bind(fingerprint)
                    .bind(age as i64)
                    .execute(&mut *tx)
                    .await?;
            }
        } else if !known.contains(current) {
            return Err(Error::SecretMismatch(format!(
                "the secret file's current secret (fingerprint {current}) is not one this store was set up with ({}): every replica needs the same --secret-file; to change the secret, run `delta-bridge-backend rotate-secret`",
                known.join(", ")
            )));
        }
        let oldest: String = sqlx::query_scalar(
            "SELECT fingerprint FROM secrets ORDER BY added_at, fingerprint LIMIT 1",
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE shares SET secret_fingerprint = $1 WHERE secret_fingerprint IS NULL")
            .bind(oldest)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a new current secret (the rotation command, before replicas get the new file).
    pub async fn record_secret(&self, fingerprint: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO secrets (fingerprint, added_at) VALUES ($1, $2) ON CONFLICT (fingerprint) DO NOTHING",
        )
        .bind(fingerprint)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What one owner keeps: their datasets, the bytes of their current versions, and the bytes their
    /// unprocessed uploads will add.
    pub async fn usage(&self, owner: &str) -> Result<Usage> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS b \
             FROM datasets WHERE owner = $1",
        )
        .bind(owner)
        .fetch_one(&self.pool)
        .await?;
        let pending: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(f.size), 0) AS BIGINT) FROM upload_files f \
             JOIN uploads u ON u.id = f.upload_id \
             WHERE u.owner = $1 AND u.committed_version IS NULL",
        )
        .bind(owner)
        .fetch_one(&self.pool)
        .await?;
        Ok(Usage {
            datasets: row.try_get("n")?,
            stored_bytes: row.try_get("b")?,
            pending_bytes: pending,
        })
    }

    /// Unprocessed uploads whose URLs expired before `before` (ms) and that no commit attempt since
    /// `attempts_before` (ms) holds, oldest first, at most `limit`: `(owner, id)`.
    pub async fn expired_uploads(
        &self,
        before: i64,
        attempts_before: i64,
        limit: i64,
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT owner, id FROM uploads WHERE committed_version IS NULL \
             AND (committing_at IS NULL OR committing_at < $2) \
             AND expires_at < $1 ORDER BY expires_at LIMIT $3",
        )
        .bind(before)
        .bind(attempts_before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("owner")?, r.try_get("id")?)))
            .collect()
    }

    /// Records that an upload's file was read back and had its presigned SHA-256.
    pub async fn file_verified(&self, upload_id: &str, index: i64) -> Result<()> {
        sqlx::query("UPDATE upload_files SET verified_at = $1 WHERE upload_id = $2 AND idx = $3")
            .bind(now_ms())
            .bind(upload_id)
            .bind(index)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets one of the owner's unprocessed uploads and returns it (to delete what it stored).
    /// `Ok(None)` when there is no such upload of the owner's; `Err(Conflict)` once it is processed.
    pub async fn delete_upload(&self, owner: &str, upload_id: &str) -> Result<Option<Upload>> {
        let Some(upload) = self.upload(upload_id).await? else {
            return Ok(None);
        };
        if upload.owner != owner {
            return Ok(None);
        }
        let mut tx = self.write().await?;
        // Only while unprocessed: a commit claims the row in its own transaction, so exactly one wins.
        let deleted = sqlx::query(
            "DELETE FROM uploads WHERE id = $1 AND owner = $2 AND committed_version IS NULL",
        )
        .bind(upload_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted == 0 {
            return Err(Error::Conflict(format!(
                "upload {upload_id:?} is already processed; delete the dataset version instead"
            )));
        }
        // Read in the transaction that ends it: a file added just before is among them.
        let files = upload_files(&mut tx, upload_id).await?;
        // The caller deletes the objects now; on S3 a URL still valid could PUT one again.
        delete_again_when_expired(&mut tx, upload_id, &files, upload.expires_at, now_ms()).await?;
        sqlx::query("DELETE FROM upload_files WHERE upload_id = $1")
            .bind(upload_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Upload { files, ..upload }))
    }

    /// Starts an attempt to commit an unprocessed upload: records when (`attempt`), which is the lease
    /// under which its log entry may be written. `files` is how many files the caller saw the upload
    /// hold; once the attempt starts no file can be added, so a file added meanwhile (which the caller
    /// neither commits nor discards) fails it with a conflict. Answers false if the upload was
    /// processed already.
    pub async fn begin_commit(&self, upload_id: &str, attempt: i64, files: usize) -> Result<bool> {
        let mut tx = self.write().await?;
        // The row first: on Postgres this locks it, so an add (which writes the row too) waits and
        // then sees the attempt, and the count below sees every add that went before.
        let updated = sqlx::query(
            "UPDATE uploads SET committing_at = $1 WHERE id = $2 AND committed_version IS NULL",
        )
        .bind(attempt)
        .bind(upload_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            drop(tx);
            return match self.upload(upload_id).await? {
                Some(_) => Ok(false),
                None => Err(Error::NotFound(format!("no upload {upload_id:?}"))),
            };
        }
        let held: i64 = sqlx::query("SELECT COUNT(*) AS n FROM upload_files WHERE upload_id = $1")
            .bind(upload_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if held != files as i64 {
            // Rolled back: the attempt is not recorded.
            return Err(Error::Conflict(format!(
                "files were added to upload {upload_id} while it was processed; process it again"
            )));
        }
        tx.commit().await?;
        Ok(true)
    }

    /// When an upload's commit last started, and whether it was committed (`None` if it is gone).
    pub async fn commit_attempt(&self, upload_id: &str) -> Result<Option<(Option<i64>, bool)>> {
        let row = sqlx::query("SELECT committing_at, committed_version FROM uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok((
                r.try_get::<Option<i64>, _>("committing_at")?,
                r.try_get::<Option<i64>, _>("committed_version")?.is_some(),
            ))
        })
        .transpose()
    }

    /// Uploads whose commit started but neither committed nor was given up: `(upload, dataset, attempt)`.
    pub async fn unfinished_commits(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT id, dataset_id, committing_at FROM uploads \
             WHERE committing_at IS NOT NULL AND committed_version IS NULL LIMIT 1000",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("dataset_id")?,
                    r.try_get("committing_at")?,
                ))
            })
            .collect()
    }

    /// Forgets a commit attempt whose entry was dealt with (unless a newer attempt started meanwhile).
    pub async fn end_attempt(&self, upload_id: &str, attempt: i64) -> Result<()> {
        sqlx::query(
            "UPDATE uploads SET committing_at = NULL \
             WHERE id = $1 AND committing_at = $2 AND committed_version IS NULL",
        )
        .bind(upload_id)
        .bind(attempt)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A dataset's current version, whoever owns it (for maintenance).
    pub async fn dataset_version(&self, dataset_id: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT version FROM datasets WHERE id = $1")
            .bind(dataset_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("version")?)).transpose()
    }

    /// Commits a version whose log entry is already written, in one short transaction: the upload is
    /// claimed only under the attempt that wrote the entry (a later attempt, or an upload that was
    /// abandoned, makes this a conflict), and the version moves only from the one read.
    pub async fn commit(&self, plan: &CommitPlan) -> Result<()> {
        let d = &plan.dataset;
        let mut tx = self.write().await?;
        // The upload first: a write that also claims it, so processing it twice commits once.
        let claimed = sqlx::query(
            "UPDATE uploads SET committed_version = $1 \
             WHERE id = $2 AND committed_version IS NULL AND committing_at = $3",
        )
        .bind(d.version)
        .bind(&plan.upload_id)
        .bind(plan.attempt)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Err(Error::Conflict(format!(
                "upload {} was already processed, abandoned, or is being processed by another request",
                plan.upload_id
            )));
        }
        match plan.previous_version {
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO datasets (id, owner, name, version, rows_count, bytes, schema_json, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                )
                .bind(&d.id)
                .bind(&d.owner)
                .bind(&d.name)
                .bind(d.version)
                .bind(d.rows)
                .bind(d.bytes)
                .bind(&d.schema_json)
                .bind(d.created_at)
                .bind(d.updated_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted != 1 {
                    return Err(Error::Conflict(format!(
                        "a dataset named {:?} already exists; append to it or overwrite it",
                        d.name
                    )));
                }
            }
            Some(previous) => {
                let updated = sqlx::query(
                    "UPDATE datasets SET version = $1, rows_count = $2, bytes = $3, schema_json = $4, updated_at = $5 \
                     WHERE id = $6 AND owner = $7 AND version = $8",
                )
                .bind(d.version)
                .bind(d.rows)
                .bind(d.bytes)
                .bind(&d.schema_json)
                .bind(d.updated_at)
                .bind(&d.id)
                .bind(&d.owner)
                .bind(previous)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated != 1 {
                    return Err(Error::Conflict(format!(
                        "dataset {} changed while this upload was processed; process it again",
                        d.id
                    )));
                }
            }
        }
        let r = &plan.record;
        sqlx::query(
            "INSERT INTO versions (dataset_id, version, operation, rows_count, bytes, files_added, rows_added, committed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&d.id)
        .bind(r.version)
        .bind(r.operation.as_str())
        .bind(r.rows)
        .bind(r.bytes)
        .bind(r.files_added)
        .bind(r.rows_added)
        .bind(r.committed_at)
        .execute(&mut *tx)
        .await?;
        if plan.replace_files {
            // Remembered until a vacuum finds that nothing reachable needs them.
            sqlx::query(
                "INSERT INTO removed_files (dataset_id, path, size, added_version, removed_version, removed_at) \
                 SELECT dataset_id, path, size, added_version, $1, $2 FROM files WHERE dataset_id = $3",
            )
            .bind(d.version)
            .bind(d.updated_at)
            .bind(&d.id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM files WHERE dataset_id = $1")
                .bind(&d.id)
                .execute(&mut *tx)
                .await?;
        }
        if !plan.discarded.is_empty() {
            // Never served, so nothing waits for share.yaml: due at the current generation.
            let after = generation(&mut tx).await?;
            for file in &plan.discarded {
                // The object, and the parts a multipart upload of it received (on local disk under
                // `.uploads/<upload>-<index>`; an S3 upload is aborted).
                let parts = format!(".uploads/{}-{}", plan.upload_id, file.index);
                let object = Some((file.key.as_str(), file.multipart_id.as_deref()));
                insert_deletion(&mut tx, &parts, object, after, 0, d.updated_at).await?;
            }
            // Once more when its URLs expired, in case one was PUT again meanwhile.
            let expiry = upload_expiry(&mut tx, &plan.upload_id).await?;
            delete_again_when_expired(
                &mut tx,
                &plan.upload_id,
                &plan.discarded,
                expiry,
                d.updated_at,
            )
            .await?;
        }
        for file in &plan.added {
            sqlx::query(
                "INSERT INTO files (dataset_id, path, size, rows_count, added_version) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&d.id)
            .bind(&file.path)
            .bind(file.size)
            .bind(file.rows)
            .bind(d.version)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the owner's dataset with everything recorded about it, and records in the same
    /// transaction that its storage (and what its unprocessed uploads sent) must go once `share.yaml`
    /// no longer serves it. Returns `None` if there was no such dataset, else whether it was shared.
    pub async fn delete_dataset(
        &self,
        owner: &str,
        id: &str,
        prefix: &str,
    ) -> Result<Option<bool>> {
        let mut tx = self.write().await?;
        let deleted = sqlx::query("DELETE FROM datasets WHERE owner = $1 AND id = $2")
            .bind(owner)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(None);
        }
        let unshared = sqlx::query("DELETE FROM shares WHERE dataset_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let ungranted = sqlx::query("DELETE FROM grants WHERE dataset_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if unshared + ungranted > 0 {
            bump_generation(&mut tx).await?;
        }
        let after = generation(&mut tx).await?;
        let now = now_ms();
        // Multipart uploads of its unprocessed uploads: their parts live outside the dataset's prefix.
        let pending = sqlx::query(
            "SELECT f.object_key, f.multipart_id FROM upload_files f JOIN uploads u ON u.id = f.upload_id \
             WHERE u.dataset_id = $1 AND u.committed_version IS NULL AND f.multipart_id IS NOT NULL",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        for row in &pending {
            let key: String = row.try_get("object_key")?;
            let multipart_id: String = row.try_get("multipart_id")?;
            insert_deletion(
                &mut tx,
                &format!(".uploads/{multipart_id}"),
                Some((&key, Some(&multipart_id))),
                after,
                0,
                now,
            )
            .await?;
        }
        // Its unprocessed uploads' URLs may PUT objects again until they expire: the prefix goes
        // again then.
        let expiry: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(expires_at) FROM uploads WHERE dataset_id = $1 AND committed_version IS NULL",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(expiry) = expiry.filter(|e| *e > now) {
            insert_deletion(&mut tx, prefix, None, after, expiry, now).await?;
        }
        insert_deletion(&mut tx, prefix, None, after, 0, now).await?;
        for statement in [
            "DELETE FROM versions WHERE dataset_id = $1",
            "DELETE FROM files WHERE dataset_id = $1",
            "DELETE FROM removed_files WHERE dataset_id = $1",
            "DELETE FROM upload_files WHERE upload_id IN (SELECT id FROM uploads WHERE dataset_id = $1)",
            "DELETE FROM uploads WHERE dataset_id = $1",
        ] {
            sqlx::query(statement).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Some(unshared + ungranted > 0))
    }

    /// How many storage deletions are due and not done yet.
    pub async fn pending_deletions(&self) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM deletions WHERE not_before <= $1")
                .bind(now_ms())
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }

    /// Storage deletions due (their time come) and not done yet, oldest first.
    pub async fn deletions(&self) -> Result<Vec<Deletion>> {
        let rows = sqlx::query(
            "SELECT id, prefix, multipart_key, multipart_id, after_generation FROM deletions \
             WHERE not_before <= $1 ORDER BY created_at, id LIMIT 1000",
        )
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let key: Option<String> = r.try_get("multipart_key")?;
                let id: Option<String> = r.try_get("multipart_id")?;
                Ok(Deletion {
                    id: r.try_get("id")?,
                    prefix: r.try_get("prefix")?,
                    object: key.map(|key| (key, id)),
                    after_generation: r.try_get("after_generation")?,
                })
            })
            .collect()
    }

    /// A deletion is done.
    pub async fn finish_deletion(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM deletions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Shares the owner's dataset unless it is shared already (then its salt, so its token, stays);
    /// `history` chooses whether recipients reach the versions before the current one. Returns the
    /// share, or `None` if the owner has no such dataset.
    pub async fn share(
        &self,
        owner: &str,
        dataset_id: &str,
        new: NewShare<'_>,
        history: bool,
    ) -> Result<Option<ShareRecord>> {
        // An unshare may commit between this transaction's write and its read (Postgres reads what
        // committed before each statement): then share again rather than answer "no dataset".
        for _ in 0..8 {
            let mut tx = self.write().await?;
            // A write first, so SQLite takes its write lock now rather than failing to upgrade a read.
            sqlx::query("UPDATE share_generation SET generation = generation WHERE id = 1")
                .execute(&mut *tx)
                .await?;
            let Some(row) = sqlx::query(
                "SELECT d.version, d.history_from, s.history, s.start_version FROM datasets d \
                 LEFT JOIN shares s ON s.dataset_id = d.id WHERE d.id = $1 AND d.owner = $2",
            )
            .bind(dataset_id)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?
            else {
                return Ok(None);
            };
            let version: i64 = row.try_get("version")?;
            let history_from: i64 = row.try_get("history_from")?;
            let start = if history { history_from } else { version };
            let shared: Option<i64> = row.try_get("history")?;
            let changed = match shared {
                None => {
                    sqlx::query(
                        "INSERT INTO shares (dataset_id, owner, salt, token_hash, created_at, start_version, history, secret_fingerprint) \
                         SELECT id, owner, $1, $2, $3, $4, $5, $8 FROM datasets WHERE id = $6 AND owner = $7 \
                         ON CONFLICT (dataset_id) DO NOTHING",
                    )
                    .bind(new.salt)
                    .bind(new.token_hash)
                    .bind(now_ms())
                    .bind(start)
                    .bind(history as i64)
                    .bind(dataset_id)
                    .bind(owner)
                    .bind(new.secret_fingerprint)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                }
                // Shared already: the same token; the history choice changes only if asked otherwise.
                Some(was) if (was != 0) != history => {
                    sqlx::query(
                        "UPDATE shares SET history = $1, start_version = $2 WHERE dataset_id = $3 AND owner = $4",
                    )
                    .bind(history as i64)
                    .bind(start)
                    .bind(dataset_id)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                }
                Some(_) => 0,
            };
            if changed > 0 {
                bump_generation(&mut tx).await?;
            }
            let row = sqlx::query(&format!(
                "{SHARE_SELECT} WHERE s.dataset_id = $1 AND s.owner = $2"
            ))
            .bind(dataset_id)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            if let Some(row) = row {
                return share_record(&row).map(Some);
            }
        }
        Err(Error::Conflict(format!(
            "dataset {dataset_id:?} was shared and unshared concurrently; share it again"
        )))
    }

    /// The owner's share of a dataset, if it is shared.
    pub async fn share_of(&self, owner: &str, dataset_id: &str) -> Result<Option<ShareRecord>> {
        let row = sqlx::query(&format!(
            "{SHARE_SELECT} WHERE s.dataset_id = $1 AND s.owner = $2"
        ))
        .bind(dataset_id)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| share_record(&r)).transpose()
    }

    /// Stops sharing the owner's dataset; returns whether it was shared, and the share generation
    /// `share.yaml` must reach for the revocation to be in force.
    pub async fn unshare(&self, owner: &str, dataset_id: &str) -> Result<(bool, i64)> {
        let mut tx = self.write().await?;
        let deleted = sqlx::query("DELETE FROM shares WHERE dataset_id = $1 AND owner = $2")
            .bind(dataset_id)
            .bind(owner)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted > 0 {
            bump_generation(&mut tx).await?;
        }
        let after = generation(&mut tx).await?;
        tx.commit().await?;
        Ok((deleted > 0, after))
    }

    /// Runs `write` with every share and the generation they belong to, as the one writer of
    /// `share.yaml` across every process on this store: the lock row is held (SQLite's write lock, a row
    /// lock on Postgres) until `write` has finished. `write` gets the generation the file holds now and
    /// does nothing when that is not older.
    pub async fn with_share_file_lock<F, Fut>(&self, write: F) -> Result<i64>
    where
        F: FnOnce(i64, Published) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE share_file SET written_generation = written_generation WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let generation = generation(&mut tx).await?;
        let rows = sqlx::query(&format!("{SHARE_SELECT} ORDER BY s.dataset_id"))
            .fetch_all(&mut *tx)
            .await?;
        let shares = rows.iter().map(share_record).collect::<Result<Vec<_>>>()?;
        let recipients = recipients::published(&mut tx).await?;
        write(generation, Published { shares, recipients }).await?;
        sqlx::query("UPDATE share_file SET written_generation = $1 WHERE id = 1")
            .bind(generation)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(generation)
    }

    /// The current share generation.
    pub async fn share_generation(&self) -> Result<i64> {
        let mut connection = self.pool.acquire().await?;
        generation(&mut connection).await
    }

    /// Datasets with removed files older than `before` (ms since the epoch): what a vacuum looks at.
    pub async fn datasets_to_vacuum(&self, before: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT dataset_id FROM removed_files WHERE removed_at <= $1 ORDER BY dataset_id LIMIT 1000",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("dataset_id")?)).collect()
    }

    /// What a vacuum of one dataset needs: its removed files, the first version any share of it
    /// reaches, and the current version's files (which an overwrite may have added again).
    pub async fn vacuum_plan(&self, dataset_id: &str) -> Result<VacuumPlan> {
        let removed = sqlx::query(
            "SELECT path, removed_version, removed_at FROM removed_files WHERE dataset_id = $1",
        )
        .bind(dataset_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(RemovedFile {
                path: r.try_get("path")?,
                removed_version: r.try_get("removed_version")?,
                removed_at: r.try_get("removed_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let shared_from: Option<i64> =
            sqlx::query("SELECT MIN(start_version) AS start FROM (SELECT start_version FROM shares WHERE dataset_id = $1 \
                 UNION ALL SELECT start_version FROM grants WHERE dataset_id = $1) reached")
                .bind(dataset_id)
                .fetch_one(&self.pool)
                .await?
                .try_get("start")?;
        let current = sqlx::query("SELECT path FROM files WHERE dataset_id = $1")
            .bind(dataset_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(r.try_get("path")?))
            .collect::<Result<std::collections::HashSet<String>>>()?;
        Ok(VacuumPlan {
            removed,
            shared_from,
            current,
        })
    }

    /// Forgets removed files a vacuum deleted, and moves the dataset's first whole version past the
    /// versions that needed them.
    pub async fn vacuumed(&self, dataset_id: &str, files: &[RemovedFile]) -> Result<()> {
        let Some(history_from) = files.iter().map(|f| f.removed_version).max() else {
            return Ok(());
        };
        let mut tx = self.write().await?;
        for file in files {
            sqlx::query("DELETE FROM removed_files WHERE dataset_id = $1 AND path = $2")
                .bind(dataset_id)
                .bind(&file.path)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE datasets SET history_from = $1 WHERE id = $2 AND history_from < $1")
            .bind(history_from)
            .bind(dataset_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What a vacuum of one dataset decides from (see [`Store::vacuum_plan`]).
#[derive(Debug, Clone, Default)]
pub struct VacuumPlan {
    /// Files overwrites removed.
    pub removed: Vec<RemovedFile>,
    /// The first version a share reaches, if the dataset is shared.
    pub shared_from: Option<i64>,
    /// Paths (relative to the table root) of the current version's files.
    pub current: std::collections::HashSet<String>,
}

async fn insert_upload_files(
    connection: &mut sqlx::AnyConnection,
    upload_id: &str,
    files: &[UploadFile],
) -> Result<()> {
    for file in files {
        sqlx::query(
            "INSERT INTO upload_files (upload_id, idx, name, object_key, size, sha256, part_size, multipart_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(upload_id)
        .bind(file.index)
        .bind(&file.name)
        .bind(&file.key)
        .bind(file.size)
        .bind(&file.sha256)
        .bind(file.part_size)
        .bind(file.multipart_id.clone())
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

/// An upload's files, in order.
async fn upload_files(
    connection: &mut sqlx::AnyConnection,
    upload_id: &str,
) -> Result<Vec<UploadFile>> {
    sqlx::query(
        "SELECT idx, name, object_key, size, sha256, part_size, multipart_id, verified_at \
         FROM upload_files WHERE upload_id = $1 ORDER BY idx",
    )
    .bind(upload_id)
    .fetch_all(connection)
    .await?
    .iter()
    .map(|r| {
        Ok(UploadFile {
            index: r.try_get("idx")?,
            name: r.try_get("name")?,
            key: r.try_get("object_key")?,
            size: r.try_get("size")?,
            sha256: r.try_get("sha256")?,
            part_size: r.try_get("part_size")?,
            multipart_id: r.try_get("multipart_id")?,
            verified: r.try_get::<Option<i64>, _>("verified_at")?.is_some(),
        })
    })
    .collect()
}

/// Schedules a deletion of `prefix` (and of `object`: a key, and the S3 multipart upload to abort),
/// due once share.yaml reached `after_generation` and the time is `not_before` (0: at once).
async fn insert_deletion(
    connection: &mut sqlx::AnyConnection,
    prefix: &str,
    object: Option<(&str, Option<&str>)>,
    after_generation: i64,
    not_before: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO deletions (id, prefix, multipart_key, multipart_id, after_generation, not_before, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(crate::ids::random_hex(16))
    .bind(prefix)
    .bind(object.map(|(k, _)| k.to_string()))
    .bind(object.and_then(|(_, i)| i.map(str::to_string)))
    .bind(after_generation)
    .bind(not_before)
    .bind(now)
    .execute(connection)
    .await?;
    Ok(())
}

/// Schedules the objects of an upload's `files` to be deleted once more at `expiry`, when the upload's
/// presigned URLs stop working: on S3 one of them could PUT an object again until then. Nothing if
/// they have expired already.
async fn delete_again_when_expired(
    connection: &mut sqlx::AnyConnection,
    upload_id: &str,
    files: &[UploadFile],
    expiry: i64,
    now: i64,
) -> Result<()> {
    if expiry <= now {
        return Ok(());
    }
    let after = generation(connection).await?;
    for file in files {
        let parts = format!(".uploads/{upload_id}-{}", file.index);
        insert_deletion(
            connection,
            &parts,
            Some((&file.key, None)),
            after,
            expiry,
            now,
        )
        .await?;
    }
    Ok(())
}

/// When an upload's presigned URLs stop working (0 if it is gone).
async fn upload_expiry(connection: &mut sqlx::AnyConnection, upload_id: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT expires_at FROM uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_optional(connection)
            .await?
            .unwrap_or(0),
    )
}

const SHARE_SELECT: &str = "SELECT s.dataset_id, d.name, s.token_hash, s.salt, s.start_version, s.history, s.secret_fingerprint \
     FROM shares s JOIN datasets d ON d.id = s.dataset_id";

pub(crate) async fn bump_generation(connection: &mut sqlx::AnyConnection) -> Result<()> {
    sqlx::query("UPDATE share_generation SET generation = generation + 1 WHERE id = 1")
        .execute(connection)
        .await?;
    Ok(())
}

pub(crate) async fn generation(connection: &mut sqlx::AnyConnection) -> Result<i64> {
    Ok(
        sqlx::query("SELECT generation FROM share_generation WHERE id = 1")
            .fetch_one(connection)
            .await?
            .try_get("generation")?,
    )
}

const DATASET_SELECT: &str = "SELECT d.id, d.owner, d.name, d.version, d.rows_count, d.bytes, d.schema_json, \
     d.created_at, d.updated_at, (SELECT COUNT(*) FROM shares s WHERE s.dataset_id = d.id) AS shared \
     FROM datasets d";

fn dataset(row: &AnyRow) -> Result<Dataset> {
    Ok(Dataset {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        rows: row.try_get("rows_count")?,
        bytes: row.try_get("bytes")?,
        schema_json: row.try_get("schema_json")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        shared: row.try_get::<i64, _>("shared")? > 0,
    })
}

fn share_record(row: &AnyRow) -> Result<ShareRecord> {
    Ok(ShareRecord {
        dataset_id: row.try_get("dataset_id")?,
        dataset_name: row.try_get("name")?,
        token_hash: row.try_get("token_hash")?,
        salt: row.try_get("salt")?,
        start_version: row.try_get("start_version")?,
        history: row.try_get::<i64, _>("history")? != 0,
        secret_fingerprint: row
            .try_get::<Option<String>, _>("secret_fingerprint")?
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    async fn store(dir: &Path) -> Store {
        Store::connect(&format!(
            "sqlite://{}?mode=rwc",
            dir.join("store.db").display()
        ))
        .await
        .unwrap()
    }

    fn file(index: i64) -> UploadFile {
        UploadFile {
            index,
            name: format!("file-{index}.parquet"),
            key: format!("tables/d/part-{index:05}.parquet"),
            size: 100,
            sha256: "0".repeat(64),
            part_size: 0,
            verified: false,
            multipart_id: None,
        }
    }

    fn upload(expires_at: i64) -> Upload {
        Upload {
            id: "up1".into(),
            owner: "ana".into(),
            dataset_id: "ds1".into(),
            dataset_name: "d".into(),
            created_at: now_ms(),
            expires_at,
            committed_version: None,
            files: vec![file(0)],
        }
    }

    /// A file added between the moment `/process` read the upload and the start of its commit is
    /// neither committed nor discarded: the start fails (nothing recorded), and once a commit started
    /// no file can be added.
    #[tokio::test]
    async fn a_file_added_while_processing_fails_the_commit_start_and_none_is_added_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        store
            .insert_upload(&upload(now_ms() + 60_000))
            .await
            .unwrap();
        // `/process` read one file; then another request adds one.
        store.add_upload_files("up1", &[file(1)]).await.unwrap();
        let started = store.begin_commit("up1", 42, 1).await;
        assert!(matches!(started, Err(Error::Conflict(_))), "{started:?}");
        assert_eq!(
            store.commit_attempt("up1").await.unwrap(),
            Some((None, false))
        );
        // Processed again, it sees both; after that, adds are refused.
        assert!(store.begin_commit("up1", 43, 2).await.unwrap());
        let added = store.add_upload_files("up1", &[file(2)]).await;
        assert!(matches!(added, Err(Error::Conflict(_))), "{added:?}");
        assert_eq!(store.upload("up1").await.unwrap().unwrap().files.len(), 2);
        // An upload that is gone is not found; one committed meanwhile answers false.
        let gone = store.begin_commit("up2", 44, 1).await;
        assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
    }

    /// Abandoning an upload whose URLs still work schedules its objects' deletion once more for when
    /// they expired (an S3 URL can PUT an object again until then); that deletion is not due before.
    #[tokio::test]
    async fn an_abandoned_upload_is_deleted_again_once_its_urls_expired() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        store
            .insert_upload(&upload(now_ms() + 1_500))
            .await
            .unwrap();
        store.add_upload_files("up1", &[file(1)]).await.unwrap();
        let abandoned = store.delete_upload("ana", "up1").await.unwrap().unwrap();
        assert_eq!(
            abandoned.files.len(),
            2,
            "read in the transaction that ended it"
        );
        assert!(store.deletions().await.unwrap().is_empty());
        assert_eq!(store.pending_deletions().await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(1_600)).await;
        let mut due: Vec<_> = store
            .deletions()
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.prefix, d.object))
            .collect();
        due.sort();
        assert_eq!(
            due,
            [0, 1].map(|i| (
                format!(".uploads/up1-{i}"),
                Some((format!("tables/d/part-{i:05}.parquet"), None))
            ))
        );
    }
}
