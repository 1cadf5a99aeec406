//! Writing `share.yaml`: the backend regenerates it from its database, and a server may read it at any
//! moment, so a write replaces the file in one step (a temporary file in the same directory, flushed to
//! disk, then renamed over the old one). Readers see the old file or the new one, never a part of either.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::RawConfig;

/// The YAML text of a config, as the server reads it.
pub fn to_yaml(config: &RawConfig) -> String {
    serde_yaml::to_string(config).expect("the config model always serializes")
}

/// Replaces `path` with `contents` atomically (a temporary file beside it, flushed, then renamed).
pub fn write_atomically(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    // Unique per process and call, so concurrent writers never share a temporary file.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let temporary = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create_new(&temporary)?;
        file.write_all(contents.as_ref())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShareConfig;
    use crate::config::{RawSchema, RawShare, RawTable};

    fn config(tables: usize) -> RawConfig {
        RawConfig {
            version: Some(1),
            shares: vec![RawShare {
                name: Some("s".into()),
                schemas: vec![RawSchema {
                    name: Some("d".into()),
                    tables: (0..tables)
                        .map(|i| RawTable {
                            name: Some(format!("t{i}")),
                            location: Some(format!("file:///data/t{i}")),
                            ..Default::default()
                        })
                        .collect(),
                }],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn what_is_written_reads_back() {
        let parsed = ShareConfig::from_yaml(&to_yaml(&config(3))).unwrap();
        assert_eq!(parsed.shares[0].schemas[0].tables.len(), 3);
    }

    #[test]
    fn the_generation_round_trips_and_comes_first() {
        let written = to_yaml(&RawConfig {
            generation: Some(42),
            ..config(1)
        });
        assert!(
            written.starts_with("version: 1\ngeneration: 42\n"),
            "{written}"
        );
        assert_eq!(
            ShareConfig::from_yaml(&written).unwrap().generation(),
            Some(42)
        );
        let without = to_yaml(&config(1));
        assert!(!without.contains("generation"), "{without}");
        assert_eq!(ShareConfig::from_yaml(&without).unwrap().generation(), None);
    }

    #[test]
    fn readers_never_see_a_torn_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("share.yaml");
        write_atomically(&path, to_yaml(&config(1))).unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for writer in 0..4 {
                let path = &path;
                scope.spawn(move || {
                    for i in 0..50 {
                        write_atomically(path, to_yaml(&config(1 + (writer * 50 + i) % 200)))
                            .unwrap();
                    }
                });
            }
            let reader = scope.spawn(|| {
                let mut reads = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) || reads == 0 {
                    let text = std::fs::read_to_string(&path).unwrap();
                    ShareConfig::from_yaml(&text).expect("every read is a whole file");
                    reads += 1;
                }
                reads
            });
            std::thread::sleep(std::time::Duration::from_millis(200));
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            assert!(reader.join().unwrap() > 0);
        });
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name() != "share.yaml")
            .collect();
        assert!(leftovers.is_empty(), "no temporary files are left");
    }
}
