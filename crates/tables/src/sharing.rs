//! The table side of the protocol: version, metadata, query and changes of one shared table.
//!
//! [`Tables`] owns the snapshot cache of every table and the [`Store`]. Each operation takes the table's
//! entry from `share.yaml`, the client's capabilities and the request, and returns finished NDJSON.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use delta_bridge_shares::Table;
use serde_json::{Value, json};

use crate::log::{Action, FileAction, Metadata};
use crate::predicate::{Predicate, Truth, parse_timestamp_micros};
use crate::snapshot::{Snapshot, TableLog};
use crate::store::Store;
use crate::wire::{self, Capabilities, ChangesRequest, Format, Lines, QueryRequest, TableResponse};
use crate::{Error, Location, Result, location};

/// Per-request settings taken from `share.yaml`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Lifetime of the file URLs handed out.
    pub url_ttl: Duration,
    /// Skip files by partition values.
    pub partition_pruning: bool,
    /// Skip files by statistics.
    pub stats_pruning: bool,
    /// Look for new versions before answering (false when `stalenessAcceptable`).
    pub refresh: bool,
    /// Who asks (the token's name): local file URLs are signed for them, so downloads are attributed.
    pub recipient: Option<String>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            url_ttl: Duration::from_secs(3600),
            partition_pruning: true,
            stats_pruning: true,
            refresh: true,
            recipient: None,
        }
    }
}

type SharedLog = Arc<tokio::sync::Mutex<TableLog>>;

/// Every shared table's cached log, and the storage they live on.
#[derive(Debug)]
pub struct Tables {
    store: Store,
    logs: Mutex<HashMap<String, (SharedLog, u64)>>,
    capacity: AtomicUsize,
    clock: AtomicU64,
}

impl Tables {
    /// A cache of at most `capacity` tables over `store`.
    pub fn new(store: Store, capacity: usize) -> Self {
        Tables {
            store,
            logs: Mutex::new(HashMap::new()),
            capacity: AtomicUsize::new(capacity.max(1)),
            clock: AtomicU64::new(0),
        }
    }

    /// The storage this service reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Changes how many tables stay cached (`deltaTableCacheSize` after a reload).
    pub fn set_capacity(&self, capacity: usize) {
        self.capacity.store(capacity.max(1), Ordering::Relaxed);
    }

    fn log(&self, table: &Table) -> Result<SharedLog> {
        let location = Location::parse(&table.location)?;
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut logs = self.logs.lock().expect("cache lock");
        let key = table.location.clone();
        if let Some((log, used)) = logs.get_mut(&key) {
            *used = tick;
            return Ok(log.clone());
        }
        let log = Arc::new(tokio::sync::Mutex::new(TableLog::new(
            &table.name,
            location,
        )));
        logs.insert(key, (log.clone(), tick));
        let capacity = self.capacity.load(Ordering::Relaxed);
        while logs.len() > capacity {
            let oldest = logs
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            logs.remove(&oldest);
        }
        Ok(log)
    }

    /// `GET .../version`: the latest version, or the earliest at or after `starting_timestamp`.
    pub async fn version(
        &self,
        table: &Table,
        starting_timestamp: Option<&str>,
        options: &ServeOptions,
    ) -> Result<i64> {
        let log = self.log(table)?;
        let mut log = log.lock().await;
        log.refresh(&self.store, options.refresh).await?;
        let latest = log.latest_version().expect("refresh checked");
        let Some(text) = starting_timestamp else {
            return Ok(latest);
        };
        require_history(table, "startingTimestamp")?;
        let version = version_at_or_after(&log, text)?;
        check_start_version(table, version)?;
        Ok(version)
    }

    /// `GET .../metadata`: protocol and metadata of the latest version.
    pub async fn metadata(
        &self,
        table: &Table,
        caps: &Capabilities,
        options: &ServeOptions,
    ) -> Result<TableResponse> {
        let snapshot = self.snapshot(table, None, options).await?;
        let format = choose_format(caps, &snapshot, false)?;
        let mut lines = Lines::new();
        lines.push(&wire::protocol_line(format, &snapshot.protocol.raw));
        lines.push(&wire::metadata_line(
            format,
            &snapshot.metadata.raw,
            parquet_configuration(table, &snapshot.metadata),
            None,
        ));
        Ok(TableResponse {
            version: snapshot.version,
            format,
            body: lines.body,
        })
    }

