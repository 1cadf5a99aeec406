//! Where shipped segments go and how the backend reads them back: a directory, or a prefix in S3 (the
//! same object storage as `share.yaml`, so a sharing server on another host needs no shared file system).
//!
//! Layout: `<destination>/<server>/<segment>.jsonl`, one JSON [`Record`] per line. A directory
//! destination is written through a temporary `.<segment>.jsonl.tmp` renamed into place, so a reader never
//! sees a partial segment; S3 objects appear whole.

use std::cmp::Ordering;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use crate::{Error, Record};

/// The `--access-log` text: a directory, or `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on this machine (created when missing).
    Dir(PathBuf),
    /// A prefix in a bucket (no leading or trailing `/`).
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix segments are shipped under.
        prefix: String,
    },
}

impl Location {
    /// `s3://bucket/prefix`, else a path (`file://` accepted). An `s3://` URL without a bucket or a
    /// prefix is refused with a sentence saying what it needs.
    pub fn parse(text: &str) -> Result<Location, String> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let prefix = prefix.trim_matches('/');
            if bucket.is_empty() || prefix.is_empty() {
                return Err(format!(
                    "{text:?} names no {}: write s3://bucket/prefix (such as s3://my-bucket/access), under \
                     which each sharing server writes <server>/<segment>.jsonl",
                    if bucket.is_empty() {
                        "bucket"
                    } else {
                        "prefix"
                    }
                ));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        if text.trim().is_empty() {
            return Err(
                "the access log destination is empty: give a directory or s3://bucket/prefix"
                    .into(),
            );
        }
        Ok(Location::Dir(PathBuf::from(
            text.strip_prefix("file://").unwrap_or(text),
        )))
    }
}

impl std::str::FromStr for Location {
    type Err = String;

    fn from_str(text: &str) -> Result<Location, String> {
        Location::parse(text)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Dir(path) => write!(f, "{}", path.display()),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}/"),
        }
    }
}

/// Where closed segments are shipped, and read back from.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A directory.
    Dir(PathBuf),
    /// A prefix in S3.
    S3 {
        /// The client (credentials, endpoint, timeouts).
        client: aws_sdk_s3::Client,
        /// The bucket.
        bucket: String,
        /// The prefix, without leading or trailing `/`.
        prefix: String,
    },
}

impl Destination {
    /// The destination at `location`; `s3` is asked for a client only for an S3 location.
    pub fn new(location: Location, s3: impl FnOnce() -> aws_sdk_s3::Client) -> Destination {
        match location {
            Location::Dir(path) => Destination::Dir(path),
            Location::S3 { bucket, prefix } => Destination::S3 {
                client: s3(),
                bucket,
                prefix: prefix.trim_matches('/').to_string(),
            },
        }
    }

    fn s3_key(prefix: &str, key: &SegmentKey) -> String {
        format!("{prefix}/{}", key.path())
    }

    /// Where `key` is, for messages: a path or an `s3://` URL.
    pub fn describe(&self, key: &SegmentKey) -> String {
        match self {
            Destination::Dir(root) => root
                .join(&key.server)
                .join(key.file_name())
                .display()
                .to_string(),
            Destination::S3 { bucket, prefix, .. } => {
                format!("s3://{bucket}/{}", Self::s3_key(prefix, key))
            }
        }
    }

    /// Writes one closed segment; returns once it is durable there. Shipping a segment again writes the
    /// same bytes under the same name.
    pub(crate) async fn ship(&self, key: &SegmentKey, body: Vec<u8>) -> Result<(), Error> {
        match self {
            Destination::Dir(root) => {
                let root = root.clone();
                let key = key.clone();
                blocking(move || ship_to_dir(&root, &key, &body)).await
            }
            Destination::S3 {
                client,
                bucket,
                prefix,
            } => {
                let object = Self::s3_key(prefix, key);
                client
                    .put_object()
                    .bucket(bucket)
                    .key(&object)
                    .content_type("application/x-ndjson")
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(|e| Error::S3 {
                        action: "putting",
                        bucket: bucket.clone(),
                        key: object,
                        message: DisplayErrorContext(&e).to_string(),
                    })?;
                Ok(())
            }
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Dir(path) => write!(f, "{}", path.display()),
            Destination::S3 { bucket, prefix, .. } => write!(f, "s3://{bucket}/{prefix}/"),
        }
    }
}

