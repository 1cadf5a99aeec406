//! Storage under the tables: local disk or S3 (through `aws-sdk-s3`). One interface above both: list a
//! table's `_delta_log`, read a log file, and give out a URL a client can download a data file from.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use bytes::Bytes;

use crate::signing::LocalSigner;
use crate::{Error, Location, Result};

/// A file of a `_delta_log` directory.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// File name inside `_delta_log/`.
    pub name: String,
    /// Last-modified time in epoch milliseconds.
    pub last_modified_ms: i64,
    /// What the listing says about its content.
    pub identity: EntryIdentity,
}

/// What a listing tells about one file's content without reading it. Log entries are immutable, so two
/// listings giving the same identity mean the same content; a different one means the file was replaced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntryIdentity {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in epoch nanoseconds (local disk) or the S3 `LastModified` (milliseconds, as nanoseconds).
    pub modified_ns: i128,
    /// The S3 `ETag`, or the inode on local disk (a file renamed over another has a new one).
    pub tag: Option<String>,
}

/// Storage access for every table: the local disk always, S3 when a client is configured.
#[derive(Debug, Clone)]
pub struct Store {
    s3: Option<aws_sdk_s3::Client>,
    local_signer: LocalSigner,
}

impl Store {
    /// A store that signs local files with `local_signer` and reaches S3 through `s3`, if given.
    pub fn new(local_signer: LocalSigner, s3: Option<aws_sdk_s3::Client>) -> Self {
        Store { s3, local_signer }
    }

    /// The signer of local file URLs.
    pub fn local_signer(&self) -> &LocalSigner {
        &self.local_signer
    }

    fn s3(&self) -> Result<&aws_sdk_s3::Client> {
        self.s3.as_ref().ok_or_else(|| Error::Storage {
            failure: crate::Failure::Refused,
            message: "a table is on S3 but the server has no S3 settings".into(),
        })
    }

    /// Lists `_delta_log/`, sorted by name. An absent log gives an empty list.
    pub async fn list_log(&self, location: &Location) -> Result<Vec<LogEntry>> {
        match location {
            Location::Local(root) => {
                let dir = root.join("_delta_log");
                let mut entries = Vec::new();
                let mut read_dir = match tokio::fs::read_dir(&dir).await {
                    Ok(rd) => rd,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(entries),
                    Err(e) => return Err(Error::io(e)),
                };
                while let Some(entry) = read_dir.next_entry().await.map_err(Error::io)? {
                    let Ok(name) = entry.file_name().into_string() else {
                        continue;
                    };
                    let meta = match entry.metadata().await {
                        Ok(meta) => meta,
                        // Removed between the directory read and the stat: not in the log any more.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(Error::io(e)),
                    };
                    if !meta.is_file() {
                        continue;
                    }
                    let modified = meta.modified().map_err(Error::io)?;
                    entries.push(LogEntry {
                        name,
                        last_modified_ms: epoch_ms(modified),
                        identity: EntryIdentity {
                            size: meta.len(),
                            modified_ns: epoch_ns(modified),
                            tag: file_tag(&meta),
                        },
                    });
                }
                entries.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(entries)
            }
            Location::S3 { bucket, prefix } => {
                let log_prefix = Location::s3_key(prefix, "_delta_log/");
                let mut entries = Vec::new();
                let mut pages = self
                    .s3()?
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(&log_prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(s3_error)?;
                    for object in page.contents() {
                        let Some(name) = object.key().and_then(|k| k.strip_prefix(&log_prefix))
                        else {
                            continue;
                        };
                        if name.is_empty() || name.contains('/') {
                            continue;
                        }
                        let modified = object
                            .last_modified()
                            .map(|t| t.to_millis().unwrap_or(0))
                            .unwrap_or(0);
                        entries.push(LogEntry {
                            name: name.to_string(),
                            last_modified_ms: modified,
                            identity: EntryIdentity {
                                size: object.size().unwrap_or(0).max(0) as u64,
                                modified_ns: i128::from(modified) * 1_000_000,
                                tag: object.e_tag().map(str::to_string),
                            },
                        });
                    }
                }
                entries.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(entries)
            }
        }
    }

    /// Reads one file of `_delta_log/`.
    pub async fn read_log_file(&self, location: &Location, name: &str) -> Result<Bytes> {
        match location {
            Location::Local(root) => tokio::fs::read(root.join("_delta_log").join(name))
                .await
                .map(Bytes::from)
                .map_err(Error::io),
            Location::S3 { bucket, prefix } => {
                let key = Location::s3_key(prefix, &format!("_delta_log/{name}"));
                let object = self
                    .s3()?
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(s3_error)?;
                let body = object.body.collect().await.map_err(|e| Error::Storage {
                    failure: crate::Failure::Transient,
                    message: e.to_string(),
                })?;
                Ok(body.into_bytes())
            }
        }
    }

    /// A URL that lets anyone holding it download one file of the table until `expires_at`.
    /// `relative` must already be checked to stay inside the table root. A local file's URL names
    /// `recipient` (the token's name, for the access log), under its signature.
    pub async fn sign(
        &self,
        location_url: &str,
        location: &Location,
        relative: &str,
        recipient: Option<&str>,
        expires_at: SystemTime,
    ) -> Result<String> {
        match location {
            Location::Local(_) => {
                Ok(self
                    .local_signer
                    .sign(location_url, relative, recipient, expires_at))
            }
            Location::S3 { bucket, prefix } => {
                let ttl = expires_at
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::from_secs(1));
                let presigning = PresigningConfig::expires_in(ttl)
                    .map_err(|e| Error::InvalidParameter(format!("bad URL lifetime: {e}")))?;
                let request = self
                    .s3()?
                    .get_object()
                    .bucket(bucket)
                    .key(Location::s3_key(prefix, relative))
                    .presigned(presigning)
                    .await
                    .map_err(s3_error)?;
                Ok(request.uri().to_string())
            }
        }
    }
}

#[cfg(unix)]
fn file_tag(meta: &std::fs::Metadata) -> Option<String> {
    Some(format!(
        "inode {}",
        std::os::unix::fs::MetadataExt::ino(meta)
    ))
}

#[cfg(not(unix))]
fn file_tag(_: &std::fs::Metadata) -> Option<String> {
    None
}

fn epoch_ns(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

fn epoch_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn s3_error<E, R>(err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let read = crate::s3::classify("S3", &err);
    Error::Storage {
        failure: read.failure,
        message: read.message,
    }
}
