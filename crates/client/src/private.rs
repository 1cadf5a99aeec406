//! Files the clients make for their user alone: directories 0700, files 0600, whatever the umask (on
//! Unix; elsewhere the per-user locations the OS gives are private already). Upload journals, the account
//! record, the staged (converted) copies of the user's CSV files, and the desktop app's settings.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Creates `dir` and its missing parents, each one it creates 0700. An existing `dir` is left as it is
/// (it may be a directory the user chose, such as a home directory).
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Creates `dir` like [`create_dir_all`] and makes `dir` itself 0700 even if it existed: for directories
/// that are the client's own (`uploads/`, `staging/`, the app's configuration directory).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes `path` atomically (a temporary file beside it, then a rename), as a 0600 file. The directory
/// must exist.
pub fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    #[cfg(unix)]
    {
        // A temporary left by a crash keeps its old mode when opened again.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents)?;
    drop(file);
    std::fs::rename(&temporary, path)
}

/// Makes every directory under `root` (itself included) 0700 and every file 0600; symbolic links are
/// not followed. For trees another library wrote (the staged Delta table).
pub fn restrict_tree(root: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut pending = vec![root.to_path_buf()];
        while let Some(path) = pending.pop() {
            let metadata = std::fs::symlink_metadata(&path)?;
            let mode = if metadata.is_dir() {
                for entry in std::fs::read_dir(&path)? {
                    pending.push(entry?.path());
                }
                0o700
            } else if metadata.is_file() {
                0o600
            } else {
                continue;
            };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = root;
    Ok(())
}

#[cfg(all(test, unix))]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// The permission bits of `path`.
    pub(crate) fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    /// Runs `f` with a permissive umask (0o022: 0644 files, 0755 directories by default), one such test
    /// at a time (the umask belongs to the whole process).
    pub(crate) fn with_permissive_umask<T>(f: impl FnOnce() -> T) -> T {
        static UMASK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = UMASK.lock().unwrap_or_else(|e| e.into_inner());
        let before = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
        let result = f();
        rustix::process::umask(before);
        result
    }

    #[test]
    fn directories_are_0700_and_files_0600_whatever_the_umask() {
        let root = tempfile::tempdir().unwrap();
        with_permissive_umask(|| {
            let dir = root.path().join("a/b");
            private_dir(&dir).unwrap();
            assert_eq!(mode(&root.path().join("a")), 0o700);
            assert_eq!(mode(&dir), 0o700);
            let file = dir.join("x.json");
            write(&file, b"{}").unwrap();
            assert_eq!(mode(&file), 0o600);
            assert_eq!(std::fs::read(&file).unwrap(), b"{}");
            // A temporary a crash left with a wide mode, and an existing directory, are tightened.
            std::fs::write(dir.join("x.json.tmp"), b"old").unwrap();
            std::fs::set_permissions(
                dir.join("x.json.tmp"),
                std::fs::Permissions::from_mode(0o666),
            )
            .unwrap();
            write(&file, b"{\"a\":1}").unwrap();
            assert_eq!(mode(&file), 0o600);
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            private_dir(&dir).unwrap();
            assert_eq!(mode(&dir), 0o700);
            // create_dir_all leaves an existing directory alone.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            create_dir_all(&dir).unwrap();
            assert_eq!(mode(&dir), 0o755);
            // A tree someone else wrote.
            std::fs::create_dir_all(dir.join("t/_delta_log")).unwrap();
            std::fs::write(dir.join("t/_delta_log/0.json"), b"{}").unwrap();
            std::fs::write(dir.join("t/part-0.parquet"), b"PAR1").unwrap();
            restrict_tree(&dir.join("t")).unwrap();
            for (path, expected) in [
                ("t", 0o700),
                ("t/_delta_log", 0o700),
                ("t/_delta_log/0.json", 0o600),
                ("t/part-0.parquet", 0o600),
            ] {
                assert_eq!(mode(&dir.join(path)), expected, "{path}");
            }
        });
    }
}