/// One shipped segment: `<server>/<segment>.jsonl` under the destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SegmentKey {
    /// The sharing server's id (its journal's, stable across restarts).
    pub server: String,
    /// The segment's number as written (decimal digits, increasing per server: its opening time in
    /// milliseconds since the epoch, or one more than the server's previous segment).
    pub segment: String,
}

impl SegmentKey {
    /// `<server>/<segment>.jsonl`, or `None` for anything else (temporary files, other objects).
    pub fn parse(relative: &str) -> Option<SegmentKey> {
        let (server, file) = relative.split_once('/')?;
        let segment = file.strip_suffix(".jsonl")?;
        (valid_server(server) && valid_segment(segment)).then(|| SegmentKey {
            server: server.to_string(),
            segment: segment.to_string(),
        })
    }

    /// `<server>/<segment>.jsonl`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.server, self.file_name())
    }

    fn file_name(&self) -> String {
        format!("{}.jsonl", self.segment)
    }

    fn number(&self) -> u64 {
        self.segment.parse().unwrap_or(u64::MAX)
    }
}

impl fmt::Display for SegmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// Oldest first: by segment number (opening time), then server.
impl Ord for SegmentKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.number(), &self.server, &self.segment).cmp(&(
            other.number(),
            &other.server,
            &other.segment,
        ))
    }
}

impl PartialOrd for SegmentKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub(crate) fn valid_server(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(crate) fn valid_segment(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_digit())
        && name.parse::<u64>().is_ok()
}

/// The shipped segments at `destination`, oldest first. Anything else there (temporary files, the
/// journal directory of a directory destination, other objects) is skipped.
pub async fn list_shipped(destination: &Destination) -> Result<Vec<SegmentKey>, Error> {
    let mut keys = match destination {
        Destination::Dir(root) => {
            let root = root.clone();
            blocking(move || list_dir(&root)).await?
        }
        Destination::S3 {
            client,
            bucket,
            prefix,
        } => {
            let start = format!("{prefix}/");
            let mut pages = client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&start)
                .into_paginator()
                .send();
            let mut keys = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| Error::S3 {
                    action: "listing",
                    bucket: bucket.clone(),
                    key: start.clone(),
                    message: DisplayErrorContext(&e).to_string(),
                })?;
                keys.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key()?.strip_prefix(&start))
                        .filter_map(SegmentKey::parse),
                );
            }
            keys
        }
    };
    keys.sort();
    Ok(keys)
}

