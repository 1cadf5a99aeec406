//! Live reload of `share.yaml`: on a file-system event in its directory, on SIGHUP, and every two
//! seconds as a fallback for file systems without events. A new file takes effect for requests that
//! arrive after it is parsed; requests in flight finish on the config they started with.
//!
//! Fail closed: a file that differs from the one in force but cannot be loaded (unreadable, deleted, not
//! YAML, a key this server does not know) may carry a revocation, so the last good config serves for at
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
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            refuse(state, path, format!("reading {}: {e}", path.display()));
            return false;
        }
    };
    let new_digest = digest(&bytes);
    let current = state.current.load();
    if current.digest == new_digest {
        // The file in place is the one in force: whatever was refused before no longer matters.
        restore(state, path);
        return false;
    }
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|_| "the file is not UTF-8".to_string())
        .and_then(|text| ShareConfig::from_yaml(text).map_err(|e| e.to_string()));
    match parsed {
        Err(reason) => {
            refuse(state, path, reason);
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
            let share_generation = config.generation();
            state.current.store(Arc::new(Generation {
                config,
                number,
                loaded_at: chrono::Utc::now(),
                digest: new_digest,
            }));
            restore(state, path);
            tracing::info!(
                generation = number,
                share_generation,
                "reloaded {}",
                path.display()
            );
            true
        }
    }
}

/// Records a refused file. The grace starts at the first refusal and is not extended by later ones.
fn refuse(state: &AppState, path: &Path, reason: String) {
    let grace = state.current.load().config.settings.stale_config_grace;
    let now = Instant::now();
    let mut refusal = state.refusal.lock().expect("refusal lock");
    match refusal.as_mut() {
        None => {
            tracing::warn!(
                "refused {}: {reason}; the last good config serves for at most {} s \
                 (staleConfigGraceSeconds), then every share request is refused until a valid file arrives",
                path.display(),
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
                tracing::warn!("refused {} again: {reason}", path.display());
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
            "{} has been refused for {} s: every share request is now refused (503 CONFIG_REFUSED) until a valid file arrives: {}",
            path.display(),
            now.saturating_duration_since(known.since).as_secs(),
            known.reason
        );
    }
}

/// Ends a refusal: the file in place is the one in force.
fn restore(state: &AppState, path: &Path) {
    if state.refusal.lock().expect("refusal lock").take().is_some() {
        tracing::info!(
            "{} is valid again: serving generation {}",
            path.display(),
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
