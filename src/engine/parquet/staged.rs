//! Staged Parquet files: written and sealed by one writer, published later by one committer,
//! possibly in another process.
//!
//! A distributed write (a Ray Datasink, later the job units of `dativo run --engine ray`) has
//! many tasks writing into one directory and one driver deciding, after every task finished,
//! which files become visible. Tasks can fail half-way or run twice (a retried attempt), so a
//! task must never publish anything itself: it *stages* its files, and the driver publishes
//! exactly the staged files of the attempts it counts.
//!
//! # The protocol
//!
//! 1. **Stage** (each task): a [`ParquetSink`](super::ParquetSink) writes its parts as usual
//!    (hidden `.tmp` files, footer written, fsynced); [`ParquetSink::stage`](super::ParquetSink::stage)
//!    renames each to a *staged* name, `.<final name>.<pid>-<nonce>.staged`, fsyncs the
//!    directory and hands back one [`StagedFile`] per part. Staged names are hidden (a leading
//!    `.`, no `.parquet` suffix), so no reader lists them, and unique per attempt (the nonce),
//!    so two attempts of one task never touch each other's files. A staged file outlives the
//!    sink and the process that wrote it: only [`publish_staged`] and [`discard_staged`]
//!    remove it. [`StagedFile`] is serde, so it travels as JSON (the C API) or any other way.
//! 2. **Publish** (the driver, once): [`publish_staged`] checks every listed file (in the
//!    directory, a staged name, final name unique and of the write's prefix, size as staged)
//!    before anything changes, removes the old `_manifest.json`, renames the staged files to
//!    their final names, fsyncs the directory, in overwrite mode deletes the other
//!    `<prefix>-*.parquet` files, deletes the leftovers of other attempts (every staged file of
//!    the prefix that is not listed, and the `.tmp` files of the prefix whose process is gone),
//!    and writes the new `_manifest.json` last (the format of a job's, see
//!    [`Manifest`](crate::job::state::Manifest)).
//! 3. **Discard** (the driver, when the write failed): [`discard_staged`] deletes the same
//!    leftovers and publishes nothing.
//!
//! Final names must be unique across the tasks of one write: give each task its own
//! `file_prefix` that starts with the write's prefix, e.g. `part-<write id>-<task>`, so its
//! files are `part-<write id>-<task>-NNNNN.parquet`.
//!
//! A Hive-partitioned write stages each file in its partition folder
//! ([`PartitionedSink::stage`](super::PartitionedSink::stage)); its final name is then the path
//! under the directory, `country=FR/part-….parquet`. Publishing renames it in that folder,
//! in overwrite mode removes the prefix's other parts of every partition folder (those this
//! write does not have too, and the directory's own), and the leftovers of other attempts are
//! looked for in every partition folder, which is removed when left empty.
//!
//! # Limits
//!
//! One write per directory and prefix at a time: publishing or discarding removes every staged
//! file of the prefix it was not given, whoever staged it. A committer that crashes during the
//! renames can leave some files of the write visible without a manifest (readers of the
//! manifest see none of them); the next write of the prefix replaces them (overwrite) or lists
//! them in no manifest (append). Local file systems only (a shared one when the writers run on
//! several machines); object storage has no rename and is not supported here.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::commit;
use super::options::{ParquetOptions, WriteMode};
use super::partitioned::{is_partition_folder, partition_folders, remove_other_partitions};
use super::writer::CommittedFile;
use crate::error::{Error, Result};
// The manifest format is the job's (so one reader serves both); the job module owns it.
use crate::job::state::{Manifest, MANIFEST_FILE};

/// A complete Parquet file (footer written, fsynced) under a hidden staged name, waiting for
/// [`publish_staged`] to give it its final name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagedFile {
    /// Absolute path of the staged file: `<dir>/.<final_name>.<pid>-<nonce>.staged`.
    pub temp_path: PathBuf,
    /// The name it gets in the same directory when published: `<file_prefix>-NNNNN.parquet`.
    pub final_name: String,
    /// Rows in the file.
    pub rows: u64,
    /// Size of the file in bytes (checked again before publishing).
    pub bytes: u64,
}

/// Staged name of a part: `.<final_name>.<nonce>.staged`.
pub(super) fn staged_name(final_name: &str, nonce: &str) -> String {
    format!(".{final_name}.{nonce}.staged")
}