fn list_dir(root: &Path) -> Result<Vec<SegmentKey>, Error> {
    let servers = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing", root)(e)),
    };
    let mut keys = Vec::new();
    for entry in servers {
        let entry = entry.map_err(Error::io("listing", root))?;
        let Some(server) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !valid_server(&server) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        for file in std::fs::read_dir(&dir).map_err(Error::io("listing", &dir))? {
            let file = file.map_err(Error::io("listing", &dir))?;
            if let Some(key) = file
                .file_name()
                .to_str()
                .and_then(|name| SegmentKey::parse(&format!("{server}/{name}")))
                && file.file_type().is_ok_and(|t| t.is_file())
            {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

/// The records of one shipped segment, in the order they were answered. A line that is not a record is
/// an error naming the segment and the line.
pub async fn read_shipped(
    destination: &Destination,
    key: &SegmentKey,
) -> Result<Vec<Record>, Error> {
    let name = destination.describe(key);
    let bytes = match destination {
        Destination::Dir(root) => {
            let path = root.join(&key.server).join(key.file_name());
            tokio::fs::read(&path)
                .await
                .map_err(Error::io("reading", &path))?
        }
        Destination::S3 {
            client,
            bucket,
            prefix,
        } => {
            let object = Destination::s3_key(prefix, key);
            let s3_error = |message: String| Error::S3 {
                action: "reading",
                bucket: bucket.clone(),
                key: object.clone(),
                message,
            };
            let answer = client
                .get_object()
                .bucket(bucket)
                .key(&object)
                .send()
                .await
                .map_err(|e| s3_error(DisplayErrorContext(&e).to_string()))?;
            answer
                .body
                .collect()
                .await
                .map_err(|e| s3_error(e.to_string()))?
                .into_bytes()
                .to_vec()
        }
    };
    parse_segment(&name, &bytes)
}

pub(crate) fn parse_segment(name: &str, bytes: &[u8]) -> Result<Vec<Record>, Error> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.trim_ascii().is_empty())
        .map(|(i, line)| {
            serde_json::from_slice(line).map_err(|e| Error::Parse {
                segment: name.to_string(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Removes a shipped segment (once its records are stored). Removing one that is gone is not an error.
pub async fn remove_shipped(destination: &Destination, key: &SegmentKey) -> Result<(), Error> {
    match destination {
        Destination::Dir(root) => {
            let path = root.join(&key.server).join(key.file_name());
            match tokio::fs::remove_file(&path).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(Error::io("removing", &path)(e))
                }
                _ => Ok(()),
            }
        }
        Destination::S3 {
            client,
            bucket,
            prefix,
        } => {
            let object = Destination::s3_key(prefix, key);
            client
                .delete_object()
                .bucket(bucket)
                .key(&object)
                .send()
                .await
                .map_err(|e| Error::S3 {
                    action: "removing",
                    bucket: bucket.clone(),
                    key: object.clone(),
                    message: DisplayErrorContext(&e).to_string(),
                })?;
            Ok(())
        }
    }
}

fn ship_to_dir(root: &Path, key: &SegmentKey, body: &[u8]) -> Result<(), Error> {
    let dir = root.join(&key.server);
    if !dir.is_dir() {
        private_dir(&dir).map_err(Error::io("creating", &dir))?;
        sync_dir(root)?;
    }
    write_durably(&dir, &key.file_name(), body)
}

/// Writes `dir/name` whole or not at all, durably (temporary file, fsync, rename, fsync of the directory).
pub(crate) fn write_durably(dir: &Path, name: &str, content: &[u8]) -> Result<(), Error> {
    let temporary = dir.join(format!(".{name}.tmp"));
    let mut file = private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)
        .map_err(Error::io("creating", &temporary))?;
    file.write_all(content)
        .and_then(|()| file.sync_all())
        .map_err(Error::io("writing", &temporary))?;
    let target = dir.join(name);
    std::fs::rename(&temporary, &target).map_err(Error::io("renaming into", &target))?;
    sync_dir(dir)
}

/// Creates a directory and its missing parents for this machine's user alone (0700): the access log
/// names who read what from where. Directories that exist are left as they are.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Options that create files for this machine's user alone (0600).
pub(crate) fn private_file() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.mode(0o600);
    options
}

/// Makes a directory's entries (files created, renamed or removed in it) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("syncing", dir))
}

pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse("/var/lib/delta-bridge/access").unwrap(),
            Location::Dir("/var/lib/delta-bridge/access".into())
        );
        assert_eq!(
            Location::parse("file:///srv/access").unwrap(),
            Location::Dir("/srv/access".into())
        );
        let s3 = Location::parse("s3://bucket/access/").unwrap();
        assert_eq!(
            s3,
            Location::S3 {
                bucket: "bucket".into(),
                prefix: "access".into()
            }
        );
        assert_eq!(s3.to_string(), "s3://bucket/access/");
        assert!(
            Location::parse("s3://bucket")
                .unwrap_err()
                .contains("names no prefix")
        );
        assert!(
            Location::parse("s3://bucket//")
                .unwrap_err()
                .contains("names no prefix")
        );
        assert!(
            Location::parse("s3:///access")
                .unwrap_err()
                .contains("names no bucket")
        );
        assert!(Location::parse(" ").unwrap_err().contains("empty"));
    }

    #[test]
    fn segment_keys() {
        let key = SegmentKey::parse("0a1b/0000000000000042.jsonl").unwrap();
        assert_eq!(key.server, "0a1b");
        assert_eq!(key.segment, "0000000000000042");
        assert_eq!(key.to_string(), "0a1b/0000000000000042.jsonl");
        for other in [
            "0a1b/.0000000000000042.jsonl.tmp",
            "0a1b/42.json",
            "0a1b/x42.jsonl",
            ".journal/42.jsonl",
            "a/b/42.jsonl",
            "42.jsonl",
            "0a1b/.jsonl",
        ] {
            assert_eq!(SegmentKey::parse(other), None, "{other}");
        }
        let mut keys = [
            SegmentKey::parse("b/0000000000000002.jsonl").unwrap(),
            SegmentKey::parse("a/10.jsonl").unwrap(),
            SegmentKey::parse("a/0000000000000002.jsonl").unwrap(),
        ];
        keys.sort();
        let order: Vec<String> = keys.iter().map(SegmentKey::path).collect();
        assert_eq!(
            order,
            [
                "a/0000000000000002.jsonl",
                "b/0000000000000002.jsonl",
                "a/10.jsonl"
            ]
        );
    }

    #[tokio::test]
    async fn a_directory_destination_lists_reads_and_removes_whole_segments_only() {
        let dir = tempfile::tempdir().unwrap();
        let destination = Destination::Dir(dir.path().join("access"));
        assert_eq!(list_shipped(&destination).await.unwrap(), vec![]);
        let key = SegmentKey::parse("abc/0000000000000007.jsonl").unwrap();
        let line = r#"{"id":"abc-0000000000000007-1","at":"2025-01-01T00:00:00.000Z","recipient":"r","operation":"listShares","status":200}"#;
        destination
            .ship(&key, format!("{line}\n").into_bytes())
            .await
            .unwrap();
        // Who read what from where is for this machine's user alone, whatever the umask.
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| {
            std::fs::metadata(dir.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(
            (
                mode("access"),
                mode("access/abc"),
                mode("access/abc/0000000000000007.jsonl")
            ),
            (0o700, 0o700, 0o600)
        );
        // What must not be listed: a temporary file, the journal of a directory destination, strays.
        std::fs::write(
            dir.path().join("access/abc/.0000000000000008.jsonl.tmp"),
            "x",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("access/.journal")).unwrap();
        std::fs::write(
            dir.path().join("access/.journal/0000000000000009.jsonl"),
            "x",
        )
        .unwrap();
        std::fs::write(dir.path().join("access/README"), "x").unwrap();
        assert_eq!(list_shipped(&destination).await.unwrap(), vec![key.clone()]);
        let records = read_shipped(&destination, &key).await.unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].id, "abc-0000000000000007-1");
        assert_eq!(records[0].operation, "listShares");

        let bad = SegmentKey::parse("abc/0000000000000010.jsonl").unwrap();
        destination
            .ship(&bad, format!("{line}\n{{\"id\":\n").into_bytes())
            .await
            .unwrap();
        let message = read_shipped(&destination, &bad)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("abc/0000000000000010.jsonl line 2"),
            "{message}"
        );

        remove_shipped(&destination, &key).await.unwrap();
        remove_shipped(&destination, &key).await.unwrap();
        assert_eq!(list_shipped(&destination).await.unwrap(), vec![bad]);
    }
}
