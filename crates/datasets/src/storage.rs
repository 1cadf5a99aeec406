//! Where data files and Delta logs live: a local directory by default, S3 (any S3-compatible server) by
//! configuration. One interface above both; keys are relative to the storage root.
//!
//! On S3, clients upload straight to the bucket with presigned PUTs (or presigned parts and a complete).
//! On local disk, they upload to the backend's own upload route, which calls [`Storage::receive`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::{Error, Result};

/// The storage root.
#[derive(Debug, Clone)]
pub enum Storage {
    /// A directory on this machine.
    Local {
        /// Absolute root directory.
        root: PathBuf,
    },
    /// A bucket and a key prefix.
    S3 {
        /// The client (endpoint, region, credentials).
        client: aws_sdk_s3::Client,
        /// Bucket.
        bucket: String,
        /// Prefix without leading or trailing `/` (may be empty).
        prefix: String,
    },
}

/// A presigned request for one object or part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// URL.
    pub url: String,
    /// Headers the request must carry.
    pub headers: Vec<(String, String)>,
}

/// Where local uploads are received before they are renamed into place.
const RECEIVING: &str = ".receiving";

/// A temporary file, removed when dropped unless taken.
struct Temporary(Option<PathBuf>);

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A failed S3 call: refused (the server's configuration, for the operator to fix) or worth a retry.
pub(crate) fn s3_failure<E, R>(what: &str, e: &aws_sdk_s3::error::SdkError<E, R>) -> Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let read = delta_bridge_tables::classify(what, e);
    match read.failure {
        delta_bridge_tables::Failure::Refused => Error::StorageRefused(read.message),
        _ => Error::Storage(read.message),
    }
}

fn storage_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("{what}: {e}"))
}

fn io_error(what: &Path, e: std::io::Error) -> Error {
    Error::Storage(format!("{}: {e}", what.display()))
}

impl Storage {
    /// Local storage under `root` (created if missing).
    pub fn local(root: &Path) -> Result<Storage> {
        std::fs::create_dir_all(root).map_err(|e| io_error(root, e))?;
        let root = std::fs::canonicalize(root).map_err(|e| io_error(root, e))?;
        Ok(Storage::Local { root })
    }

    /// Whether clients upload through the backend's own route.
    pub fn is_local(&self) -> bool {
        matches!(self, Storage::Local { .. })
    }

    /// The URL of a directory as `share.yaml` names table locations.
    pub fn location(&self, key: &str) -> String {
        match self {
            Storage::Local { root } => {
                let path = root.join(key);
                url::Url::from_directory_path(&path)
                    .map(|u| u.to_string().trim_end_matches('/').to_string())
                    .unwrap_or_else(|_| format!("file://{}", path.display()))
            }
            Storage::S3 { bucket, .. } => format!("s3://{bucket}/{}", self.s3_key(key)),
        }
    }

    fn s3_key(&self, key: &str) -> String {
        match self {
            Storage::S3 { prefix, .. } if !prefix.is_empty() => format!("{prefix}/{key}"),
            _ => key.to_string(),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        match self {
            Storage::Local { root } => root.join(key),
            Storage::S3 { .. } => unreachable!("local paths only on local storage"),
        }
    }

    fn s3(&self) -> (&aws_sdk_s3::Client, &str) {
        match self {
            Storage::S3 { client, bucket, .. } => (client, bucket),
            Storage::Local { .. } => unreachable!("S3 calls only on S3 storage"),
        }
    }

    /// Presigns one PUT of exactly `size` bytes whose SHA-256 is `sha256` (S3 only).
    pub async fn presign_put(
        &self,
        key: &str,
        size: i64,
        sha256: &str,
        expires_in: Duration,
    ) -> Result<Presigned> {
        let (client, bucket) = self.s3();
        let checksum = base64::engine::general_purpose::STANDARD
            .encode(hex::decode(sha256).map_err(|e| storage_error("checksum", e))?);
        let request = client
            .put_object()
            .bucket(bucket)
            .key(self.s3_key(key))
            .content_length(size)
            .checksum_sha256(checksum)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| s3_failure("presigning a PUT", &e))?;
        Ok(presigned(request))
    }