/// A nonce unique to one call in this process and, with the pid and the clock, across the
/// processes of a write: `<pid>-<hex nanoseconds><hex counter>`.
pub(crate) fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{}-{nanos:x}{:x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Whether `name` is a staged file of a part of `prefix` (`.<prefix>-….parquet.….staged`).
fn is_staged_of(prefix: &str, name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|n| n.strip_prefix(prefix))
        .and_then(|n| n.strip_prefix('-'))
        .and_then(|n| n.strip_suffix(".staged"))
        .is_some_and(|n| n.contains(".parquet."))
}

/// The pid of a writer's temp file of a part of `prefix` or of any longer prefix
/// (`.<prefix>-….parquet.<pid>.tmp`), if `name` is one.
fn temp_pid_of(prefix: &str, name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_prefix(prefix)?.strip_prefix('-')?.strip_suffix(".tmp")?;
    let (part, pid) = rest.rsplit_once('.')?;
    if !part.ends_with(".parquet") || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether `name` is a visible part of `prefix` or of a longer prefix (`<prefix>-….parquet`).
fn is_part_of(prefix: &str, name: &str) -> bool {
    name.strip_prefix(prefix).and_then(|n| n.strip_prefix('-')).is_some_and(|n| n.ends_with(".parquet") && n.len() > 8)
}

/// Publishes exactly `files` in `dir` (see the [module documentation](self)) and returns them
/// as committed files, in the order given. Every final name starts with `<prefix>-` (the
/// write's `file_prefix`, e.g. `part`). Overwrite deletes the other `<prefix>-*.parquet` files
/// of `dir` and the manifest lists `files`; append keeps them and the manifest lists the old
/// manifest's files, then `files`.
///
/// Every check comes before the first change: a file that is missing, outside `dir`, not a
/// staged name, of another size than staged, or a final name that is not unique or not of the
/// prefix fails with nothing changed. An error after the first rename can leave some of
/// `files` visible but never a manifest naming a file that is not complete.
pub fn publish_staged(
    dir: &Path,
    files: &[StagedFile],
    prefix: &str,
    write_mode: WriteMode,
) -> Result<Vec<CommittedFile>> {
    check_prefix(prefix)?;
    let canonical = fs::canonicalize(dir).map_err(|e| Error::io("cannot resolve output directory", dir, e))?;
    let _lock = commit::lock_folder(&canonical, "dativo write")?;
    check_staged(&canonical, files, prefix)?;
    let old = match write_mode {
        WriteMode::Append => read_manifest(dir)?,
        WriteMode::Overwrite => None,
    };

    // The old manifest names the old files: it goes before they change.
    Manifest::remove(dir)?;
    let committed = rename_staged(dir, files, prefix, write_mode)?;
    let published: HashSet<&str> = files.iter().map(|f| f.final_name.as_str()).collect();

    let mut manifest = Manifest::of_files(&committed, dir);
    if let Some(mut old) = old {
        old.files.retain(|f| !published.contains(f.file.as_str()));
        old.files.append(&mut manifest.files);
        manifest.files = old.files;
        manifest.rows = manifest.files.iter().map(|f| f.rows).sum();
    }
    manifest.save(dir)?;
    Ok(committed)
}

/// Publishes one unit of a run whose caller owns the folder and the manifest (a distributed
/// job run, `job::run::distributed`, holds the folder lock and writes the manifest itself):
/// the checks and renames of [`publish_staged`], the other `<prefix>-*.parquet` files deleted
/// (overwrite), and the prefix's leftovers of other attempts removed. No lock is taken and no
/// manifest written or removed.
pub(crate) fn publish_unit_staged(dir: &Path, files: &[StagedFile], prefix: &str) -> Result<Vec<CommittedFile>> {
    check_prefix(prefix)?;
    let canonical = fs::canonicalize(dir).map_err(|e| Error::io("cannot resolve output directory", dir, e))?;
    check_staged(&canonical, files, prefix)?;
    rename_staged(dir, files, prefix, WriteMode::Overwrite)
}

/// Deletes the staged files and dead writers' temps of `prefix` in `dir` without taking the
/// folder lock: for a caller that holds it (see [`publish_unit_staged`]).
pub(crate) fn discard_unit_staged(dir: &Path, prefix: &str) -> Result<()> {
    check_prefix(prefix)?;
    remove_leftovers(dir, prefix)
}

/// A final name's partition folders (`country=FR/...`) and file name.
fn split_final_name(name: &str) -> (Option<&str>, &str) {
    match name.rsplit_once('/') {
        Some((folder, file)) => (Some(folder), file),
        None => (None, name),
    }
}

/// The file name of a final name that is a plain name or one under `key=value/` partition
/// folders; None for anything else (`../x`, a hidden name, a backslash).
pub(crate) fn final_file_name(name: &str) -> Option<&str> {
    let (folder, file_name) = split_final_name(name);
    let folders_ok = folder.is_none_or(|f| f.split('/').all(is_partition_folder));
    (folders_ok && !file_name.contains('\\') && !file_name.starts_with('.')).then_some(file_name)
}

/// The renames and deletions of a checked publish (see [`publish_staged`]). Files in
/// partition folders make it a partitioned write: in overwrite mode the parts of `prefix` in
/// every other partition folder (and directly in `dir`) go too, as a partitioned run's commit
/// removes them.
fn rename_staged(dir: &Path, files: &[StagedFile], prefix: &str, write_mode: WriteMode) -> Result<Vec<CommittedFile>> {
    let mut committed = Vec::with_capacity(files.len());
    let mut folders: BTreeSet<PathBuf> = BTreeSet::new();
    for file in files {
        let path = dir.join(&file.final_name);
        commit::publish(&file.temp_path, &path)?;
        folders.insert(path.parent().map_or_else(|| dir.to_path_buf(), Path::to_path_buf));
        committed.push(CommittedFile { path, rows: file.rows, bytes: file.bytes });
    }
    folders.insert(dir.to_path_buf());
    for folder in &folders {
        commit::sync_dir(folder)?;
    }

    let published: HashSet<&str> = files.iter().map(|f| f.final_name.as_str()).collect();
    if write_mode == WriteMode::Overwrite {
        for folder in &folders {
            let relative = folder.strip_prefix(dir).unwrap_or(Path::new("")).to_string_lossy().into_owned();
            let mut removed = false;
            for name in commit::list_names(folder)? {
                let key = if relative.is_empty() { name.clone() } else { format!("{relative}/{name}") };
                if is_part_of(prefix, &name) && !published.contains(key.as_str()) {
                    removed |= remove(&folder.join(&name), "cannot remove old part")?;
                }
            }
            if removed {
                commit::sync_dir(folder)?;
            }
        }
        if files.iter().any(|f| f.final_name.contains('/')) {
            let keep: Vec<PathBuf> = folders.iter().filter(|f| f.as_path() != dir).cloned().collect();
            remove_other_partitions(dir, prefix, &keep)?;
        }
    }
    remove_leftovers(dir, prefix)?;
    Ok(committed)
}

/// Deletes every staged file of `prefix` in `dir`, and the writers' temp files of
/// the prefix whose process is gone: what a failed write leaves. Visible files and the
/// manifest are untouched. A missing `dir` is nothing to discard.
pub fn discard_staged(dir: &Path, prefix: &str) -> Result<()> {
    check_prefix(prefix)?;
    let canonical = match fs::canonicalize(dir) {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("cannot resolve output directory", dir, e)),
    };
    let _lock = commit::lock_folder(&canonical, "dativo write")?;
    remove_leftovers(dir, prefix)
}

