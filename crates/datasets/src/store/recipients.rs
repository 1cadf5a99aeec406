//! Recipients, their grants and activation links, and the reads the sharing servers recorded. Every query
//! names the owner; a recipient's credential exists here only as the salt it is derived from and its hash.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Store, bump_generation, generation, now_ms};
use crate::Result;

/// A recipient as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRecord {
    /// `rc` and 20 hex digits: its share's name and its token's name in `share.yaml`.
    pub id: String,
    /// The owner's user id.
    pub owner: String,
    /// The owner's name for it.
    pub name: String,
    /// The email the owner gave.
    pub email: Option<String>,
    /// Salt its credential is derived from.
    pub salt: String,
    /// The secret its credential is derived with.
    pub secret_fingerprint: String,
    /// `sha256:<hex>` of its credential.
    pub token_hash: String,
    /// When the credential stops working (ms since the epoch).
    pub expires_at: Option<i64>,
    /// The hash of the credential a rotation replaced, working until `previous_until`.
    pub previous_token_hash: Option<String>,
    /// Until when the replaced credential works (ms since the epoch).
    pub previous_until: Option<i64>,
    /// When it was created.
    pub created_at: i64,
    /// Its last read on record.
    pub last_read_at: Option<i64>,
}

/// One dataset granted to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// The recipient.
    pub recipient_id: String,
    /// The dataset.
    pub dataset_id: String,
    /// The dataset's name.
    pub dataset_name: String,
    /// The table's name in the recipient's share.
    pub table_name: String,
    /// The first version the recipient reaches.
    pub start_version: i64,
    /// Whether the owner shared the history.
    pub history: bool,
    /// When it was granted.
    pub created_at: i64,
}

/// A recipient with its grants, as `share.yaml` publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedRecipient {
    /// The recipient.
    pub recipient: RecipientRecord,
    /// Its grants, by table name.
    pub grants: Vec<GrantRecord>,
}

/// An activation link, found by the hash of its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationRecord {
    /// The recipient it activates.
    pub recipient: RecipientRecord,
    /// When it stops working unused.
    pub expires_at: i64,
    /// When its profile was downloaded.
    pub used_at: Option<i64>,
}

/// A read to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRead {
    /// The record's id (each is stored once).
    pub id: String,
    /// Whose read it is.
    pub owner: String,
    /// The recipient (none for a dataset's link).
    pub recipient_id: Option<String>,
    /// Its name when the read was stored (`link` for a dataset's link).
    pub recipient_name: String,
    /// The dataset read.
    pub dataset_id: Option<String>,
    /// When (ms since the epoch).
    pub at: i64,
    /// What was asked.
    pub operation: String,
    /// The version answered.
    pub version: Option<i64>,
    /// Files in the answer.
    pub files: Option<i64>,
    /// Bytes served.
    pub bytes: Option<i64>,
    /// Status answered.
    pub status: i64,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The client's address.
    pub address: Option<String>,
}

/// A stored read, with the dataset's name if it still exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    /// The read.
    pub read: NewRead,
    /// The dataset's current name.
    pub dataset_name: Option<String>,
}

/// Which reads to list.
#[derive(Debug, Clone, Default)]
pub struct ReadFilter {
    /// Only this dataset's.
    pub dataset_id: Option<String>,
    /// Only this recipient's name (`link` for links).
    pub recipient_name: Option<String>,
    /// Only from this time on (ms since the epoch).
    pub since: Option<i64>,
    /// At most this many, newest first.
    pub limit: i64,
}

const RECIPIENT_COLUMNS: &str = "r.id, r.owner, r.name, r.email, r.salt, r.secret_fingerprint, r.token_hash, \
     r.expires_at, r.previous_token_hash, r.previous_until, r.created_at, r.last_read_at";

const GRANT_SELECT: &str = "SELECT g.recipient_id, g.dataset_id, d.name, g.table_name, g.start_version, \
     g.history, g.created_at FROM grants g JOIN datasets d ON d.id = g.dataset_id";

