//! File names and the filesystem steps of an atomic commit.
//!
//! A part is written as a hidden temp file in the output directory itself,
//! `.<prefix>-NNNNN.parquet.<pid>.tmp` (hidden, and not ending in `.parquet`, so readers and
//! globs skip it), and only gets its final name `<prefix>-NNNNN.parquet` by a `rename` in the
//! same directory — which replaces any existing file of that name atomically — after its footer
//! is written and its data fsynced. The directory is then fsynced so the renames survive a crash.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};

/// Final name of part `index`: `<prefix>-00042.parquet` (more digits past 99999).
pub(crate) fn final_name(prefix: &str, index: u64) -> String {
    format!("{prefix}-{index:05}.parquet")
}

/// Temp name of part `index` written by process `pid`: `.<prefix>-00042.parquet.<pid>.tmp`.
pub(crate) fn temp_name(prefix: &str, index: u64, pid: u32) -> String {
    format!(".{}.{pid}.tmp", final_name(prefix, index))
}

/// The part number of a final name of this prefix (`<prefix>-<digits>.parquet`), if it is one.
pub(crate) fn parse_final_name(prefix: &str, name: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_prefix('-')?.strip_suffix(".parquet")?;
    parse_digits(digits)
}

/// The pid of a temp name of this prefix (`.<prefix>-<digits>.parquet.<pid>.tmp`), if it is one.
pub(crate) fn parse_temp_name(prefix: &str, name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (final_part, pid) = rest.rsplit_once('.')?;
    parse_final_name(prefix, final_part)?;
    let pid = parse_digits(pid)?;
    u32::try_from(pid).ok()
}

fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Names of the entries of `dir` (non-UTF-8 names are skipped: we never write those).
pub(crate) fn list_names(dir: &Path) -> Result<Vec<String>> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io("cannot list directory", dir, e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("cannot list directory", dir, e))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

/// Highest part number of this prefix in `dir`, if any.
pub(crate) fn highest_part(dir: &Path, prefix: &str) -> Result<Option<u64>> {
    Ok(list_names(dir)?.iter().filter_map(|n| parse_final_name(prefix, n)).max())
}

/// Whether process `pid` still runs. Linux answers through `/proc`; elsewhere (or without
/// `/proc`) only our own pid counts as running.
pub(crate) fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc_root = Path::new("/proc");
    cfg!(target_os = "linux") && proc_root.join("self").exists() && proc_root.join(pid.to_string()).exists()
}

/// Removes the temp files of this prefix left in `dir` by runs that crashed: those of processes
/// no longer running, and our own pid's (a crashed earlier process can have had our pid, e.g.
/// pid 1 in a container; the caller holds the [`DirLock`] so no live sink of this process owns
/// them). Temps of other running processes, and every other file, are left alone.
pub(crate) fn remove_stale_temps(dir: &Path, prefix: &str) -> Result<()> {
    let own = std::process::id();
    for name in list_names(dir)? {
        let Some(pid) = parse_temp_name(prefix, &name) else { continue };
        remove_if_orphaned(dir, &name, pid, own)?;
    }
    Ok(())
}

/// Removes the temp file `name` of process `pid` when that process no longer runs or is us
/// (`own`): see [`remove_stale_temps`].
fn remove_if_orphaned(dir: &Path, name: &str, pid: u32, own: u32) -> Result<()> {
    if pid != own && process_alive(pid) {
        return Ok(());
    }
    let path = dir.join(name);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("cannot remove leftover temp file", &path, e)),
        _ => Ok(()),
    }
}

/// Removes a temp file, ignoring "not found" (it may already be renamed or never created).
pub(crate) fn remove_quietly(path: &Path) {
    let _ = fs::remove_file(path);
}

/// Renames a finished temp file to its final name, replacing any file of that name atomically.
pub(crate) fn publish(temp: &Path, final_path: &Path) -> Result<()> {
    fs::rename(temp, final_path).map_err(|e| Error::io(&format!("cannot rename {} to", temp.display()), final_path, e))
}

