//! The access log, backend side: segments the sharing servers shipped (to a directory or S3, see
//! `delta_bridge_access`) are read, each record attributed to the owner of the recipient or dataset it
//! names, stored once (by its id), and the segment removed; owners list their own reads.

use std::collections::HashMap;

use chrono::DateTime;
use delta_bridge_access::{Destination, Record, list_shipped, read_shipped, remove_shipped};

use crate::api::*;
use crate::share_file::previous_token_name;
use crate::store::{NewRead, ReadFilter};
use crate::{Datasets, Error, Result, now_ms, rfc3339};

/// Most segments one pass reads (the rest wait for the next pass, a few seconds later).
const SEGMENTS_PER_PASS: usize = 200;
/// How long reads stay in the activity by default.
pub const ACTIVITY_RETENTION: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);
/// Most reads one `/activity` answer lists.
pub const MAX_READS: i64 = 1_000;

/// Which reads to list, as the owner asks.
#[derive(Debug, Clone, Default)]
pub struct ActivityQuery {
    /// Only this dataset's.
    pub dataset_id: Option<String>,
    /// Only this recipient's (`link` for reads through a dataset's snippet).
    pub recipient: Option<RecipientName>,
    /// Only from this time on (RFC 3339).
    pub since: Option<String>,
    /// At most this many (default 200, at most [`MAX_READS`]).
    pub limit: Option<i64>,
}

/// Whose a token name is: the owner, the recipient's id (none for a link) and its name.
type Reader = Option<(String, Option<String>, String)>;

impl Datasets {
    /// The owner's reads, newest first.
    pub async fn activity(&self, owner: &str, query: &ActivityQuery) -> Result<Activity> {
        let limit = query.limit.unwrap_or(200);
        if !(1..=MAX_READS).contains(&limit) {
            return Err(Error::Invalid(format!("limit must be 1 to {MAX_READS}")));
        }
        let since = query
            .since
            .as_deref()
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map(|t| t.timestamp_millis())
                    .map_err(|_| {
                        Error::Invalid(format!(
                            "since {text:?} is not an RFC 3339 time such as 2027-01-31T00:00:00Z"
                        ))
                    })
            })
            .transpose()?;
        let filter = ReadFilter {
            dataset_id: query.dataset_id.clone(),
            recipient_name: query.recipient.as_ref().map(|r| r.to_string()),
            since,
            limit,
        };
        let reads = self.store.reads(owner, &filter).await?;
        Ok(Activity {
            reads: reads
                .into_iter()
                .map(|r| ReadInfo {
                    at: rfc3339(r.read.at),
                    recipient: r
                        .read
                        .recipient_name
                        .parse()
                        .unwrap_or_else(|_| RecipientName::link()),
                    dataset_id: r.read.dataset_id,
                    dataset_name: r.dataset_name,
                    operation: r.read.operation,
                    version: r.read.version,
                    files: r.read.files,
                    bytes: r.read.bytes,
                    status: r.read.status.clamp(0, 999) as u16,
                    user_agent: r.read.user_agent,
                    address: r.read.address,
                })
                .collect(),
        })
    }

    /// Stores what the sharing servers shipped to the access log since the last pass and removes the
    /// segments stored; returns how many reads were stored. Idempotent: several backends may collect
    /// the same segments (each record is stored once).
    pub async fn collect_reads(&self) -> Result<usize> {
        let Some(destination) = &self.settings.access_log else {
            return Ok(0);
        };
        let failed = |e: delta_bridge_access::Error| Error::Storage(e.to_string());
        let segments = list_shipped(destination).await.map_err(failed)?;
        let mut readers: HashMap<String, Reader> = HashMap::new();
        let mut datasets: HashMap<String, Option<String>> = HashMap::new();
        let mut stored = 0;
        for key in segments.into_iter().take(SEGMENTS_PER_PASS) {
            let records = match read_shipped(destination, &key).await {
                Ok(records) => records,
                Err(e @ delta_bridge_access::Error::Parse { .. }) => {
                    // A segment no sharing server wrote whole: kept for the operator, skipped.
                    tracing::error!(error = %e, "an access log segment cannot be read; skipping it");
                    continue;
                }
                Err(e) => return Err(failed(e)),
            };
            let mut reads = Vec::with_capacity(records.len());
            for record in records {
                if let Some(read) = self.attribute(record, &mut readers, &mut datasets).await? {
                    reads.push(read);
                }
            }
            self.store.add_reads(&reads).await?;
            stored += reads.len();
            remove_shipped(destination, &key).await.map_err(failed)?;
            metrics::counter!("delta_bridge_reads_collected_total").increment(reads.len() as u64);
        }
        Ok(stored)
    }

    /// The read a record is, for the owner it belongs to (none for a token no owner has: the server's
    /// global token, an open server, a recipient revoked since reading nothing of a dataset).
    async fn attribute(
        &self,
        Record { id, access: record }: Record,
        readers: &mut HashMap<String, Reader>,
        datasets: &mut HashMap<String, Option<String>>,
    ) -> Result<Option<NewRead>> {
        if !readers.contains_key(&record.recipient) {
            let reader = self.reader(&record.recipient).await?;
            readers.insert(record.recipient.clone(), reader);
        }
        let mut dataset_owner = None;
        if let Some(id) = &record.table_id {
            if !datasets.contains_key(id) {
                let owner = self.store.dataset_owner(id).await?.map(|(o, _)| o);
                datasets.insert(id.clone(), owner);
            }
            dataset_owner = datasets[id].clone();
        }
        let (owner, recipient_id, recipient_name) = match readers[&record.recipient].clone() {
            Some(reader) => reader,
            // A recipient revoked since: the read is still the dataset owner's to see.
            None => match &dataset_owner {
                Some(owner) if record.recipient.starts_with("rc") => (
                    owner.clone(),
                    None,
                    format!(
                        "revoked {}",
                        record.recipient.split(':').next().unwrap_or("")
                    ),
                ),
                _ => return Ok(None),
            },
        };
        // Only a dataset of the same owner is named (a table id is the sharing server's word).
        let dataset_id = record
            .table_id
            .filter(|_| dataset_owner.as_deref() == Some(owner.as_str()));
        let at = DateTime::parse_from_rfc3339(&record.at)
            .map(|t| t.timestamp_millis())
            .unwrap_or_else(|_| now_ms());
        Ok(Some(NewRead {
            id,
            owner,
            recipient_id,
            recipient_name,
            dataset_id,
            at,
            operation: record.operation,
            version: record.version,
            files: record.files,
            bytes: record.bytes,
            status: i64::from(record.status),
            user_agent: record.user_agent,
            address: record.address,
        }))
    }

    /// Whose a token name in `share.yaml` is: a recipient's id (or its replaced credential's name), or
    /// a dataset's id for its link.
    async fn reader(&self, token_name: &str) -> Result<Reader> {
        let id = token_name.split(':').next().unwrap_or(token_name);
        if token_name != id && token_name != previous_token_name(id) {
            return Ok(None);
        }
        if id.starts_with("rc") {
            return Ok(self
                .store
                .recipient_by_id(id)
                .await?
                .map(|r| (r.owner, Some(r.id), r.name)));
        }
        if DatasetId::is_valid(id) {
            return Ok(self
                .store
                .dataset_owner(id)
                .await?
                .map(|(owner, _)| (owner, None, RecipientName::LINK.to_string())));
        }
        Ok(None)
    }
}

/// Where the access log is collected from, for messages.
pub fn describe(destination: &Destination) -> String {
    match destination {
        Destination::Dir(path) => path.display().to_string(),
        Destination::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}/"),
    }
}