    async fn snapshot(
        &self,
        table: &Table,
        at: Option<At<'_>>,
        options: &ServeOptions,
    ) -> Result<Arc<Snapshot>> {
        let log = self.log(table)?;
        let mut log = log.lock().await;
        log.refresh(&self.store, options.refresh || at.is_some())
            .await?;
        let latest = log.latest_version().expect("refresh checked");
        let version = match at {
            None => latest,
            Some(At::Version(v)) => {
                if v > latest {
                    return Err(Error::InvalidParameter(format!(
                        "version {v} does not exist; the latest version is {latest}"
                    )));
                }
                if v < 0 {
                    return Err(Error::InvalidParameter(
                        "version must not be negative".into(),
                    ));
                }
                v
            }
            Some(At::Timestamp(text)) => version_at_or_before(&log, text)?,
        };
        if at.is_some() {
            check_start_version(table, version)?;
        }
        log.snapshot(&self.store, version).await
    }

    /// `POST .../query`: the files of a snapshot (latest, or by version or timestamp), pruned by the
    /// predicate and limit hints; or, with `startingVersion`, the file changes since a version.
    pub async fn query(
        &self,
        table: &Table,
        caps: &Capabilities,
        request: &QueryRequest,
        options: &ServeOptions,
    ) -> Result<TableResponse> {
        let selectors = [
            request.version.is_some(),
            request.timestamp.is_some(),
            request.starting_version.is_some(),
        ];
        if selectors.iter().filter(|s| **s).count() > 1 {
            return Err(Error::InvalidParameter(
                "only one of version, timestamp and startingVersion may be given".into(),
            ));
        }
        if let Some(limit) = request.limit_hint
            && limit < 0
        {
            return Err(Error::InvalidParameter(
                "limitHint must not be negative".into(),
            ));
        }
        if let Some(start) = request.starting_version {
            require_history(table, "startingVersion")?;
            let changes = ChangesRequest {
                starting_version: Some(start),
                ending_version: request.ending_version,
                ..Default::default()
            };
            return self
                .file_changes(table, caps, &changes, options, false)
                .await;
        }
        if request.ending_version.is_some() {
            return Err(Error::InvalidParameter(
                "endingVersion requires startingVersion".into(),
            ));
        }
        let at = match (&request.version, &request.timestamp) {
            (Some(v), _) => Some(At::Version(*v)),
            (_, Some(t)) => Some(At::Timestamp(t)),
            _ => None,
        };
        if at.is_some() {
            require_history(table, "version or timestamp")?;
        }
        let snapshot = self.snapshot(table, at, options).await?;
        let format = choose_format(caps, &snapshot, true)?;
        // Parsing and judging every file is CPU work: it runs off the async workers, and stops as soon as
        // the request is dropped (requestTimeoutSeconds, a client gone), so it never outlives its request.
        let json = request.json_predicate();
        let limit_hint = request.limit_hint;
        let (partition_pruning, stats_pruning) = (options.partition_pruning, options.stats_pruning);
        let abandoned = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let _abandon_on_drop = AbandonOnDrop(abandoned.clone());
        let judged = snapshot.clone();
        let selected: Vec<Arc<FileAction>> = tokio::task::spawn_blocking(move || {
            let snapshot = judged;
            let predicate = json
                .and_then(|text| Predicate::parse(&text))
                .filter(|_| partition_pruning);
            // The schema is parsed for column names only when there is a predicate to evaluate.
            let physical = predicate
                .as_ref()
                .map(|_| physical_names(&snapshot.metadata))
                .unwrap_or_default();
            let lookup = |name: &str| physical.get(&name.to_ascii_lowercase()).cloned();
            let mut selected = Vec::with_capacity(snapshot.files.len());
            let mut rows = 0i64;
            for (i, file) in snapshot.files.iter().enumerate() {
                if i % 256 == 0 && abandoned.load(std::sync::atomic::Ordering::Relaxed) {
                    return Vec::new();
                }
                if let Some(limit) = limit_hint
                    && rows >= limit
                {
                    break;
                }
                if let Some(predicate) = predicate.as_ref()
                    && predicate.evaluate(
                        &file.partition_values,
                        file.stats(),
                        &lookup,
                        stats_pruning,
                    ) == Truth::Never
                {
                    continue;
                }
                rows += file.stats().and_then(|s| s.num_records).unwrap_or(0);
                selected.push(file.clone());
            }
            selected
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let expires_at = SystemTime::now() + options.url_ttl;
        let expiration_ms = epoch_ms(expires_at);
        let mut lines = Lines::new();
        lines.push(&wire::protocol_line(format, &snapshot.protocol.raw));
        lines.push(&wire::metadata_line(
            format,
            &snapshot.metadata.raw,
            parquet_configuration(table, &snapshot.metadata),
            None,
        ));
        let location = Location::parse(&table.location)?;
        for file in &selected {
            let url = self
                .sign(table, &location, &file.path, options, expires_at)
                .await?;
            wire::push_file_line(&mut lines, format, file.rendered(), &url, expiration_ms);
        }
        Ok(TableResponse {
            version: snapshot.version,
            format,
            body: lines.body,
        })
    }

    /// `GET .../changes`: the change data feed between two versions.
    pub async fn changes(
        &self,
        table: &Table,
        caps: &Capabilities,
        request: &ChangesRequest,
        options: &ServeOptions,
    ) -> Result<TableResponse> {
        require_history(table, "the change data feed")?;
        self.file_changes(table, caps, request, options, true).await
    }

    /// Change lines for versions `start..=end`. With `cdf`, a commit's `cdc` files stand for it when it
    /// has any (the change data feed); without, only `add` and `remove` are returned (streaming queries).
    async fn file_changes(
        &self,
        table: &Table,
        caps: &Capabilities,
        request: &ChangesRequest,
        options: &ServeOptions,
        cdf: bool,
    ) -> Result<TableResponse> {
        let log = self.log(table)?;
        let mut log = log.lock().await;
        log.refresh(&self.store, true).await?;
        let latest = log.latest_version().expect("refresh checked");
        let start = match (request.starting_version, &request.starting_timestamp) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidParameter(
                    "give startingVersion or startingTimestamp, not both".into(),
                ));
            }
            (Some(v), None) => v,
            (None, Some(t)) => version_at_or_after(&log, t)?,
            (None, None) => {
                return Err(Error::InvalidParameter(
                    "startingVersion or startingTimestamp is required".into(),
                ));
            }
        };
        let end = match (request.ending_version, &request.ending_timestamp) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidParameter(
                    "give endingVersion or endingTimestamp, not both".into(),
                ));
            }
            (Some(v), None) => v,
            (None, Some(t)) => version_at_or_before(&log, t)?,
            (None, None) => latest,
        };
        if start < 0 {
            return Err(Error::InvalidParameter(
                "startingVersion must not be negative".into(),
            ));
        }
        check_start_version(table, start)?;
        if start > latest {
            return Err(Error::InvalidParameter(format!(
                "startingVersion {start} is after the latest version {latest}"
            )));
        }
        if end > latest {
            return Err(Error::InvalidParameter(format!(
                "endingVersion {end} is after the latest version {latest}"
            )));
        }
        if start > end {
            return Err(Error::InvalidParameter(format!(
                "the starting version {start} is after the ending version {end}"
            )));
        }
        let first = log.snapshot(&self.store, start).await?;
        let format = choose_format(caps, &first, false)?;
        let mut metadata = first.metadata.clone();
        let cdf_on = |m: &Metadata| m.flag("delta.enableChangeDataFeed");
        if cdf && !cdf_on(&metadata) {
            return Err(Error::InvalidParameter(format!(
                "the change data feed is not enabled on table '{}' at version {start} (table property delta.enableChangeDataFeed)",
                table.name
            )));
        }
        let location = Location::parse(&table.location)?;
        let expires_at = SystemTime::now() + options.url_ttl;
        let expiration_ms = epoch_ms(expires_at);
        let mut lines = Lines::new();
        lines.push(&wire::protocol_line(format, &first.protocol.raw));
        let version_field = (format == Format::Delta).then_some(start);
        lines.push(&wire::metadata_line(
            format,
            &metadata.raw,
            parquet_configuration(table, &metadata),
            version_field,
        ));
        for version in start..=end {
            let actions = log.commit(&self.store, version).await?;
            let timestamp = log.commit_time(version).unwrap_or(0);
            for action in actions.iter() {
                if let Action::Metadata(m) = action {
                    metadata = m.clone();
                    if cdf && !cdf_on(&metadata) {
                        return Err(Error::InvalidParameter(format!(
                            "the change data feed was disabled on table '{}' at version {version}",
                            table.name
                        )));
                    }
                    if request.include_historical_metadata
                        && format == Format::Delta
                        && version > start
                    {
                        lines.push(&wire::metadata_line(
                            format,
                            &metadata.raw,
                            json!({}),
                            Some(version),
                        ));
                    }
                }
            }
            let has_cdc = cdf && actions.iter().any(|a| matches!(a, Action::Cdc(_)));
            for action in actions.iter() {
                let (kind, file) = match action {
                    Action::Cdc(f) if has_cdc => ("cdc", f),
                    Action::Add(f) if !has_cdc && f.data_change => ("add", f),
                    Action::Remove(f) if !has_cdc && f.data_change => ("remove", f),
                    _ => continue,
                };
                if file.has_deletion_vector {
                    return Err(Error::Unsupported(
                        "tables with deletion vectors cannot be shared yet".into(),
                    ));
                }
                let url = self
                    .sign(table, &location, &file.path, options, expires_at)
                    .await?;
                let id = &file.rendered().id;
                let line = match format {
                    Format::Parquet => {
                        let mut f = json!({
                            "url": url, "id": id, "partitionValues": file.partition_values, "size": file.size,
                            "timestamp": timestamp, "version": version, "expirationTimestamp": expiration_ms,
                        });
                        if kind == "add"
                            && let Some(stats) = &file.stats
                        {
                            f["stats"] = Value::String(stats.clone());
                        }
                        json!({ (if kind == "cdc" { "cdf" } else { kind }): f })
                    }
                    Format::Delta => json!({"file": {
                        "id": id, "version": version, "timestamp": timestamp, "expirationTimestamp": expiration_ms,
                        "deltaSingleAction": { kind: wire::action_with_url(&file.raw, &url) },
                    }}),
                };
                lines.push(&line);
            }
        }
        Ok(TableResponse {
            version: start,
            format,
            body: lines.body,
        })
    }

    async fn sign(
        &self,
        table: &Table,
        location: &Location,
        path: &str,
        options: &ServeOptions,
        expires_at: SystemTime,
    ) -> Result<String> {
        let relative = relative_path(table, path)?;
        self.store
            .sign(
                &table.location,
                location,
                &relative,
                options.recipient.as_deref(),
                expires_at,
            )
            .await
    }
}

