//! Live reload of `share.yaml`. A file ([`Source::File`]): on a file-system event in its directory, on
//! SIGHUP, and every two seconds as a fallback for file systems without events. An S3 object
//! ([`Source::Object`], so the backend and the sharing servers need not share a file system): polled with
//! `If-None-Match` every `--config-poll-seconds` (and on SIGHUP); only a newer `generation` than the one in
//! force is applied, so a replica never goes back. A new config takes effect for requests that arrive after
//! it is parsed; requests in flight finish on the config they started with.
//!
//! Fail closed: a file that differs from the one in force but cannot be loaded (unreadable, deleted, not
//! YAML, a key this server does not know; for an object, also storage that cannot be reached) may carry a
//! revocation, so the last good config serves for at
//! most its `staleConfigGraceSeconds`; after that every share request is refused with 503
//! `CONFIG_REFUSED` until a valid file (or the one in force) is back, which restores service at once.
//! The reason goes to the log only (parser messages never quote values); `/healthz` says `degraded`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use delta_bridge_shares::ShareConfig;
use notify::{EventKind, RecursiveMode, Watcher};
use sha2::Digest;

use crate::state::{AppState, Generation, Refusal};

fn digest(bytes: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(bytes).into()
}

/// Where `share.yaml` comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file on this machine, watched.
    File(PathBuf),
    /// One S3 object, polled.
    Object {
        /// The client (endpoint, region, credentials).
        client: aws_sdk_s3::Client,
        /// The bucket.
        bucket: String,
        /// The object's key.
        key: String,
        /// How often it is asked for.
        poll: Duration,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Object { bucket, key, .. } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// Reads and parses the config, at start (any failure stops the start).
pub async fn load(source: &Source) -> anyhow::Result<(ShareConfig, [u8; 32])> {
    let bytes = match source {
        Source::File(path) => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
        }
        Source::Object { .. } => match fetch(source, None).await {
            Fetched::Body { bytes, .. } => bytes,
            Fetched::Unchanged => unreachable!("nothing to compare with"),
            Fetched::Failed(why) => anyhow::bail!(why),
        },
    };
    let text = std::str::from_utf8(&bytes).with_context(|| format!("{source} is not UTF-8"))?;
    let config = ShareConfig::from_yaml(text).with_context(|| format!("loading {source}"))?;
    Ok((config, digest(&bytes)))
}

/// Reads and parses the config file.
pub fn read(path: &Path) -> anyhow::Result<(ShareConfig, [u8; 32])> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text =
        std::str::from_utf8(&bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
    let config =
        ShareConfig::from_yaml(text).with_context(|| format!("loading {}", path.display()))?;
    Ok((config, digest(&bytes)))
}

/// Reloads the file if its bytes changed. Returns whether a new generation is in force.
pub fn reload(state: &AppState, path: &Path) -> bool {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()));
    apply(state, &path.display().to_string(), bytes, false)
}

/// Puts `bytes` (or the failure to read them) from `label` in force if they are a new valid config (with
/// `newer_only`, only if their `generation` is newer than the one in force). Returns whether a new
/// generation is in force.
fn apply(state: &AppState, label: &str, bytes: Result<Vec<u8>, String>, newer_only: bool) -> bool {
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(reason) => {
            refuse(state, label, reason);
            return false;
        }
    };
    let new_digest = digest(&bytes);
    let current = state.current.load();
    if current.digest == new_digest {
        // The file in place is the one in force: whatever was refused before no longer matters.
        restore(state, label);
        return false;
    }
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|_| "the file is not UTF-8".to_string())
        .and_then(|text| ShareConfig::from_yaml(text).map_err(|e| e.to_string()));
    match parsed {
        Err(reason) => {
            refuse(state, label, reason);
            false
        }
        Ok(config)
            if newer_only
                && matches!(
                    (config.generation(), current.config.generation()),
                    (Some(new), Some(now)) if new <= now
                ) =>
        {
            // A valid config no newer than the one in force: nothing is missing, nothing to apply.
            tracing::debug!(
                share_generation = config.generation(),
                "{label} is not newer than the config in force"
            );
            restore(state, label);
            false
        }
        Ok(config) => {
            if config.settings.endpoint != current.config.settings.endpoint {
                tracing::warn!(
                    "'endpoint' changed in {label}; the new prefix takes effect after a restart"
                );
            }
            state
                .tables
                .set_capacity(config.settings.delta_table_cache_size);
            let number = current.number + 1;
            let share_generation = config.generation();
            state.current.store(Arc::new(Generation {
                config,
                number,
                loaded_at: chrono::Utc::now(),
                digest: new_digest,
            }));
            restore(state, label);
            tracing::info!(generation = number, share_generation, "reloaded {label}");
            true
        }
    }
}

