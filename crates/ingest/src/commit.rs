//! The Delta commit of a conversion, through `deltalake`: the only place this crate writes `_delta_log`.
//! Data files are written first under unique names; the commit makes them visible in one step.

use std::collections::HashMap;
use std::path::Path;

use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add, DataType, StructField};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableError};

use crate::Mode;
use crate::infer::ColumnType;
use crate::preview::Column;
use crate::{Error, Result};

/// A data file to add, as written by the conversion.
#[derive(Debug, Clone)]
pub(crate) struct NewFile {
    pub(crate) path: String,
    pub(crate) size: i64,
    pub(crate) stats: String,
}

fn delta_type(column_type: &ColumnType) -> DataType {
    match column_type {
        ColumnType::Int64 => DataType::LONG,
        ColumnType::Float64 { .. } => DataType::DOUBLE,
        ColumnType::Boolean => DataType::BOOLEAN,
        ColumnType::Date { .. } => DataType::DATE,
        ColumnType::Timestamp => DataType::TIMESTAMP,
        ColumnType::String => DataType::STRING,
    }
}

/// A small runtime for `deltalake`'s async API, so this crate's functions stay blocking.
fn runtime(dir: &Path) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            file: dir.to_path_buf(),
            source,
        })
}

/// Commits `files` to the table at `dir` as a new version and returns it.
pub(crate) fn commit(
    dir: &Path,
    mode: Mode,
    name: Option<&str>,
    columns: &[Column],
    files: &[NewFile],
) -> Result<i64> {
    let runtime = runtime(dir)?;
    runtime
        .block_on(commit_async(dir, mode, name, columns, files))
        .map_err(|e| match e {
            CommitError::Schema(message) => Error::SchemaMismatch {
                table: dir.to_path_buf(),
                message,
            },
            CommitError::Delta(e) => Error::Delta {
                table: dir.to_path_buf(),
                message: e.to_string(),
            },
        })
}

enum CommitError {
    Schema(String),
    Delta(DeltaTableError),
}

impl From<DeltaTableError> for CommitError {
    fn from(e: DeltaTableError) -> Self {
        CommitError::Delta(e)
    }
}

async fn commit_async(
    dir: &Path,
    mode: Mode,
    name: Option<&str>,
    columns: &[Column],
    files: &[NewFile],
) -> std::result::Result<i64, CommitError> {
    let absolute =
        std::fs::canonicalize(dir).map_err(|e| DeltaTableError::Generic(e.to_string()))?;
    let url = url::Url::from_directory_path(&absolute)
        .map_err(|_| DeltaTableError::Generic("not a directory path".into()))?;
    let now = chrono::Utc::now().timestamp_millis();
    let adds: Vec<Action> = files
        .iter()
        .map(|f| {
            Action::Add(Add {
                path: f.path.clone(),
                partition_values: HashMap::new(),
                size: f.size,
                modification_time: now,
                data_change: true,
                stats: Some(f.stats.clone()),
                tags: None,
                deletion_vector: None,
                base_row_id: None,
                default_row_commit_version: None,
                clustering_provider: None,
            })
        })
        .collect();
    let fields: Vec<StructField> = columns
        .iter()
        .map(|c| StructField::new(c.name.clone(), delta_type(&c.column_type), true))
        .collect();
    if mode == Mode::Create {
        let mut create = DeltaTable::try_from_url(url)
            .await?
            .create()
            .with_columns(fields)
            .with_actions(adds)
            .with_save_mode(SaveMode::ErrorIfExists);
        if let Some(name) = name {
            create = create.with_table_name(name);
        }
        let table = create.await?;
        return Ok(table.version().unwrap_or(0) as i64);
    }
    let table = deltalake::open_table(url).await?;
    let snapshot = table.snapshot()?;
    let existing: Vec<(String, DataType)> = snapshot
        .schema()
        .fields()
        .map(|f| (f.name().to_string(), f.data_type().clone()))
        .collect();
    let incoming: Vec<(String, DataType)> = fields
        .iter()
        .map(|f| (f.name().to_string(), f.data_type().clone()))
        .collect();
    if existing != incoming {
        let describe = |cols: &[(String, DataType)]| {
            cols.iter()
                .map(|(n, t)| format!("{n} {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if mode == Mode::Append {
            return Err(CommitError::Schema(format!(
                "the file's columns ({}) differ from the table's ({}); use overwrite to replace the table, or rename and retype columns to match",
                describe(&incoming),
                describe(&existing)
            )));
        }
        return Err(CommitError::Schema(format!(
            "overwrite keeps the table's columns ({}), but the file has ({})",
            describe(&existing),
            describe(&incoming)
        )));
    }
    let mut actions = adds;
    let save_mode = if mode == Mode::Overwrite {
        actions.extend(
            snapshot
                .log_data()
                .iter()
                .map(|f| Action::Remove(f.remove_action(true))),
        );
        SaveMode::Overwrite
    } else {
        SaveMode::Append
    };
    let operation = DeltaOperation::Write {
        mode: save_mode,
        partition_by: None,
        predicate: None,
    };
    let finalized = CommitBuilder::default()
        .with_actions(actions)
        .build(Some(snapshot), table.log_store(), operation)
        .await?;
    Ok(finalized.version() as i64)
}

/// The data files of a local Delta table's current version, as paths relative to its directory, in
/// the order of their add actions in the log (commits ascending, adds in order within a commit): the
/// order that gives the rows of a conversion in the order of its CSV, and the order in which an
/// upload presents them to the backend. Files whose add is only in a checkpoint come first.
/// Blocking (it runs a small runtime): call it from a plain thread or `spawn_blocking`.
pub fn table_files(dir: &Path) -> Result<Vec<String>> {
    let failed = |message: String| Error::Delta {
        table: dir.to_path_buf(),
        message,
    };
    let runtime = runtime(dir)?;
    let mut files = runtime.block_on(async {
        let absolute = std::fs::canonicalize(dir).map_err(|e| failed(e.to_string()))?;
        let url = url::Url::from_directory_path(&absolute)
            .map_err(|_| failed("not a directory path".into()))?;
        let table = deltalake::open_table(url)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let snapshot = table.snapshot().map_err(|e| failed(e.to_string()))?;
        Ok::<Vec<String>, Error>(
            snapshot
                .log_data()
                .iter()
                .map(|f| decoded(&f.path()))
                .collect(),
        )
    })?;
    let places = add_places(dir)?;
    // Stable: files with no place (added in a checkpoint) keep the snapshot's order, first.
    files.sort_by_key(|f| places.get(f).copied());
    Ok(files)
}

fn decoded(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// For each path added by a JSON commit in `_delta_log`, the place of its latest add among all adds
/// of those commits, read in version order.
fn add_places(dir: &Path) -> Result<HashMap<String, usize>> {
    let log = dir.join("_delta_log");
    let io = |file: &Path| {
        let file = file.to_path_buf();
        move |source| Error::Io { file, source }
    };
    let mut commits: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(&log)
        .map_err(io(&log))?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let version = path
                .file_name()?
                .to_str()?
                .strip_suffix(".json")?
                .parse()
                .ok()?;
            Some((version, path))
        })
        .collect();
    commits.sort();
    let mut places = HashMap::new();
    let mut adds = 0;
    for (_, path) in commits {
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let action: serde_json::Value =
                serde_json::from_str(line).map_err(|e| Error::Delta {
                    table: dir.to_path_buf(),
                    message: format!("{}: {e}", path.display()),
                })?;
            if let Some(added) = action["add"]["path"].as_str() {
                places.insert(decoded(added), adds);
                adds += 1;
            }
        }
    }
    Ok(places)
}