/// Sets its flag when dropped: tells blocking work that its request is gone.
struct AbandonOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

enum At<'a> {
    Version(i64),
    Timestamp(&'a str),
}

fn require_history(table: &Table, what: &str) -> Result<()> {
    if table.history_shared {
        return Ok(());
    }
    Err(Error::InvalidParameter(format!(
        "{what} is not available for table '{}' because its history is not shared (historyShared: true in share.yaml)",
        table.name
    )))
}

fn check_start_version(table: &Table, version: i64) -> Result<()> {
    if version < table.start_version {
        return Err(Error::InvalidParameter(format!(
            "version {version} is before the first shared version {} of table '{}'",
            table.start_version, table.name
        )));
    }
    Ok(())
}

fn parse_time_ms(text: &str) -> Result<i64> {
    parse_timestamp_micros(text)
        .map(|us| us.div_euclid(1000))
        .ok_or_else(|| {
            Error::InvalidParameter(format!(
                "'{text}' is not a timestamp; use ISO 8601 such as 2024-01-31T12:00:00Z"
            ))
        })
}

fn version_at_or_after(log: &TableLog, text: &str) -> Result<i64> {
    let time = parse_time_ms(text)?;
    log.version_at_or_after(time).ok_or_else(|| {
        Error::InvalidParameter(format!(
            "the timestamp {text} is after the latest version of the table"
        ))
    })
}