    /// Starts a multipart upload (S3 only) and returns its id.
    pub async fn start_multipart(&self, key: &str) -> Result<String> {
        let (client, bucket) = self.s3();
        let output = client
            .create_multipart_upload()
            .bucket(bucket)
            .key(self.s3_key(key))
            .send()
            .await
            .map_err(|e| s3_failure("starting a multipart upload", &e))?;
        output
            .upload_id
            .ok_or_else(|| Error::Storage("no multipart upload id".into()))
    }

    /// Presigns the PUT of one part (S3 only).
    pub async fn presign_part(
        &self,
        key: &str,
        multipart_id: &str,
        number: i32,
        expires_in: Duration,
    ) -> Result<Presigned> {
        let (client, bucket) = self.s3();
        let request = client
            .upload_part()
            .bucket(bucket)
            .key(self.s3_key(key))
            .upload_id(multipart_id)
            .part_number(number)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| s3_failure("presigning a part", &e))?;
        Ok(presigned(request))
    }

    /// Completes a multipart upload from its parts' ETags, in part order.
    pub async fn complete_multipart(
        &self,
        key: &str,
        multipart_id: &str,
        etags: &[String],
    ) -> Result<()> {
        match self {
            Storage::S3 { .. } => {
                let (client, bucket) = self.s3();
                let parts = etags
                    .iter()
                    .enumerate()
                    .map(|(i, etag)| {
                        CompletedPart::builder()
                            .part_number(i as i32 + 1)
                            .e_tag(etag)
                            .build()
                    })
                    .collect();
                client
                    .complete_multipart_upload()
                    .bucket(bucket)
                    .key(self.s3_key(key))
                    .upload_id(multipart_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(
                        |e| match (e.as_service_error(), s3_failure("joining parts", &e)) {
                            // The client's parts (a missing one, a wrong ETag, one too small).
                            (Some(service), Error::Storage(_)) => Error::Invalid(format!(
                                "the parts of {key} could not be joined: {} {}",
                                service.code().unwrap_or("error"),
                                service.message().unwrap_or_default()
                            )),
                            (_, other) => other,
                        },
                    )?;
                Ok(())
            }
            Storage::Local { .. } => {
                // Parts were received under .uploads/<multipart id>/<n>; join them in order.
                let parts_dir = self.path(&format!(".uploads/{multipart_id}"));
                let target = self.path(key);
                let temporary = target.with_extension("joining");
                let result: std::io::Result<()> = async {
                    if let Some(parent) = target.parent() {
                        tokio::fs::create_dir_all(parent).await?;
                    }
                    let mut out = tokio::fs::File::create(&temporary).await?;
                    for number in 1..=etags.len() {
                        let mut part =
                            tokio::fs::File::open(parts_dir.join(number.to_string())).await?;
                        tokio::io::copy(&mut part, &mut out).await?;
                    }
                    out.sync_all().await?;
                    tokio::fs::rename(&temporary, &target).await
                }
                .await;
                if let Err(e) = result {
                    let _ = tokio::fs::remove_file(&temporary).await;
                    if e.kind() == std::io::ErrorKind::NotFound {
                        return Err(Error::Invalid(format!(
                            "a part of {key} was never uploaded"
                        )));
                    }
                    return Err(io_error(&target, e));
                }
                let _ = tokio::fs::remove_dir_all(&parts_dir).await;
                Ok(())
            }
        }
    }

    /// The parts of a multipart upload that storage holds, with their ETags (empty when storage does
    /// not say).
    pub async fn received_parts(
        &self,
        multipart_id: &str,
        key: &str,
    ) -> Result<Vec<(i64, String)>> {
        match self {
            Storage::Local { .. } => {
                let dir = self.path(&format!(".uploads/{multipart_id}"));
                let mut parts = Vec::new();
                let mut entries = match tokio::fs::read_dir(&dir).await {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(parts),
                    Err(e) => return Err(io_error(&dir, e)),
                };
                while let Some(entry) = entries.next_entry().await.map_err(|e| io_error(&dir, e))? {
                    if let Some(number) = entry
                        .file_name()
                        .to_str()
                        .and_then(|n| n.parse::<i64>().ok())
                    {
                        parts.push((number, String::new()));
                    }
                }
                parts.sort();
                Ok(parts)
            }
            Storage::S3 { .. } => {
                let (client, bucket) = self.s3();
                let output = client
                    .list_parts()
                    .bucket(bucket)
                    .key(self.s3_key(key))
                    .upload_id(multipart_id)
                    .send()
                    .await
                    .map_err(|e| s3_failure("listing parts", &e))?;
                let mut parts: Vec<(i64, String)> = output
                    .parts()
                    .iter()
                    .filter_map(|p| {
                        Some((
                            p.part_number()? as i64,
                            p.e_tag().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect();
                parts.sort();
                Ok(parts)
            }
        }
    }

    /// The size of an object, or `None` when it does not exist.
    pub async fn size(&self, key: &str) -> Result<Option<u64>> {
        match self {
            Storage::Local { .. } => match tokio::fs::metadata(self.path(key)).await {
                Ok(m) if m.is_file() => Ok(Some(m.len())),
                Ok(_) => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_error(&self.path(key), e)),
            },
            Storage::S3 { .. } => {
                let (client, bucket) = self.s3();
                match client
                    .head_object()
                    .bucket(bucket)
                    .key(self.s3_key(key))
                    .send()
                    .await
                {
                    Ok(output) => Ok(Some(output.content_length.unwrap_or(0).max(0) as u64)),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
                    Err(e) => Err(s3_failure("reading object metadata", &e)),
                }
            }
        }
    }

    /// The last `length` bytes of an object of `size` bytes.
    pub async fn tail(&self, key: &str, size: u64, length: u64) -> Result<Bytes> {
        let start = size.saturating_sub(length);
        match self {
            Storage::Local { .. } => {
                let path = self.path(key);
                let mut file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| io_error(&path, e))?;
                file.seek(std::io::SeekFrom::Start(start))
                    .await
                    .map_err(|e| io_error(&path, e))?;
                let mut buffer = Vec::with_capacity((size - start) as usize);
                file.read_to_end(&mut buffer)
                    .await
                    .map_err(|e| io_error(&path, e))?;
                Ok(Bytes::from(buffer))
            }
            Storage::S3 { .. } => {
                let (client, bucket) = self.s3();
                let output = client
                    .get_object()
                    .bucket(bucket)
                    .key(self.s3_key(key))
                    .range(format!("bytes={start}-{}", size.saturating_sub(1)))
                    .send()
                    .await
                    .map_err(|e| s3_failure("reading an object", &e))?;
                let body = output
                    .body
                    .collect()
                    .await
                    .map_err(|e| storage_error("reading an object", e))?;
                Ok(body.into_bytes())
            }
        }
    }

    /// Whether an object's SHA-256 is `expected` (lowercase hex). On S3, an object put with an
    /// `x-amz-checksum-sha256` header (every presigned single PUT) was checked by S3 as it arrived, and
    /// its stored checksum answers without reading the object; anything else is read and hashed.
    pub async fn has_sha256(&self, key: &str, expected: &str) -> Result<bool> {
        if let Storage::S3 { .. } = self {
            let (client, bucket) = self.s3();
            let head = client
                .head_object()
                .bucket(bucket)
                .key(self.s3_key(key))
                .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
                .send()
                .await
                .map_err(|e| s3_failure("reading object metadata", &e))?;
            let stored = head
                .checksum_sha256()
                .filter(|c| !c.contains('-'))
                .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
                .filter(|b| b.len() == 32);
            if let Some(stored) = stored {
                return Ok(hex::encode(stored) == expected);
            }
        }
        Ok(self.sha256(key).await? == expected)
    }

    /// The SHA-256 (lowercase hex) of a whole object, read as a stream.
    pub async fn sha256(&self, key: &str) -> Result<String> {
        let mut hasher = Sha256::new();
        match self {
            Storage::Local { .. } => {
                // Hashing is CPU work: on a blocking thread, so requests on the async workers go on.
                let path = self.path(key);
                return tokio::task::spawn_blocking(move || {
                    use std::io::Read;
                    let mut file = std::fs::File::open(&path).map_err(|e| io_error(&path, e))?;
                    let mut buffer = vec![0u8; 1 << 20];
                    loop {
                        let n = file.read(&mut buffer).map_err(|e| io_error(&path, e))?;
                        if n == 0 {
                            break;
                        }
                        hasher.update(&buffer[..n]);
                    }
                    Ok(hex::encode(hasher.finalize()))
                })
                .await
                .map_err(|e| Error::Storage(format!("hashing an object: {e}")))?;
            }
            Storage::S3 { .. } => {
                let (client, bucket) = self.s3();
                let output = client
                    .get_object()
                    .bucket(bucket)
                    .key(self.s3_key(key))
                    .send()
                    .await
                    .map_err(|e| s3_failure("reading an object", &e))?;
                let mut body = output.body;
                while let Some(chunk) = body
                    .try_next()
                    .await
                    .map_err(|e| storage_error("reading an object", e))?
                {
                    hasher.update(&chunk);
                }
            }
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// Writes a small object whole only if nothing is at `key` yet (a log entry: Delta log entries are
    /// immutable). `Ok(false)` when something is there already; readers see all of it or nothing.
    pub async fn put_new(&self, key: &str, bytes: Bytes) -> Result<bool> {
        match self {
            Storage::Local { .. } => {
                let path = self.path(key);
                let target = path.clone();
                tokio::task::spawn_blocking(move || create_new_atomically(&target, &bytes))
                    .await
                    .map_err(std::io::Error::other)
                    .and_then(|r| r)
                    .map_err(|e| io_error(&path, e))
            }
            Storage::S3 { .. } => {
                let (client, bucket) = self.s3();
                let written = client
                    .put_object()
                    .bucket(bucket)
                    .key(self.s3_key(key))
                    .if_none_match("*")
                    .body(ByteStream::from(bytes))
                    .send()
                    .await;
                match written {
                    Ok(_) => Ok(true),
                    // 412: something is there; 409: another conditional write of it is under way.
                    Err(e)
                        if matches!(
                            e.raw_response().map(|r| r.status().as_u16()),
                            Some(412 | 409)
                        ) =>
                    {
                        Ok(false)
                    }
                    Err(e) => Err(s3_failure("writing an object", &e)),
                }
            }
        }
    }

    /// A small object's bytes (a log entry), or `None` if it is not there.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match self {
            Storage::Local { .. } => {
                let path = self.path(key);
                match tokio::fs::read(&path).await {
                    Ok(bytes) => Ok(Some(Bytes::from(bytes))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io_error(&path, e)),
                }
            }
            Storage::S3 { .. } => {
                let (client, bucket) = self.s3();
                let output = client
                    .get_object()
                    .bucket(bucket)
                    .key(self.s3_key(key))
                    .send()
                    .await;
                match output {
                    Ok(output) => {
                        let body = output
                            .body
                            .collect()
                            .await
                            .map_err(|e| storage_error("reading an object", e))?;
                        Ok(Some(body.into_bytes()))
                    }
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                    Err(e) => Err(s3_failure("reading an object", &e)),
                }
            }
        }
    }

    /// Deletes one object and, if it was going up in parts, the parts (aborting the multipart
    /// upload). What is not there is not an error.
    pub async fn delete_object(&self, key: &str, multipart_id: Option<&str>) -> Result<()> {
        match self {
            Storage::Local { .. } => {
                let path = self.path(key);
                match tokio::fs::remove_file(&path).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(io_error(&path, e));
                    }
                    _ => {}
                }
                // Parts are received under .uploads/<multipart id>/<n>.
                match multipart_id {
                    Some(id) => self.delete_prefix(&format!(".uploads/{id}")).await,
                    None => Ok(()),
                }
            }
            Storage::S3 { .. } => {
                let (client, bucket) = self.s3();
                if let Some(id) = multipart_id {
                    let aborted = client
                        .abort_multipart_upload()
                        .bucket(bucket)
                        .key(self.s3_key(key))
                        .upload_id(id)
                        .send()
                        .await;
                    match aborted {
                        // Completed or aborted already: nothing to do.
                        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_upload()) => {}
                        other => {
                            other.map_err(|e| s3_failure("aborting a multipart upload", &e))?;
                        }
                    }
                }
                client
                    .delete_object()
                    .bucket(bucket)
                    .key(self.s3_key(key))
                    .send()
                    .await
                    .map_err(|e| s3_failure("deleting an object", &e))?;
                Ok(())
            }
        }
    }

    /// Deletes every object under `prefix` (a dataset's directory).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        match self {
            Storage::Local { .. } => {
                let path = self.path(prefix);
                match tokio::fs::remove_dir_all(&path).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(io_error(&path, e)),
                }
            }
            Storage::S3 { .. } => {
                let (client, bucket) = self.s3();
                let full = format!("{}/", self.s3_key(prefix.trim_end_matches('/')));
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(&full)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| s3_failure("listing objects", &e))?;
                    for object in page.contents() {
                        if let Some(key) = object.key() {
                            client
                                .delete_object()
                                .bucket(bucket)
                                .key(key)
                                .send()
                                .await
                                .map_err(|e| s3_failure("deleting an object", &e))?;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Removes the temporaries of local uploads untouched for `idle` (an upload killed or cut off
    /// mid-way); answers how many.
    pub async fn remove_stale_temporaries(&self, idle: Duration) -> Result<usize> {
        let Storage::Local { .. } = self else {
            return Ok(0);
        };
        let dir = self.path(RECEIVING);
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_error(&dir, e)),
        };
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await.map_err(|e| io_error(&dir, e))? {
            let stale = entry
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age >= idle);
            if stale && tokio::fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Receives an upload to local storage: at most `limit` bytes from `body` into `key` (or, for a
    /// part, `.uploads/<multipart id>/<n>`), made visible only when complete and, if `sha256` is given,
    /// matching it. Exactly `limit` bytes must arrive. Returns the bytes written and their SHA-256.
    pub async fn receive<S, E>(
        &self,
        key: &str,
        body: S,
        limit: u64,
        sha256: Option<&str>,
    ) -> Result<(u64, String)>
    where
        S: Stream<Item = std::result::Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let target = self.path(key);
        let parent = target.parent().unwrap_or(Path::new("/")).to_path_buf();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| io_error(&parent, e))?;
        // Temporaries live in one directory (on the same file system, so the rename is atomic), where
        // the sweeper finds those an interrupted upload left.
        let receiving = self.path(RECEIVING);
        tokio::fs::create_dir_all(&receiving)
            .await
            .map_err(|e| io_error(&receiving, e))?;
        let temporary = receiving.join(format!(
            "{}.{}.receiving",
            target
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("upload"),
            crate::ids::random_hex(8)
        ));
        // Removed however the receive ends: an error, or the request dropped mid-way (a client that
        // went away, a timeout).
        let mut guard = Temporary(Some(temporary.clone()));
        let result = async {
            let mut file = tokio::fs::File::create(&temporary)
                .await
                .map_err(|e| io_error(&temporary, e))?;
            let mut hasher = Sha256::new();
            let mut written = 0u64;
            let mut body = std::pin::pin!(body);
            while let Some(chunk) = body.next().await {
                let chunk = chunk
                    .map_err(|e| Error::Invalid(format!("the upload was interrupted: {e}")))?;
                written += chunk.len() as u64;
                if written > limit {
                    return Err(Error::TooLarge(format!(
                        "more than the {limit} bytes that were presigned"
                    )));
                }
                hasher.update(&chunk);
                file.write_all(&chunk)
                    .await
                    .map_err(|e| io_error(&temporary, e))?;
            }
            let digest = hex::encode(hasher.finalize());
            if written != limit {
                return Err(Error::Invalid(format!(
                    "{written} bytes were sent, but {limit} were presigned"
                )));
            }
            if sha256.is_some_and(|expected| digest != expected) {
                return Err(Error::Invalid(
                    "the bytes sent do not have the SHA-256 that was presigned".into(),
                ));
            }
            file.sync_all().await.map_err(|e| io_error(&temporary, e))?;
            tokio::fs::rename(&temporary, &target)
                .await
                .map_err(|e| io_error(&target, e))?;
            Ok((written, digest))
        }
        .await;
        if result.is_ok() {
            guard.0 = None;
        }
        result
    }
}

/// Creates `path` with `contents` unless it exists: a temporary file beside it, flushed, then linked
/// to the name (which fails if the name is taken), so readers never see a part of it.
fn create_new_atomically(path: &Path, contents: &[u8]) -> std::io::Result<bool> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(
        ".{}.{}.new",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        crate::ids::random_hex(8)
    ));
    let result = (|| {
        let mut file = std::fs::File::create_new(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        match std::fs::hard_link(&temporary, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    })();
    let _ = std::fs::remove_file(&temporary);
    result
}

fn presigning(expires_in: Duration) -> Result<PresigningConfig> {
    PresigningConfig::expires_in(expires_in).map_err(|e| storage_error("presigning", e))
}

fn presigned(request: aws_sdk_s3::presigning::PresignedRequest) -> Presigned {
    Presigned {
        url: request.uri().to_string(),
        headers: request
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}