/// `prefix` is a valid `file_prefix` (a plain, non-hidden file name).
fn check_prefix(prefix: &str) -> Result<()> {
    let options = ParquetOptions { file_prefix: prefix.to_string(), ..ParquetOptions::default() };
    options.validate().map_err(|m| Error::Config(format!("staged commit: {m}")))
}

/// Every listed file is a staged part of `prefix` in `dir` (canonical), of its staged size,
/// with a final name of `prefix` that no other listed file has.
fn check_staged(dir: &Path, files: &[StagedFile], prefix: &str) -> Result<()> {
    let mut names = HashSet::new();
    for (i, file) in files.iter().enumerate() {
        let at = format!("staged file {i} ({})", file.temp_path.display());
        let name = &file.final_name;
        let folder = split_final_name(name).0;
        if !final_file_name(name).is_some_and(|file_name| is_part_of(prefix, file_name)) {
            return Err(Error::Config(format!(
                "{at}: final_name `{name}` is not a part of file_prefix `{prefix}` (expected `{prefix}-….parquet`, \
                 a plain file name, or one under `key=value/` partition folders)"
            )));
        }
        if !names.insert(name.as_str()) {
            return Err(Error::Config(format!(
                "{at}: final_name `{name}` is listed twice: two tasks (or two attempts of one task) staged the \
                 same part; give each task its own file_prefix"
            )));
        }
        let staged = file.temp_path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let parent = file.temp_path.parent().map(fs::canonicalize);
        let expected = folder.map_or_else(|| dir.to_path_buf(), |f| dir.join(f));
        if !is_staged_of(prefix, staged) || !matches!(&parent, Some(Ok(p)) if *p == expected) {
            return Err(Error::Config(format!(
                "{at}: not a staged file of `{prefix}` in {} (expected {}/.{prefix}-….parquet.….staged)",
                expected.display(),
                expected.display()
            )));
        }
        let meta = fs::metadata(&file.temp_path).map_err(|e| {
            Error::io("staged file is gone (was it discarded, or published already?):", &file.temp_path, e)
        })?;
        if meta.len() != file.bytes {
            return Err(Error::Data(format!(
                "{at}: is {} bytes, but {} were staged: it was changed after staging",
                meta.len(),
                file.bytes
            )));
        }
    }
    Ok(())
}