/// What a poll of the object found.
enum Fetched {
    /// The same version as last time (`If-None-Match`).
    Unchanged,
    /// Its bytes and ETag.
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
    },
    /// Why it could not be read (missing, denied, unreachable).
    Failed(String),
}

/// Asks for the object, unless it is still `etag`.
async fn fetch(source: &Source, etag: Option<&str>) -> Fetched {
    let Source::Object {
        client,
        bucket,
        key,
        ..
    } = source
    else {
        unreachable!("objects only")
    };
    let mut get = client.get_object().bucket(bucket).key(key);
    if let Some(etag) = etag {
        get = get.if_none_match(etag);
    }
    match get.send().await {
        Ok(answer) => {
            let etag = answer.e_tag().map(str::to_string);
            match answer.body.collect().await {
                Ok(bytes) => Fetched::Body {
                    bytes: bytes.to_vec(),
                    etag,
                },
                Err(e) => Fetched::Failed(format!("reading s3://{bucket}/{key}: {e}")),
            }
        }
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(304) => Fetched::Unchanged,
        Err(e) => Fetched::Failed(
            delta_bridge_tables::classify(&format!("reading s3://{bucket}/{key}"), &e).message,
        ),
    }
}

/// Records a refused file. The grace starts at the first refusal and is not extended by later ones.
fn refuse(state: &AppState, label: &str, reason: String) {
    metrics::counter!("delta_bridge_sharing_config_refusals_total").increment(1);
    let grace = state.current.load().config.settings.stale_config_grace;
    let now = Instant::now();
    let mut refusal = state.refusal.lock().expect("refusal lock");
    match refusal.as_mut() {
        None => {
            tracing::warn!(
                "refused {label}: {reason}; the last good config serves for at most {} s \
                 (staleConfigGraceSeconds), then every share request is refused until a valid file arrives",
                grace.as_secs_f64()
            );
            *refusal = Some(Refusal {
                since: now,
                reason,
                announced: false,
            });
        }
        Some(known) => {
            if known.reason != reason {
                tracing::warn!("refused {label} again: {reason}");
                known.reason = reason;
            }
        }
    }
    if let Some(known) = refusal.as_mut()
        && !known.announced
        && now.saturating_duration_since(known.since) >= grace
    {
        known.announced = true;
        tracing::error!(
            "{label} has been refused for {} s: every share request is now refused (503 CONFIG_REFUSED) until a valid file arrives: {}",
            now.saturating_duration_since(known.since).as_secs(),
            known.reason
        );
    }
}

/// Ends a refusal: the file in place is the one in force.
fn restore(state: &AppState, label: &str) {
    if state.refusal.lock().expect("refusal lock").take().is_some() {
        tracing::info!(
            "{label} is valid again: serving generation {}",
            state.current.load().number
        );
    }
}

/// Stops watching when dropped.
pub struct WatchGuard(tokio::task::JoinHandle<()>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts watching (a file) or polling (an object) `source` for changes.
pub fn watch(state: Arc<AppState>, source: Source) -> anyhow::Result<WatchGuard> {
    match source {
        Source::File(path) => watch_file(state, path),
        object @ Source::Object { .. } => poll_object(state, object),
    }
}

/// Polls the object every `poll` (and on SIGHUP), applying only newer generations.
fn poll_object(state: Arc<AppState>, source: Source) -> anyhow::Result<WatchGuard> {
    let Source::Object { poll, .. } = &source else {
        unreachable!("objects only")
    };
    let mut interval = tokio::time::interval(*poll);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("listening for SIGHUP")?;
    let label = source.to_string();
    let task = tokio::spawn(async move {
        // The version last read, to ask only for a newer one; its bytes, to judge it again while the
        // object stays the same (a refusal's grace runs out, or ends when the config in force comes back).
        let mut last: Option<(Option<String>, Vec<u8>)> = None;
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = hangup.recv() => tracing::info!("SIGHUP: reading {label}"),
            }
            let etag = last.as_ref().and_then(|(etag, _)| etag.as_deref());
            let bytes = match fetch(&source, etag).await {
                Fetched::Unchanged => match &last {
                    Some((_, bytes)) => Ok(bytes.clone()),
                    None => continue,
                },
                Fetched::Body { bytes, etag } => {
                    last = Some((etag, bytes.clone()));
                    Ok(bytes)
                }
                Fetched::Failed(why) => {
                    last = None;
                    Err(why)
                }
            };
            apply(&state, &label, bytes, true);
        }
    });
    Ok(WatchGuard(task))
}

