//! The writer side: a journal directory on the sharing server's disk, and the tasks that fill and ship it.
//!
//! The journal directory holds `server` (this server's id, random hex, made once), `last-segment` (the
//! highest segment number used, so numbers never repeat even when the clock steps back), `lock` (held
//! while a process uses the directory), at most one open segment `<segment>.open` and the closed segments
//! `<segment>.jsonl` waiting to be shipped.
//!
//! [`Journal::record`] hands its line to one writer task, which takes every line waiting, appends them
//! with one write and one `fdatasync`, then answers them all (group commit): the caller's answer leaves
//! only after its line is durable. Every ship interval the writer closes the open segment if it holds a
//! line (renames it to `.jsonl`) and wakes the shipper, which ships closed segments oldest first and
//! removes each from the journal only once the destination has it, retrying with backoff. Closed segments
//! wait on disk, never in memory, however slow the destination. At [`Journal::open`], what a killed process
//! left is closed (a torn last line, never acknowledged, is cut off) and shipped first.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::destination::{
    blocking, private_dir, private_file, sync_dir, valid_segment, valid_server, write_durably,
};
use crate::{Access, Destination, Error, SegmentKey};

const SERVER_FILE: &str = "server";
const FLOOR_FILE: &str = "last-segment";
const LOCK_FILE: &str = "lock";
/// Lines waiting for the writer; beyond this, callers wait to hand theirs over.
const QUEUE: usize = 4096;
/// Lines in one write and fsync at most.
const MAX_BATCH: usize = 4096;
/// How long a graceful shutdown tries to ship what is left (the rest ships at the next start).
const SHUTDOWN_SHIPPING: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The access journal of one sharing server. Needs a Tokio runtime (it runs two tasks).
pub struct Journal {
    shared: Arc<Shared>,
    sender: mpsc::Sender<Command>,
    stop: watch::Sender<bool>,
    writer: Mutex<Option<JoinHandle<()>>>,
    shipper: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.shared.dir)
            .field("server", &self.shared.server)
            .field("destination", &self.shared.destination.to_string())
            .field("healthy", &self.is_healthy())
            .finish()
    }
}

/// Counters of one journal since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records made durable.
    pub records: u64,
    /// Writes with their `fdatasync` (one per group of records).
    pub syncs: u64,
    /// Segments shipped (and removed from the journal).
    pub shipped: u64,
    /// Closed segments waiting to be shipped, at the shipper's last look.
    pub pending: u64,
}

struct Shared {
    dir: PathBuf,
    server: String,
    destination: Destination,
    healthy: AtomicBool,
    wake_shipper: Notify,
    records: AtomicU64,
    syncs: AtomicU64,
    shipped: AtomicU64,
    pending: AtomicU64,
    /// Added to every write (tests of group commit only).
    sync_delay: Duration,
    /// Held while this process uses the directory.
    _lock: File,
}

struct Pending {
    json: Vec<u8>,
    reply: oneshot::Sender<Result<(), Error>>,
}

enum Command {
    Record(Pending),
    Shutdown(oneshot::Sender<()>),
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, closes and queues for shipping whatever a previous process
    /// left there, and starts the writer and the shipper. Segments are closed every `ship_interval` when
    /// they hold a record. Fails when the directory cannot be made or written, or another process uses it.
    pub async fn open(
        dir: impl Into<PathBuf>,
        destination: Destination,
        ship_interval: Duration,
    ) -> Result<Journal, Error> {
        Self::open_inner(dir.into(), destination, ship_interval, Duration::ZERO).await
    }