/// The manifest in `dir`, if there is one.
fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::Data(format!(
                "{} is not a dativo manifest ({e}): restore it, or write in overwrite mode",
                path.display()
            ))
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read the manifest", &path, e)),
    }
}

/// Removes the staged files of `prefix` and its temp files of processes no longer running,
/// in `dir` and its partition folders, then the partition folders left empty (a failed
/// partitioned attempt's); each folder changed is fsynced.
fn remove_leftovers(dir: &Path, prefix: &str) -> Result<()> {
    let partitions = partition_folders(dir)?;
    for folder in partitions.iter().map(PathBuf::as_path).chain([dir]) {
        let mut removed = false;
        for name in commit::list_names(folder)? {
            let orphan_temp = temp_pid_of(prefix, &name).is_some_and(|pid| !commit::process_alive(pid));
            if is_staged_of(prefix, &name) || orphan_temp {
                removed |= remove(&folder.join(&name), "cannot remove leftover staged file")?;
            }
        }
        if removed {
            commit::sync_dir(folder)?;
        }
    }
    // Deepest first, so a folder whose subfolders all went is empty in its turn.
    for folder in &partitions {
        if commit::list_names(folder)?.is_empty() && fs::remove_dir(folder).is_ok() {
            if let Some(parent) = folder.parent() {
                commit::sync_dir(parent)?;
            }
        }
    }
    Ok(())
}

/// Removes `path`; whether it existed.
fn remove(path: &Path, what: &str) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(what, path, e)),
    }
}

#[cfg(test)]
#[path = "staged_tests.rs"]
mod flow_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_a_prefix_family() {
        let staged = staged_name("part-w1-00003-00000.parquet", "42-abc");
        assert_eq!(staged, ".part-w1-00003-00000.parquet.42-abc.staged");
        assert!(is_staged_of("part", &staged));
        assert!(is_staged_of("part-w1-00003", &staged));
        assert!(!is_staged_of("data", &staged));
        assert!(!is_staged_of("part", ".part-00000.parquet.42.tmp"));
        assert_eq!(temp_pid_of("part", ".part-w1-00003-00000.parquet.42.tmp"), Some(42));
        assert_eq!(temp_pid_of("part", ".part-00000.parquet.42.tmp"), Some(42));
        assert_eq!(temp_pid_of("part", "._manifest.json.42.tmp"), None);
        assert_eq!(temp_pid_of("part", ".part-00000.parquet.x.tmp"), None);
        assert!(is_part_of("part", "part-w1-00003-00000.parquet"));
        assert!(is_part_of("part", "part-00000.parquet"));
        assert!(!is_part_of("part", "partx-00000.parquet"));
        assert!(!is_part_of("part", "part-.parquet"));
        assert!(!is_part_of("part", "part-00000.parquet.bak"));
        assert_ne!(nonce(), nonce());
    }

    #[test]
    fn staged_file_round_trips_through_json() {
        let file = StagedFile { temp_path: "/d/.x".into(), final_name: "part-00000.parquet".into(), rows: 3, bytes: 9 };
        let json = serde_json::to_string(&file).unwrap();
        assert_eq!(json, r#"{"temp_path":"/d/.x","final_name":"part-00000.parquet","rows":3,"bytes":9}"#);
        assert_eq!(serde_json::from_str::<StagedFile>(&json).unwrap(), file);
        assert!(serde_json::from_str::<StagedFile>(r#"{"temp_path":"/d/.x"}"#).is_err());
    }
}