/// Watches the file's directory, with SIGHUP and a 2 s poll as fallbacks.
fn watch_file(state: Arc<AppState>, path: PathBuf) -> anyhow::Result<WatchGuard> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let file_name = path.file_name().map(|n| n.to_owned());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if !matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any
        ) {
            return;
        }
        // Editors and atomic writers replace the file by renaming another one over it; any event on
        // the name (or on a Kubernetes-style `..data` link) counts.
        let relevant = event.paths.is_empty()
            || event.paths.iter().any(|p| {
                p.file_name() == file_name.as_deref() || p.to_string_lossy().contains("..data")
            });
        if relevant {
            let _ = tx.send(());
        }
    })
    .context("starting the share.yaml watcher")?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("watching {}", dir.display()))?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("listening for SIGHUP")?;
    let task = tokio::spawn(async move {
        let _watcher = watcher;
        let mut poll = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                Some(()) = rx.recv() => {
                    // Let a burst of events (truncate, write, close) settle, then read once.
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    while rx.try_recv().is_ok() {}
                }
                _ = hangup.recv() => tracing::info!("SIGHUP: reloading {}", path.display()),
                _ = poll.tick() => {}
            }
            let state = state.clone();
            let path = path.clone();
            let _ = tokio::task::spawn_blocking(move || reload(&state, &path)).await;
        }
    });
    Ok(WatchGuard(task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use delta_bridge_tables::{LocalSigner, Store, Tables};

    const GOOD: &str = "version: 1\ngeneration: 4\nstaleConfigGraceSeconds: 5\nshares:\n- name: s\n  schemas:\n  - name: d\n    tables:\n    - name: t\n      location: file:///data/t\n";

    fn state(dir: &Path) -> (AppState, PathBuf) {
        let path = dir.join("share.yaml");
        std::fs::write(&path, GOOD).unwrap();
        let (config, digest) = read(&path).unwrap();
        let tables = Tables::new(
            Store::new(LocalSigner::new([1; 32], "http://x/files"), None),
            10,
        );
        (AppState::new(config, digest, tables, 500, 1000.0), path)
    }

    fn after(seconds: u64) -> Instant {
        Instant::now() + Duration::from_secs(seconds)
    }

    #[test]
    fn a_refused_file_serves_the_last_good_config_for_the_grace_only() {
        let dir = tempfile::tempdir().unwrap();
        let (state, path) = state(dir.path());
        assert!(!state.fails_closed(after(3600)));
        // A key from a newer writer: refused, but it may hold a revocation.
        std::fs::write(
            &path,
            GOOD.replace("generation: 4", "generation: 5\nnewKey: 1"),
        )
        .unwrap();
        assert!(!reload(&state, &path));
        assert!(!state.fails_closed(Instant::now()), "within the grace");
        assert!(!state.fails_closed(after(4)));
        assert!(
            state.fails_closed(after(5)),
            "the grace of the config in force"
        );
        assert_eq!(state.current.load().number, 1);
        assert_eq!(state.current.load().config.generation(), Some(4));
        // Another bad file does not restart the clock.
        let since = state.refusal.lock().unwrap().as_ref().unwrap().since;
        std::fs::write(&path, "version: 1\nshares: [unclosed\n").unwrap();
        reload(&state, &path);
        assert_eq!(state.refusal.lock().unwrap().as_ref().unwrap().since, since);
        // A valid file restores service at once.
        std::fs::write(&path, GOOD.replace("generation: 4", "generation: 6")).unwrap();
        assert!(reload(&state, &path));
        assert!(!state.fails_closed(after(3600)));
        assert_eq!(state.current.load().config.generation(), Some(6));
    }

    #[test]
    fn a_deleted_file_is_refused_and_the_file_in_force_coming_back_ends_it() {
        let dir = tempfile::tempdir().unwrap();
        let (state, path) = state(dir.path());
        std::fs::remove_file(&path).unwrap();
        assert!(!reload(&state, &path));
        assert!(state.fails_closed(after(5)));
        std::fs::write(&path, GOOD).unwrap();
        assert!(
            !reload(&state, &path),
            "the same bytes: nothing new to load"
        );
        assert!(!state.fails_closed(after(3600)));
        assert!(state.refusal.lock().unwrap().is_none());
    }

    #[test]
    fn a_zero_grace_refuses_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (state, path) = state(dir.path());
        std::fs::write(&path, GOOD.replace("Seconds: 5", "Seconds: 0")).unwrap();
        assert!(reload(&state, &path));
        std::fs::write(&path, "not: [yaml").unwrap();
        reload(&state, &path);
        assert!(state.fails_closed(Instant::now()));
    }
}