/// Makes the directory's entries (renames, deletions) durable. A no-op off unix, where
/// directories cannot be opened as files.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = fs::File::open(dir).map_err(|e| Error::io("cannot open directory to fsync", dir, e))?;
        d.sync_all().map_err(|e| Error::io("cannot fsync directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Deletes the parts of this prefix in `dir` whose numbers are not in `keep`.
/// Returns whether anything was deleted.
pub(crate) fn remove_other_parts(dir: &Path, prefix: &str, keep: &HashSet<u64>) -> Result<bool> {
    let mut removed = false;
    for name in list_names(dir)? {
        let Some(n) = parse_final_name(prefix, &name) else { continue };
        if keep.contains(&n) {
            continue;
        }
        let path = dir.join(&name);
        match fs::remove_file(&path) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("cannot remove stale part", &path, e)),
        }
    }
    Ok(removed)
}

/// Temp name of a plain file written atomically by process `pid`: `.<file_name>.<pid>.tmp`.
pub(crate) fn file_temp_name(file_name: &str, pid: u32) -> String {
    format!(".{file_name}.{pid}.tmp")
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory
/// ([`file_temp_name`]), fsynced, renamed over `path`, then the directory fsynced. A reader (or
/// a crash) sees the old content or the new one, never a mix. On error the temp file is removed
/// and `path` is unchanged (unless the error came from the final directory fsync).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        Error::Config(format!("{}: not a valid file name (it must be UTF-8 and not end in `..`)", path.display()))
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = dir.join(file_temp_name(name, std::process::id()));
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .map_err(|e| Error::io("cannot create", &temp, e))?;
        f.write_all(bytes).map_err(|e| Error::io("cannot write", &temp, e))?;
        f.sync_all().map_err(|e| Error::io("cannot fsync", &temp, e))?;
        drop(f);
        publish(&temp, path)
    })();
    if let Err(e) = written {
        remove_quietly(&temp);
        return Err(e);
    }
    sync_dir(&dir)
}

/// Removes the temp files of [`write_atomically`] for `file_name` left in `dir` by processes
/// that no longer run (and by our own pid: a crashed earlier process can have had it).
pub(crate) fn remove_stale_file_temps(dir: &Path, file_name: &str) -> Result<()> {
    let own = std::process::id();
    for name in list_names(dir)? {
        let Some(rest) = name.strip_prefix('.').and_then(|r| r.strip_suffix(".tmp")) else { continue };
        let Some((base, pid)) = rest.rsplit_once('.') else { continue };
        if base != file_name {
            continue;
        }
        let Some(pid) = parse_digits(pid).and_then(|p| u32::try_from(p).ok()) else { continue };
        remove_if_orphaned(dir, &name, pid, own)?;
    }
    Ok(())
}

/// An exclusive advisory lock on a directory, held until dropped or until the process ends
/// (also when it is killed: the kernel releases it). Unix: `flock` on the directory itself, so
/// no lock file is left behind; elsewhere a no-op.
#[derive(Debug)]
pub(crate) struct FolderLock {
    #[cfg(unix)]
    _dir: fs::File,
}

/// Takes the [`FolderLock`] of `dir`; fails at once, naming the folder, when another holder
/// (another run, in this process or another) has it.
pub(crate) fn lock_folder(dir: &Path, holder: &str) -> Result<FolderLock> {
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        let file = fs::File::open(dir).map_err(|e| Error::io("cannot open directory to lock it", dir, e))?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Err(Error::Config(format!(
                    "{} is in use by another {holder}: wait for it to finish (two runs of one job at once \
                     would overwrite each other's files)",
                    dir.display()
                )));
            }
            return Err(Error::io("cannot lock directory", dir, e));
        }
        Ok(FolderLock { _dir: file })
    }
    #[cfg(not(unix))]
    {
        let _ = (dir, holder);
        Ok(FolderLock {})
    }
}

/// The (directory, prefix) pairs a live sink of this process is writing.
static ACTIVE: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

fn active() -> MutexGuard<'static, Vec<(PathBuf, String)>> {
    ACTIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Claim on a (directory, prefix) pair for one sink of this process; released on drop.
/// Two sinks writing the same parts at once would overwrite each other's files.
#[derive(Debug)]
pub(crate) struct DirLock {
    key: (PathBuf, String),
}