fn recipient(row: &AnyRow) -> Result<RecipientRecord> {
    Ok(RecipientRecord {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        salt: row.try_get("salt")?,
        secret_fingerprint: row.try_get("secret_fingerprint")?,
        token_hash: row.try_get("token_hash")?,
        expires_at: row.try_get("expires_at")?,
        previous_token_hash: row.try_get("previous_token_hash")?,
        previous_until: row.try_get("previous_until")?,
        created_at: row.try_get("created_at")?,
        last_read_at: row.try_get("last_read_at")?,
    })
}

fn grant(row: &AnyRow) -> Result<GrantRecord> {
    Ok(GrantRecord {
        recipient_id: row.try_get("recipient_id")?,
        dataset_id: row.try_get("dataset_id")?,
        dataset_name: row.try_get("name")?,
        table_name: row.try_get("table_name")?,
        start_version: row.try_get("start_version")?,
        history: row.try_get::<i64, _>("history")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

/// Every recipient with its grants (inside the `share.yaml` writer's transaction).
pub(crate) async fn published(connection: &mut AnyConnection) -> Result<Vec<PublishedRecipient>> {
    let recipients = sqlx::query(&format!(
        "SELECT {RECIPIENT_COLUMNS} FROM recipients r ORDER BY r.id"
    ))
    .fetch_all(&mut *connection)
    .await?
    .iter()
    .map(recipient)
    .collect::<Result<Vec<_>>>()?;
    let mut grants = sqlx::query(&format!(
        "{GRANT_SELECT} ORDER BY g.recipient_id, g.table_name"
    ))
    .fetch_all(&mut *connection)
    .await?
    .iter()
    .map(grant)
    .collect::<Result<Vec<_>>>()?
    .into_iter()
    .peekable();
    let mut out = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        let mut mine = Vec::new();
        while grants.peek().is_some_and(|g| g.recipient_id < recipient.id) {
            grants.next();
        }
        while let Some(g) = grants.next_if(|g| g.recipient_id == recipient.id) {
            mine.push(g);
        }
        out.push(PublishedRecipient {
            recipient,
            grants: mine,
        });
    }
    Ok(out)
}

impl Store {
    /// Adds a recipient; `None` if the owner has one of that name already.
    pub async fn add_recipient(&self, new: &RecipientRecord) -> Result<Option<RecipientRecord>> {
        let mut tx = self.write().await?;
        let added = sqlx::query(
            "INSERT INTO recipients (id, owner, name, email, salt, secret_fingerprint, token_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (owner, name) DO NOTHING",
        )
        .bind(&new.id)
        .bind(&new.owner)
        .bind(&new.name)
        .bind(new.email.as_deref())
        .bind(&new.salt)
        .bind(&new.secret_fingerprint)
        .bind(&new.token_hash)
        .bind(new.expires_at)
        .bind(new.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if added == 0 {
            return Ok(None);
        }
        // A recipient is in share.yaml (its share, empty until a grant) from the start.
        bump_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(Some(new.clone()))
    }

    /// The owner's recipient of that name.
    pub async fn recipient(&self, owner: &str, name: &str) -> Result<Option<RecipientRecord>> {
        sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM recipients r WHERE r.owner = $1 AND r.name = $2"
        ))
        .bind(owner)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| recipient(&r))
        .transpose()
    }

    /// A recipient by id (whoever owns it: for the access log and activation links).
    pub async fn recipient_by_id(&self, id: &str) -> Result<Option<RecipientRecord>> {
        sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM recipients r WHERE r.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| recipient(&r))
        .transpose()
    }

    /// The owner's recipients, by name, each with its grants.
    pub async fn recipients(&self, owner: &str) -> Result<Vec<PublishedRecipient>> {
        let recipients = sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM recipients r WHERE r.owner = $1 ORDER BY r.name"
        ))
        .bind(owner)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(recipient)
        .collect::<Result<Vec<_>>>()?;
        let grants = sqlx::query(&format!(
            "{GRANT_SELECT} JOIN recipients r ON r.id = g.recipient_id WHERE r.owner = $1 ORDER BY g.table_name"
        ))
        .bind(owner)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(grant)
        .collect::<Result<Vec<_>>>()?;
        Ok(recipients
            .into_iter()
            .map(|recipient| PublishedRecipient {
                grants: grants
                    .iter()
                    .filter(|g| g.recipient_id == recipient.id)
                    .cloned()
                    .collect(),
                recipient,
            })
            .collect())
    }

    /// Deletes the owner's recipient with its grants and links; the share generation `share.yaml` must
    /// reach for its credential to stop working, or `None` if there was no such recipient.
    pub async fn revoke_recipient(&self, owner: &str, name: &str) -> Result<Option<i64>> {
        let mut tx = self.write().await?;
        let Some(row) = sqlx::query("SELECT id FROM recipients WHERE owner = $1 AND name = $2")
            .bind(owner)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let id: String = row.try_get("id")?;
        for statement in [
            "DELETE FROM grants WHERE recipient_id = $1",
            "DELETE FROM activation_links WHERE recipient_id = $1",
            "DELETE FROM recipients WHERE id = $1",
        ] {
            sqlx::query(statement).bind(&id).execute(&mut *tx).await?;
        }
        bump_generation(&mut tx).await?;
        let after = generation(&mut tx).await?;
        tx.commit().await?;
        Ok(Some(after))
    }

    /// Gives the owner's recipient a new credential; the one it replaces keeps working until
    /// `previous_until` (none: it stops at once). Returns the recipient and the generation `share.yaml`
    /// must reach, or `None` if there is no such recipient.
    pub async fn rotate_recipient(
        &self,
        owner: &str,
        name: &str,
        salt: &str,
        secret_fingerprint: &str,
        token_hash: &str,
        previous_until: Option<i64>,
    ) -> Result<Option<(RecipientRecord, i64)>> {
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE recipients SET previous_token_hash = CASE WHEN CAST($1 AS BIGINT) IS NULL THEN NULL ELSE token_hash END, \
             previous_until = $1, salt = $2, secret_fingerprint = $3, token_hash = $4 \
             WHERE owner = $5 AND name = $6",
        )
        .bind(previous_until)
        .bind(salt)
        .bind(secret_fingerprint)
        .bind(token_hash)
        .bind(owner)
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        bump_generation(&mut tx).await?;
        let after = generation(&mut tx).await?;
        let row = sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM recipients r WHERE r.owner = $1 AND r.name = $2"
        ))
        .bind(owner)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some((recipient(&row)?, after)))
    }

    /// Grants the owner's dataset to the owner's recipient (again: the same table name; the history
    /// choice changes only if asked otherwise). `None` if the owner has no such dataset.
    pub async fn grant(
        &self,
        owner: &str,
        recipient_id: &str,
        dataset_id: &str,
        table_name: &str,
        history: bool,
    ) -> Result<Option<GrantRecord>> {
        let mut tx = self.write().await?;
        // A write first, so SQLite takes its write lock now rather than failing to upgrade a read.
        sqlx::query("UPDATE share_generation SET generation = generation WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let Some(row) = sqlx::query(
            "SELECT d.version, d.history_from, g.history FROM datasets d \
             LEFT JOIN grants g ON g.dataset_id = d.id AND g.recipient_id = $3 \
             WHERE d.id = $1 AND d.owner = $2",
        )
        .bind(dataset_id)
        .bind(owner)
        .bind(recipient_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let version: i64 = row.try_get("version")?;
        let history_from: i64 = row.try_get("history_from")?;
        let start = if history { history_from } else { version };
        let granted: Option<i64> = row.try_get("history")?;
        let changed = match granted {
            None => {
                // The table's name in the recipient's share: the dataset's, or with a number when
                // another of the recipient's tables has it (chosen once, kept for the grant's life).
                let taken: Vec<String> =
                    sqlx::query("SELECT table_name FROM grants WHERE recipient_id = $1")
                        .bind(recipient_id)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|r| r.try_get("table_name"))
                        .collect::<std::result::Result<_, _>>()?;
                let name = (1..)
                    .map(|n| {
                        if n == 1 {
                            table_name.to_string()
                        } else {
                            format!("{table_name}_{n}")
                        }
                    })
                    .find(|candidate| !taken.iter().any(|t| t.eq_ignore_ascii_case(candidate)))
                    .expect("some number is free");
                sqlx::query(
                    "INSERT INTO grants (recipient_id, dataset_id, table_name, start_version, history, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(recipient_id)
                .bind(dataset_id)
                .bind(&name)
                .bind(start)
                .bind(history as i64)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?
                .rows_affected()
            }
            Some(was) if (was != 0) != history => sqlx::query(
                "UPDATE grants SET history = $1, start_version = $2 WHERE recipient_id = $3 AND dataset_id = $4",
            )
            .bind(history as i64)
            .bind(start)
            .bind(recipient_id)
            .bind(dataset_id)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            Some(_) => 0,
        };
        if changed > 0 {
            bump_generation(&mut tx).await?;
        }
        let row = sqlx::query(&format!(
            "{GRANT_SELECT} WHERE g.recipient_id = $1 AND g.dataset_id = $2"
        ))
        .bind(recipient_id)
        .bind(dataset_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        grant(&row).map(Some)
    }

    /// The grant of the owner's dataset to the owner's recipient, if there is one.
    pub async fn grant_of(
        &self,
        owner: &str,
        recipient_id: &str,
        dataset_id: &str,
    ) -> Result<Option<GrantRecord>> {
        sqlx::query(&format!(
            "{GRANT_SELECT} WHERE g.recipient_id = $1 AND g.dataset_id = $2 AND d.owner = $3"
        ))
        .bind(recipient_id)
        .bind(dataset_id)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| grant(&r))
        .transpose()
    }

    /// Ends the grants of the owner's dataset to the named recipients (every recipient when `names`
    /// is `None`); returns how many ended and the generation `share.yaml` must reach.
    pub async fn ungrant(
        &self,
        owner: &str,
        dataset_id: &str,
        names: Option<&[String]>,
    ) -> Result<(u64, i64)> {
        let mut tx = self.write().await?;
        let mut ended = 0;
        match names {
            None => {
                ended += sqlx::query(
                    "DELETE FROM grants WHERE dataset_id = $1 AND recipient_id IN \
                     (SELECT id FROM recipients WHERE owner = $2)",
                )
                .bind(dataset_id)
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            Some(names) => {
                for name in names {
                    ended += sqlx::query(
                        "DELETE FROM grants WHERE dataset_id = $1 AND recipient_id IN \
                         (SELECT id FROM recipients WHERE owner = $2 AND name = $3)",
                    )
                    .bind(dataset_id)
                    .bind(owner)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
            }
        }
        if ended > 0 {
            bump_generation(&mut tx).await?;
        }
        let after = generation(&mut tx).await?;
        tx.commit().await?;
        Ok((ended, after))
    }

    /// Whether a dataset is shared by link or granted to anyone.
    pub async fn shared_with_anyone(&self, dataset_id: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM shares WHERE dataset_id = $1) + \
             (SELECT COUNT(*) FROM grants WHERE dataset_id = $1) AS n",
        )
        .bind(dataset_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Records an activation link (the hash of its code).
    pub async fn add_activation(
        &self,
        recipient_id: &str,
        code_hash: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO activation_links (code_hash, recipient_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(code_hash)
        .bind(recipient_id)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The activation link with this code hash, with its recipient (none once the recipient is revoked).
    pub async fn activation(&self, code_hash: &str) -> Result<Option<ActivationRecord>> {
        let Some(row) = sqlx::query(
            "SELECT recipient_id, expires_at, used_at FROM activation_links WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let recipient_id: String = row.try_get("recipient_id")?;
        let Some(recipient) = self.recipient_by_id(&recipient_id).await? else {
            return Ok(None);
        };
        Ok(Some(ActivationRecord {
            recipient,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
        }))
    }

    /// Marks an unused, unexpired link used; whether this call did (exactly one download wins).
    pub async fn use_activation(&self, code_hash: &str, now: i64) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE activation_links SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// The owner and name of a dataset, whoever owns it (for the access log).
    pub async fn dataset_owner(&self, dataset_id: &str) -> Result<Option<(String, String)>> {
        sqlx::query("SELECT owner, name FROM datasets WHERE id = $1")
            .bind(dataset_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Ok((r.try_get("owner")?, r.try_get("name")?)))
            .transpose()
    }

    /// Stores reads (each id once) and moves their recipients' last read forward.
    pub async fn add_reads(&self, reads: &[NewRead]) -> Result<()> {
        let mut tx = self.write().await?;
        for read in reads {
            sqlx::query(
                "INSERT INTO reads (id, owner, recipient_id, recipient_name, dataset_id, at, operation, version, files, bytes, status, user_agent, address) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&read.id)
            .bind(&read.owner)
            .bind(read.recipient_id.as_deref())
            .bind(&read.recipient_name)
            .bind(read.dataset_id.as_deref())
            .bind(read.at)
            .bind(&read.operation)
            .bind(read.version)
            .bind(read.files)
            .bind(read.bytes)
            .bind(read.status)
            .bind(read.user_agent.as_deref())
            .bind(read.address.as_deref())
            .execute(&mut *tx)
            .await?;
            if let Some(recipient_id) = &read.recipient_id {
                sqlx::query(
                    "UPDATE recipients SET last_read_at = $1 WHERE id = $2 AND (last_read_at IS NULL OR last_read_at < $1)",
                )
                .bind(read.at)
                .bind(recipient_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes reads older than `before` (ms since the epoch); how many.
    pub async fn forget_reads(&self, before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM reads WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// The owner's reads, newest first.
    pub async fn reads(&self, owner: &str, filter: &ReadFilter) -> Result<Vec<ReadRecord>> {
        let rows = sqlx::query(
            "SELECT r.id, r.owner, r.recipient_id, r.recipient_name, r.dataset_id, r.at, r.operation, r.version, \
             r.files, r.bytes, r.status, r.user_agent, r.address, d.name AS dataset_name \
             FROM reads r LEFT JOIN datasets d ON d.id = r.dataset_id \
             WHERE r.owner = $1 AND (CAST($2 AS TEXT) IS NULL OR r.dataset_id = $2) AND (CAST($3 AS TEXT) IS NULL OR r.recipient_name = $3) \
             AND r.at >= $4 ORDER BY r.at DESC, r.id DESC LIMIT $5",
        )
        .bind(owner)
        .bind(filter.dataset_id.as_deref())
        .bind(filter.recipient_name.as_deref())
        .bind(filter.since.unwrap_or(0))
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReadRecord {
                    read: NewRead {
                        id: r.try_get("id")?,
                        owner: r.try_get("owner")?,
                        recipient_id: r.try_get("recipient_id")?,
                        recipient_name: r.try_get("recipient_name")?,
                        dataset_id: r.try_get("dataset_id")?,
                        at: r.try_get("at")?,
                        operation: r.try_get("operation")?,
                        version: r.try_get("version")?,
                        files: r.try_get("files")?,
                        bytes: r.try_get("bytes")?,
                        status: r.try_get("status")?,
                        user_agent: r.try_get("user_agent")?,
                        address: r.try_get("address")?,
                    },
                    dataset_name: r.try_get("dataset_name")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> RecipientRecord {
        RecipientRecord {
            id: format!("rc{n:020x}"),
            owner: "owner".into(),
            name: format!("colleague-{n}"),
            email: None,
            salt: "salt".into(),
            secret_fingerprint: "fingerprint".into(),
            token_hash: format!("sha256:{n:064x}"),
            expires_at: None,
            previous_token_hash: None,
            previous_until: None,
            created_at: now_ms(),
            last_read_at: None,
        }
    }

    /// Writers that read before they write (revoke looks the recipient up, then deletes) all succeed
    /// when they race on SQLite: none fails with "database is locked".
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_writers_on_sqlite_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("store.db").display()
        );
        let store = Store::connect(&url).await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|worker| {
                let store = store.clone();
                tokio::spawn(async move {
                    for round in 0..25 {
                        let n = worker * 1000 + round;
                        store.add_recipient(&record(n)).await?;
                        store.recipients("owner").await?;
                        store
                            .revoke_recipient("owner", &format!("colleague-{n}"))
                            .await?;
                    }
                    Ok::<_, crate::Error>(())
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().expect("every write succeeds");
        }
        assert!(store.recipients("owner").await.unwrap().is_empty());
    }
}
