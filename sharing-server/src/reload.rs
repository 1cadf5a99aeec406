//! Live reload of `share.yaml`: on a file-system event in its directory, on SIGHUP, and every two
//! seconds as a fallback for file systems without events. A new file takes effect for requests that
//! arrive after it is parsed; requests in flight finish on the config they started with. A file that
//! does not parse changes nothing but `lastReloadError` in `/healthz` and a warning in the log.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use delta_bridge_shares::ShareConfig;
use notify::{EventKind, RecursiveMode, Watcher};
use sha2::Digest;

use crate::state::{AppState, Generation};

fn digest(bytes: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(bytes).into()
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

/// The first generation of a server.
pub fn first_generation(config: ShareConfig, digest: [u8; 32]) -> ArcSwap<Generation> {
    ArcSwap::from_pointee(Generation {
        config,
        number: 1,
        loaded_at: chrono::Utc::now(),
        digest,
    })
}

/// Reloads the file if its bytes changed. Returns whether a new generation is in force.
pub fn reload(state: &AppState, path: &Path) -> bool {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            record_error(state, format!("reading {}: {e}", path.display()));
            return false;
        }
    };
    let new_digest = digest(&bytes);
    let current = state.current.load();
    if current.digest == new_digest {
        // The file in place is the one in force: whatever failed before no longer matters.
        *state.last_error.lock().expect("error lock") = None;
        return false;
    }
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|_| "the file is not UTF-8".to_string())
        .and_then(|text| ShareConfig::from_yaml(text).map_err(|e| e.to_string()));
    match parsed {
        Err(reason) => {
            record_error(state, reason);
            false
        }
        Ok(config) => {
            if config.settings.endpoint != current.config.settings.endpoint {
                tracing::warn!(
                    "'endpoint' changed in {}; the new prefix takes effect after a restart",
                    path.display()
                );
            }
            state
                .tables
                .set_capacity(config.settings.delta_table_cache_size);
            let number = current.number + 1;
            state.current.store(Arc::new(Generation {
                config,
                number,
                loaded_at: chrono::Utc::now(),
                digest: new_digest,
            }));
            *state.last_error.lock().expect("error lock") = None;
            tracing::info!(generation = number, "reloaded {}", path.display());
            true
        }
    }
}

fn record_error(state: &AppState, reason: String) {
    tracing::warn!("keeping the last good share.yaml: {reason}");
    *state.last_error.lock().expect("error lock") = Some(reason);
}

/// Stops watching when dropped.
pub struct WatchGuard(tokio::task::JoinHandle<()>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts watching `path` for changes.
pub fn watch(state: Arc<AppState>, path: PathBuf) -> anyhow::Result<WatchGuard> {
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