impl DirLock {
    /// `dir` must be canonical so that two spellings of one directory collide.
    pub(crate) fn acquire(dir: &Path, prefix: &str) -> Result<DirLock> {
        let key = (dir.to_path_buf(), prefix.to_string());
        let mut active = active();
        if active.contains(&key) {
            return Err(Error::Config(format!(
                "another Parquet writer of this process is already writing {}",
                dir.join(format!("{prefix}-*.parquet")).display()
            )));
        }
        active.push(key.clone());
        Ok(DirLock { key })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        active().retain(|k| k != &self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(final_name("part", 7), "part-00007.parquet");
        assert_eq!(final_name("part", 123456), "part-123456.parquet");
        assert_eq!(temp_name("part", 7, 42), ".part-00007.parquet.42.tmp");
        assert!(!temp_name("part", 7, 42).ends_with(".parquet"));
        assert_eq!(parse_final_name("part", "part-00007.parquet"), Some(7));
        assert_eq!(parse_final_name("part", "part-123456.parquet"), Some(123456));
        assert_eq!(parse_final_name("part", "part-1-00007.parquet"), None);
        assert_eq!(parse_final_name("part", "part-.parquet"), None);
        assert_eq!(parse_final_name("part", "other-00001.parquet"), None);
        assert_eq!(parse_final_name("part", "part-00001.parquet.bak"), None);
        assert_eq!(parse_temp_name("part", ".part-00007.parquet.42.tmp"), Some(42));
        assert_eq!(parse_temp_name("part", ".part-00007.parquet.tmp"), None);
        assert_eq!(parse_temp_name("part", ".other-00007.parquet.42.tmp"), None);
        assert_eq!(parse_temp_name("part", "part-00007.parquet.42.tmp"), None);
    }

    #[test]
    fn stale_temps_removed_only_for_our_pattern_and_dead_processes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let dead = ".part-00000.parquet.999999999.tmp";
        let own = temp_name("part", 1, std::process::id());
        // pid 1 always runs (init of this pid namespace).
        let live = ".part-00002.parquet.1.tmp";
        let other_prefix = ".data-00000.parquet.999999999.tmp";
        let unrelated = ".part-00000.parquet.999999999.tmp.keep";
        for n in [dead, &own, live, other_prefix, unrelated, "part-00000.parquet"] {
            fs::write(d.join(n), b"x").unwrap();
        }
        remove_stale_temps(d, "part").unwrap();
        assert!(!d.join(dead).exists());
        assert!(!d.join(&own).exists());
        if cfg!(target_os = "linux") && Path::new("/proc/1").exists() && std::process::id() != 1 {
            assert!(d.join(live).exists());
        }
        assert!(d.join(other_prefix).exists());
        assert!(d.join(unrelated).exists());
        assert!(d.join("part-00000.parquet").exists());
    }

    #[test]
    fn atomic_write_replaces_and_stale_file_temps_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(list_names(dir.path()).unwrap(), ["state.json"]);
        let dead = dir.path().join(file_temp_name("state.json", 999_999_999));
        let other = dir.path().join(file_temp_name("other.json", 999_999_999));
        fs::write(&dead, b"x").unwrap();
        fs::write(&other, b"x").unwrap();
        remove_stale_file_temps(dir.path(), "state.json").unwrap();
        assert!(!dead.exists());
        assert!(other.exists());
        // A directory that cannot be written: an error naming the temp file, `path` unchanged.
        let missing = dir.path().join("no/such/dir/state.json");
        let e = write_atomically(&missing, b"x").unwrap_err().to_string();
        assert!(e.starts_with("cannot create ") && e.contains(".state.json."), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn folder_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let lock = lock_folder(dir.path(), "dativo run").unwrap();
        let e = lock_folder(dir.path(), "dativo run").unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{} is in use by another dativo run: wait for it to finish (two runs of one job at once would \
                 overwrite each other's files)",
                dir.path().display()
            )
        );
        drop(lock);
        let _again = lock_folder(dir.path(), "dativo run").unwrap();
    }

    #[test]
    fn dir_lock_is_exclusive_per_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let a = DirLock::acquire(dir.path(), "part").unwrap();
        assert!(DirLock::acquire(dir.path(), "part").is_err());
        let _b = DirLock::acquire(dir.path(), "other").unwrap();
        drop(a);
        let _c = DirLock::acquire(dir.path(), "part").unwrap();
    }
}