    async fn open_inner(
        dir: PathBuf,
        destination: Destination,
        ship_interval: Duration,
        sync_delay: Duration,
    ) -> Result<Journal, Error> {
        let prepared = {
            let dir = dir.clone();
            blocking(move || prepare(&dir)).await?
        };
        if prepared.recovered > 0 {
            tracing::info!(
                journal = %dir.display(),
                "closed {} segment(s) a previous process left open; shipping them first",
                prepared.recovered
            );
        }
        let shared = Arc::new(Shared {
            dir,
            server: prepared.server,
            destination,
            healthy: AtomicBool::new(true),
            wake_shipper: Notify::new(),
            records: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            shipped: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            sync_delay,
            _lock: prepared.lock,
        });
        let (sender, commands) = mpsc::channel(QUEUE);
        let (stop, stopped) = watch::channel(false);
        let writer = Writer {
            shared: shared.clone(),
            current: None,
            last: prepared.floor,
            broken: Vec::new(),
        };
        let interval = ship_interval.max(Duration::from_millis(10));
        let writer = tokio::spawn(writer.run(commands, interval));
        let shipper = tokio::spawn(ship_loop(shared.clone(), stopped));
        Ok(Journal {
            shared,
            sender,
            stop,
            writer: Mutex::new(Some(writer)),
            shipper: Mutex::new(Some(shipper)),
        })
    }

    /// Appends `access` to the open segment under a fresh id (`<server>-<segment>-<line>`) and returns once
    /// it is on disk (fsync'd). An error means it is not recorded: the request must not be answered.
    pub async fn record(&self, access: Access) -> Result<(), Error> {
        let json = serde_json::to_vec(&access).expect("records serialize");
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Command::Record(Pending { json, reply }))
            .await
            .map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// This server's id in record ids and shipped segment names.
    pub fn server(&self) -> &str {
        &self.shared.server
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Where segments are shipped.
    pub fn destination(&self) -> &Destination {
        &self.shared.destination
    }

    /// False from a failed write until a write (or, every ship interval, a new segment) succeeds again.
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy.load(Ordering::Relaxed)
    }

    /// Counters since the journal was opened.
    pub fn stats(&self) -> Stats {
        Stats {
            records: self.shared.records.load(Ordering::Relaxed),
            syncs: self.shared.syncs.load(Ordering::Relaxed),
            shipped: self.shared.shipped.load(Ordering::Relaxed),
            pending: self.shared.pending.load(Ordering::Relaxed),
        }
    }

    /// Graceful shutdown: records already handed over are written, the open segment is closed, and
    /// closed segments are shipped (for at most 10 s; what is left ships at the next start). Later
    /// [`Journal::record`] calls fail with [`Error::Closed`].
    pub async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.sender.send(Command::Shutdown(done)).await.is_ok() {
            let _ = finished.await;
        }
        let writer = self.writer.lock().expect("writer lock").take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
        let _ = self.stop.send(true);
        let shipper = self.shipper.lock().expect("shipper lock").take();
        if let Some(mut shipper) = shipper
            && tokio::time::timeout(SHUTDOWN_SHIPPING, &mut shipper)
                .await
                .is_err()
        {
            shipper.abort();
            tracing::warn!(
                destination = %self.shared.destination,
                "access log segments not shipped within {} s of shutting down stay in {} and ship at the next start",
                SHUTDOWN_SHIPPING.as_secs(),
                self.shared.dir.display()
            );
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // The writer stops by itself once the channel closes (closing its segment).
        if let Some(shipper) = self.shipper.get_mut().ok().and_then(Option::take) {
            shipper.abort();
        }
    }
}

/// One line of a segment: `{"id":"<id>",` then the access's own fields.
#[cfg(test)]
pub(crate) fn line(id: &str, json: &[u8]) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(json.len() + id.len() + 10);
    append_line(&mut buffer, id, json);
    buffer
}

fn append_line(buffer: &mut Vec<u8>, id: &str, json: &[u8]) {
    debug_assert!(json.starts_with(b"{\"") && json.ends_with(b"}"));
    buffer.extend_from_slice(b"{\"id\":");
    serde_json::to_writer(&mut *buffer, id).expect("strings serialize");
    buffer.push(b',');
    buffer.extend_from_slice(&json[1..]);
    buffer.push(b'\n');
}

struct Prepared {
    server: String,
    floor: u64,
    lock: File,
    recovered: usize,
}