fn version_at_or_before(log: &TableLog, text: &str) -> Result<i64> {
    let time = parse_time_ms(text)?;
    log.version_at_or_before(time).ok_or_else(|| {
        Error::InvalidParameter(format!(
            "the timestamp {text} is before the earliest available version of the table"
        ))
    })
}

/// Chooses the response format as the reference server does: the one format asked for, or, when both
/// are, parquet for tables any reader can read and delta for the rest.
fn choose_format(caps: &Capabilities, snapshot: &Snapshot, check_files: bool) -> Result<Format> {
    let wants_delta = caps.formats.contains(&Format::Delta);
    let wants_parquet = caps.formats.is_empty() || caps.formats.contains(&Format::Parquet);
    let format = if wants_delta && wants_parquet {
        if snapshot.protocol.min_reader_version <= 1 {
            Format::Parquet
        } else {
            Format::Delta
        }
    } else if wants_delta {
        Format::Delta
    } else {
        Format::Parquet
    };
    let has_dv = check_files && snapshot.files.iter().any(|f| f.has_deletion_vector);
    if has_dv {
        return Err(Error::Unsupported(
            "tables with deletion vectors cannot be shared yet".into(),
        ));
    }
    match format {
        Format::Parquet => {
            let mode = snapshot.metadata.column_mapping_mode();
            if mode != "none" {
                return Err(Error::Unsupported(format!(
                    "the table uses column mapping (mode '{mode}'), which the parquet response format cannot express; \
                     read it with the delta format (delta-sharing Python client: use_delta_format=True)"
                )));
            }
        }
        Format::Delta => {
            for feature in snapshot.protocol.required_reader_features() {
                if !caps.reader_features.contains(&feature.to_ascii_lowercase()) {
                    return Err(Error::Unsupported(format!(
                        "the table needs the reader feature '{feature}', which the client did not list in delta-sharing-capabilities"
                    )));
                }
            }
        }
    }
    Ok(format)
}