/// Creates the directory, takes its lock, reads or makes the server id, and closes what a previous
/// process left open.
fn prepare(dir: &Path) -> Result<Prepared, Error> {
    private_dir(dir).map_err(Error::io("creating", dir))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = private_file()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(Error::io("creating", &lock_path))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::InUse {
                path: dir.to_path_buf(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("locking", &lock_path)(e)),
    }
    let server_path = dir.join(SERVER_FILE);
    let server = match std::fs::read_to_string(&server_path) {
        Ok(text) if valid_server(text.trim()) => text.trim().to_string(),
        Ok(_) => {
            return Err(Error::Corrupt {
                path: server_path,
                reason: "it should hold this server's id (letters, digits, '-', '_')".into(),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|e| Error::Io {
                action: "making a server id for",
                path: server_path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
            let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            write_durably(dir, SERVER_FILE, id.as_bytes())?;
            id
        }
        Err(e) => return Err(Error::io("reading", &server_path)(e)),
    };
    let floor_path = dir.join(FLOOR_FILE);
    let mut floor = match std::fs::read_to_string(&floor_path) {
        Ok(text) => text.trim().parse::<u64>().map_err(|_| Error::Corrupt {
            path: floor_path.clone(),
            reason: "it should hold the last segment number".into(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(Error::io("reading", &floor_path)(e)),
    };
    let mut recovered = 0;
    for entry in std::fs::read_dir(dir).map_err(Error::io("listing", dir))? {
        let entry = entry.map_err(Error::io("listing", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        let Some((number, extension)) = segment_file(name) else {
            continue;
        };
        floor = floor.max(number);
        if extension == "open" {
            close_segment(&entry.path(), None)?;
            recovered += 1;
        }
    }
    Ok(Prepared {
        server,
        floor,
        lock,
        recovered,
    })
}

/// `<digits>.open` or `<digits>.jsonl`: the number and the extension.
fn segment_file(name: &str) -> Option<(u64, &str)> {
    let (stem, extension) = name.split_once('.')?;
    if !valid_segment(stem) || !(extension == "open" || extension == "jsonl") {
        return None;
    }
    Some((stem.parse().ok()?, extension))
}

/// The closed segments waiting in the journal, oldest first: (segment name, path).
fn closed_segments(dir: &Path) -> Result<Vec<(u64, String, PathBuf)>, Error> {
    let mut closed = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io("listing", dir))? {
        let entry = entry.map_err(Error::io("listing", dir))?;
        if let Some(name) = entry.file_name().to_str()
            && let Some((number, "jsonl")) = segment_file(name)
        {
            let stem = name.trim_end_matches(".jsonl").to_string();
            closed.push((number, stem, entry.path()));
        }
    }
    closed.sort();
    Ok(closed)
}

/// Closes an open segment: keeps its first `keep` bytes (or, unknown, everything up to its last line
/// break: a torn last line was never acknowledged), then renames it to `.jsonl`, or removes it when
/// nothing is left. Returns whether a segment with records was closed.
fn close_segment(path: &Path, keep: Option<u64>) -> Result<bool, Error> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("opening", path)(e)),
    };
    let size = file
        .metadata()
        .map_err(Error::io("reading the size of", path))?
        .len();
    let keep = match keep {
        Some(keep) => keep.min(size),
        None => last_line_end(&mut file, size).map_err(Error::io("reading", path))?,
    };
    if keep < size {
        file.set_len(keep)
            .and_then(|()| file.sync_all())
            .map_err(Error::io("cutting the torn end of", path))?;
    }
    drop(file);
    let dir = path.parent().unwrap_or(Path::new("."));
    if keep == 0 {
        std::fs::remove_file(path).map_err(Error::io("removing", path))?;
        sync_dir(dir)?;
        return Ok(false);
    }
    let closed = path.with_extension("jsonl");
    std::fs::rename(path, &closed).map_err(Error::io("closing", path))?;
    sync_dir(dir)?;
    Ok(true)
}

/// Where the file's last complete line ends (0 when it holds none).
fn last_line_end(file: &mut File, size: u64) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut end = size;
    while end > 0 {
        let start = end.saturating_sub(buffer.len() as u64);
        let chunk = &mut buffer[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

struct Segment {
    number: u64,
    path: PathBuf,
    file: Arc<File>,
    lines: u64,
    len: u64,
}

struct Writer {
    shared: Arc<Shared>,
    current: Option<Segment>,
    /// The highest segment number used or seen.
    last: u64,
    /// Open segments whose write failed: (path, bytes known good), closed at the next tick.
    broken: Vec<(PathBuf, u64)>,
}

impl Writer {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>, interval: Duration) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = ticks.tick() => self.rotate().await,
                command = commands.recv() => match command {
                    Some(Command::Record(first)) => {
                        let mut batch = vec![first];
                        let mut shutdown = None;
                        while batch.len() < MAX_BATCH {
                            match commands.try_recv() {
                                Ok(Command::Record(next)) => batch.push(next),
                                Ok(Command::Shutdown(done)) => {
                                    shutdown = Some(done);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        self.write(batch).await;
                        if let Some(done) = shutdown {
                            self.finish().await;
                            let _ = done.send(());
                            return;
                        }
                    }
                    Some(Command::Shutdown(done)) => {
                        self.finish().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.finish().await;
                        return;
                    }
                },
            }
        }
    }

    async fn write(&mut self, batch: Vec<Pending>) {
        if self.current.is_none()
            && let Err(e) = self.open_segment().await
        {
            let reason = e.to_string();
            self.fail(&reason);
            for pending in batch {
                let _ = pending.reply.send(Err(Error::Unavailable {
                    reason: reason.clone(),
                }));
            }
            return;
        }
        let server = &self.shared.server;
        let segment = self.current.as_mut().expect("opened above");
        let mut buffer = Vec::with_capacity(batch.iter().map(|p| p.json.len() + 64).sum());
        for pending in &batch {
            segment.lines += 1;
            let id = format!("{server}-{:016}-{}", segment.number, segment.lines);
            append_line(&mut buffer, &id, &pending.json);
        }
        let written = buffer.len() as u64;
        let file = segment.file.clone();
        let path = segment.path.clone();
        let delay = self.shared.sync_delay;
        let result = blocking(move || {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            (&*file)
                .write_all(&buffer)
                .and_then(|()| file.sync_data())
                .map_err(Error::io("writing", &path))
        })
        .await;
        self.shared.syncs.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => {
                segment.len += written;
                let count = batch.len() as u64;
                self.shared.records.fetch_add(count, Ordering::Relaxed);
                metrics::counter!("delta_bridge_access_records_total").increment(count);
                self.recovered();
                for pending in batch {
                    let _ = pending.reply.send(Ok(()));
                }
            }
            Err(e) => {
                let reason = e.to_string();
                let segment = self.current.take().expect("written above");
                self.broken.push((segment.path, segment.len));
                self.fail(&reason);
                for pending in batch {
                    let _ = pending.reply.send(Err(Error::Unavailable {
                        reason: reason.clone(),
                    }));
                }
            }
        }
    }

    async fn open_segment(&mut self) -> Result<(), Error> {
        let number = now_ms().max(self.last + 1);
        // Never used again, even if this attempt fails half-way.
        self.last = number;
        let dir = self.shared.dir.clone();
        let segment = blocking(move || {
            write_durably(&dir, FLOOR_FILE, number.to_string().as_bytes())?;
            let path = dir.join(format!("{number:016}.open"));
            let file = private_file()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(Error::io("creating", &path))?;
            sync_dir(&dir)?;
            Ok(Segment {
                number,
                path,
                file: Arc::new(file),
                lines: 0,
                len: 0,
            })
        })
        .await?;
        self.current = Some(segment);
        Ok(())
    }

    /// Every ship interval: closes the open segment if it holds a record and wakes the shipper; retries
    /// closing broken segments; while failing, tries to open a segment (so the journal recovers, and
    /// `/readyz` with it, without waiting for a request).
    async fn rotate(&mut self) {
        self.close_broken().await;
        if self.current.as_ref().is_some_and(|s| s.lines > 0) {
            let segment = self.current.take().expect("checked");
            let (path, len) = (segment.path, segment.len);
            let closing = path.clone();
            match blocking(move || close_segment(&closing, Some(len))).await {
                Ok(_) => self.shared.wake_shipper.notify_one(),
                Err(e) => {
                    self.fail(&e.to_string());
                    self.broken.push((path, len));
                }
            }
        }
        if self.current.is_none() && !self.shared.healthy.load(Ordering::Relaxed) {
            match self.open_segment().await {
                Ok(()) => self.recovered(),
                Err(e) => tracing::debug!("the access journal is still failing: {e}"),
            }
        }
    }

    async fn close_broken(&mut self) {
        let mut still = Vec::new();
        for (path, len) in std::mem::take(&mut self.broken) {
            let closing = path.clone();
            match blocking(move || close_segment(&closing, Some(len))).await {
                Ok(true) => self.shared.wake_shipper.notify_one(),
                Ok(false) => {}
                Err(_) => still.push((path, len)),
            }
        }
        self.broken = still;
    }

    /// At shutdown (or when the journal is dropped): closes what is open.
    async fn finish(&mut self) {
        self.close_broken().await;
        if let Some(segment) = self.current.take() {
            let (path, len) = (segment.path, segment.len);
            if let Err(e) = blocking(move || close_segment(&path, Some(len))).await {
                tracing::error!(
                    "closing the access journal's open segment: {e} (it is closed at the next start)"
                );
            }
        }
        self.shared.wake_shipper.notify_one();
    }

    fn fail(&self, reason: &str) {
        if self.shared.healthy.swap(false, Ordering::Relaxed) {
            tracing::error!(
                journal = %self.shared.dir.display(),
                "the access log cannot be written, so requests are answered 503 ACCESS_LOG_UNAVAILABLE until it can: {reason}"
            );
        }
    }

    fn recovered(&self) {
        if !self.shared.healthy.swap(true, Ordering::Relaxed) {
            tracing::info!(journal = %self.shared.dir.display(), "the access log is written again");
        }
    }
}

async fn ship_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        let stopping = *stop.borrow_and_update();
        let all_shipped = ship_pending(&shared, &mut failures).await;
        if stopping {
            return;
        }
        let backoff = MAX_BACKOFF
            .min(Duration::from_secs(1) * 2u32.saturating_pow(failures.saturating_sub(1)));
        tokio::select! {
            _ = shared.wake_shipper.notified(), if all_shipped => {}
            _ = tokio::time::sleep(backoff), if !all_shipped => {}
            changed = stop.changed() => if changed.is_err() { return },
        }
    }
}

/// Ships every closed segment, oldest first; stops at the first failure. Whether all were shipped.
async fn ship_pending(shared: &Shared, failures: &mut u32) -> bool {
    let dir = shared.dir.clone();
    let pending = match blocking(move || closed_segments(&dir)).await {
        Ok(pending) => pending,
        Err(e) => {
            tracing::warn!("listing the access journal: {e}");
            *failures += 1;
            return false;
        }
    };
    let mut left = pending.len() as u64;
    set_pending(shared, left);
    for (_, segment, path) in pending {
        let key = SegmentKey {
            server: shared.server.clone(),
            segment,
        };
        match ship_one(shared, &key, &path).await {
            Ok(()) => {
                shared.shipped.fetch_add(1, Ordering::Relaxed);
                left -= 1;
                set_pending(shared, left);
                if *failures > 0 {
                    tracing::info!(destination = %shared.destination, "access log segments are shipped again");
                }
                *failures = 0;
            }
            Err(e) => {
                *failures += 1;
                if *failures == 1 || failures.is_multiple_of(10) {
                    tracing::warn!(
                        destination = %shared.destination,
                        "shipping the access log segment {key} failed ({} attempt(s); {left} segment(s) wait in {}): {e}",
                        failures,
                        shared.dir.display()
                    );
                }
                return false;
            }
        }
    }
    true
}

async fn ship_one(shared: &Shared, key: &SegmentKey, path: &Path) -> Result<(), Error> {
    let body = tokio::fs::read(path)
        .await
        .map_err(Error::io("reading", path))?;
    shared.destination.ship(key, body).await?;
    let path = path.to_path_buf();
    let dir = shared.dir.clone();
    blocking(move || {
        std::fs::remove_file(&path).map_err(Error::io("removing", &path))?;
        sync_dir(&dir)
    })
    .await
}

fn set_pending(shared: &Shared, pending: u64) {
    shared.pending.store(pending, Ordering::Relaxed);
    metrics::gauge!("delta_bridge_access_segments_pending").set(pending as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Record, list_shipped, read_shipped, timestamp};

    fn access(n: usize) -> Access {
        Access {
            at: timestamp(SystemTime::now()),
            recipient: format!("r{}", n % 3),
            operation: "query".into(),
            share: Some("s".into()),
            schema: Some("d".into()),
            table: Some("t".into()),
            table_id: None,
            version: Some(n as i64),
            files: Some(2),
            bytes: None,
            status: 200,
            user_agent: None,
            address: None,
        }
    }

    async fn shipped(destination: &Destination) -> Vec<Record> {
        let mut records = Vec::new();
        for key in list_shipped(destination).await.unwrap() {
            records.extend(read_shipped(destination, &key).await.unwrap());
        }
        records
    }

    fn ids_unique(records: &[Record]) -> bool {
        let ids: std::collections::HashSet<_> = records.iter().map(|r| &r.id).collect();
        ids.len() == records.len()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_records_share_one_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let destination = Destination::Dir(dir.path().join("out"));
        // Each write takes 100 ms: the records arriving meanwhile wait for the next one, together.
        let journal = Arc::new(
            Journal::open_inner(
                dir.path().join("journal"),
                destination.clone(),
                Duration::from_secs(60),
                Duration::from_millis(100),
            )
            .await
            .unwrap(),
        );
        let tasks: Vec<_> = (0..200)
            .map(|n| {
                let journal = journal.clone();
                tokio::spawn(async move { journal.record(access(n)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let stats = journal.stats();
        assert_eq!(stats.records, 200);
        assert!(stats.syncs <= 5, "200 records took {} fsyncs", stats.syncs);
        // Acknowledged means on disk: the open segment already holds every line.
        let open: Vec<_> = std::fs::read_dir(dir.path().join("journal"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "open"))
            .collect();
        assert_eq!(open.len(), 1);
        assert_eq!(
            std::fs::read_to_string(&open[0]).unwrap().lines().count(),
            200
        );
        journal.shutdown().await;
        let records = shipped(&destination).await;
        assert_eq!(records.len(), 200);
        assert!(ids_unique(&records));
        let mut versions: Vec<_> = records.iter().map(|r| r.version.unwrap()).collect();
        versions.sort();
        assert_eq!(versions, (0..200).collect::<Vec<i64>>());
    }

    #[tokio::test]
    async fn segments_ship_every_interval_and_ids_stay_unique_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let destination = Destination::Dir(dir.path().join("out"));
        let journal_dir = dir.path().join("journal");
        let journal = Journal::open(
            &journal_dir,
            destination.clone(),
            Duration::from_millis(100),
        )
        .await
        .unwrap();
        let server = journal.server().to_string();
        assert_eq!(server.len(), 16);
        for n in 0..3 {
            journal.record(access(n)).await.unwrap();
        }
        // Shipped within the interval, without a shutdown, and gone from the journal.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while shipped(&destination).await.len() < 3 {
            assert!(tokio::time::Instant::now() < deadline, "not shipped");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let keys = list_shipped(&destination).await.unwrap();
        assert!(keys.iter().all(|k| k.server == server), "{keys:?}");
        assert!(
            std::fs::read_dir(dir.path().join("out").join(&server))
                .unwrap()
                .all(|e| !e.unwrap().file_name().to_string_lossy().starts_with('.')),
            "no temporary file is left"
        );
        journal.record(access(3)).await.unwrap();
        journal.shutdown().await;
        assert!(matches!(
            journal.record(access(9)).await,
            Err(Error::Closed)
        ));
        drop(journal);

        // Reopened (another process, the same journal): the same server id, new segment numbers.
        let journal = Journal::open(
            &journal_dir,
            destination.clone(),
            Duration::from_millis(100),
        )
        .await
        .unwrap();
        assert_eq!(journal.server(), server);
        for n in 4..7 {
            journal.record(access(n)).await.unwrap();
        }
        journal.shutdown().await;
        let records = shipped(&destination).await;
        assert_eq!(records.len(), 7);
        assert!(ids_unique(&records), "{records:?}");
        assert!(
            records
                .iter()
                .all(|r| r.id.starts_with(&format!("{server}-")))
        );
        let journal_files: Vec<_> = std::fs::read_dir(&journal_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".jsonl") || n.ends_with(".open"))
            .collect();
        assert!(journal_files.is_empty(), "{journal_files:?}");
    }

    #[tokio::test]
    async fn a_journal_in_use_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let destination = Destination::Dir(dir.path().join("out"));
        let first = Journal::open(
            dir.path().join("j"),
            destination.clone(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        let second = Journal::open(dir.path().join("j"), destination, Duration::from_secs(5)).await;
        assert!(matches!(second, Err(Error::InUse { .. })), "{second:?}");
        drop(first);
    }

    #[tokio::test]
    async fn a_torn_last_line_is_dropped_and_leftovers_ship_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("journal");
        let out = dir.path().join("out");
        // A destination that cannot be written: segments stay in the journal.
        std::fs::write(&out, "not a directory").unwrap();
        let destination = Destination::Dir(out.clone());
        let journal = Journal::open(&journal_dir, destination.clone(), Duration::from_millis(50))
            .await
            .unwrap();
        let server = journal.server().to_string();
        for n in 0..2 {
            journal.record(access(n)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        journal.record(access(2)).await.unwrap();
        journal.shutdown().await;
        assert_eq!(journal.stats().shipped, 0);
        drop(journal);
        let closed = std::fs::read_dir(&journal_dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".jsonl")
            })
            .count();
        assert_eq!(closed, 2, "both segments wait in the journal");

        // What a killed process leaves: an open segment with two whole lines and a torn third.
        let first = r#"{"id":"X-0000000000000001-1","at":"2025-01-01T00:00:00.000Z","recipient":"alice","operation":"query","status":200}"#
            .replace('X', &server);
        let second = first.replace("-1\"", "-2\"");
        std::fs::write(
            journal_dir.join("9000000000000000.open"),
            format!("{first}\n{second}\n{{\"id\":\"{server}-9000000000000000-3\",\"at\":\"20"),
        )
        .unwrap();
        // And an open segment holding only a torn line: nothing to ship.
        std::fs::write(journal_dir.join("9000000000000001.open"), "{\"id\":").unwrap();

        std::fs::remove_file(&out).unwrap();
        let journal = Journal::open(&journal_dir, destination.clone(), Duration::from_millis(50))
            .await
            .unwrap();
        journal.record(access(3)).await.unwrap();
        journal.shutdown().await;
        let keys = list_shipped(&destination).await.unwrap();
        assert_eq!(keys.len(), 4, "{keys:?}");
        let leftover = keys
            .iter()
            .find(|k| k.segment == "9000000000000000")
            .unwrap();
        let records = read_shipped(&destination, leftover).await.unwrap();
        assert_eq!(records.len(), 2, "the torn line is dropped");
        let records = shipped(&destination).await;
        assert_eq!(records.len(), 6);
        assert!(ids_unique(&records));
        // The segment opened after the leftovers is numbered after them.
        assert_eq!(
            keys.last()
                .unwrap()
                .segment
                .as_str()
                .cmp("9000000000000001"),
            std::cmp::Ordering::Greater
        );
    }

    #[tokio::test]
    async fn a_journal_that_cannot_be_written_refuses_records_and_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("journal");
        let destination = Destination::Dir(dir.path().join("out"));
        let journal = Journal::open(&journal_dir, destination.clone(), Duration::from_millis(50))
            .await
            .unwrap();
        // The directory replaced by a file (root may write anywhere, so permissions would not do).
        let moved = dir.path().join("moved");
        std::fs::rename(&journal_dir, &moved).unwrap();
        std::fs::write(&journal_dir, "x").unwrap();
        let error = journal.record(access(0)).await.unwrap_err();
        assert!(matches!(error, Error::Unavailable { .. }), "{error}");
        assert!(error.to_string().contains("journal"), "{error}");
        assert!(!journal.is_healthy());
        std::fs::remove_file(&journal_dir).unwrap();
        std::fs::rename(&moved, &journal_dir).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !journal.is_healthy() {
            assert!(tokio::time::Instant::now() < deadline, "never recovered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        journal.record(access(1)).await.unwrap();
        journal.shutdown().await;
        let records = shipped(&destination).await;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].version, Some(1));
    }
}