fn parquet_configuration(table: &Table, metadata: &Metadata) -> Value {
    if table.history_shared && metadata.flag("delta.enableChangeDataFeed") {
        json!({"enableChangeDataFeed": "true"})
    } else {
        json!({})
    }
}

/// Logical column name (lowercased) → name in partition values and statistics.
fn physical_names(metadata: &Metadata) -> HashMap<String, String> {
    let mut names = HashMap::new();
    let Ok(schema) = serde_json::from_str::<Value>(&metadata.schema_string) else {
        return names;
    };
    let mapped = metadata.column_mapping_mode() != "none";
    for field in schema["fields"].as_array().into_iter().flatten() {
        let Some(name) = field["name"].as_str() else {
            continue;
        };
        let physical = if mapped {
            field["metadata"]["delta.columnMapping.physicalName"].as_str()
        } else {
            None
        };
        names.insert(
            name.to_ascii_lowercase(),
            physical.unwrap_or(name).to_string(),
        );
    }
    names
}

fn relative_path(table: &Table, path: &str) -> Result<String> {
    if let Some(relative) = location::relative_file_path(path) {
        return Ok(relative);
    }
    let root = format!("{}/", table.location);
    if let Some(rest) = path.strip_prefix(&root)
        && let Some(relative) = location::relative_file_path(rest)
    {
        return Ok(relative);
    }
    Err(Error::Unsupported(format!(
        "table '{}' references a data file outside its location; it cannot be shared",
        table.name
    )))
}

fn epoch_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
