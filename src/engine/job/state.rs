//! Incremental state: which input files a job has ingested, and into which Parquet files.
//!
//! A job with `source.incremental` keeps one JSON state file (default
//! `<output_base>/_dativo_state.json`, or `source.incremental.state_path`). It has one entry per
//! input file, keyed by the file's *input id* (see [`input_id`], [`object_input_id`]): the path
//! (with `${VAR}` values redacted), size, modification time, sha256 of the content (for an
//! `s3://` object: its ETag instead), rows written and rejected, the Parquet files written for
//! it, and a status. A rerun ingests a file again when it is new,
//! changed (per the strategy), was not fully committed, or with `--full-refresh`; otherwise it
//! skips it and keeps its outputs.
//!
//! # Names
//!
//! The outputs of input `X` are `part-<id>-NNNNN.parquet`, where `<id>` is the 12 hex digits of
//! the input id: the same on every run, so re-ingesting `X` overwrites its files by name, and
//! never touches the files of another input. (Non-incremental jobs keep `part-NNNNN.parquet`;
//! the two patterns do not overlap.)
//!
//! # Ordering: why a crash never loses or duplicates a row
//!
//! Each input file is its own commit unit, committed one after the other:
//!
//! 1. its rows are written to hidden temp files (`.part-<id>-NNNNN.parquet.<pid>.tmp`),
//!    completed and fsynced ([`ParquetSink::seal`](crate::parquet::ParquetSink::seal));
//! 2. the input is checked to be unchanged since it was fingerprinted (size, mtime);
//! 3. the state is written (atomically) with this input's entry marked `publishing` — from now
//!    until step 5, any later run ingests this input again, whatever its content;
//! 4. the temps are renamed to their final names (each rename atomically replaces the old file
//!    of that name), the directory is fsynced, the input's other, older parts (an earlier
//!    version had more) are deleted, and the directory fsynced again;
//! 5. the state is written with the entry `committed`.
//!
//! A crash before 3 leaves the visible files and the state as they were: the old output of the
//! input (if any) is complete and the state says so, and the next run starts this input again
//! (its temps are removed). A crash between 3 and 5 can leave a mix of new and old parts of
//! this input visible, but the state says `publishing`, so the next run ingests the input again
//! and its commit replaces every part of the input's prefix: the mix never survives a rerun.
//! After 5 the input is done. So after any crash, one complete rerun leaves exactly one copy of
//! every listed input's rows. The state file and the manifest are only ever replaced by
//! rename, so they are never seen half-written.
//!
//! Before the first step 3 of a run the manifest (`_manifest.json`) is deleted; it is written
//! again, listing every committed output of the state, as the last step of a successful run.
//! So a manifest, when present, lists exactly the job's visible Parquet files.
//!
//! A run holds an advisory lock (`flock`) on `output_base` while it runs, so two runs of a job
//! never interleave these steps.
//!
//! Inputs that are no longer listed keep their state entry and their outputs (they stay in the
//! manifest): removing a file from `source.files` never deletes data. `--reset-state` starts
//! from an empty state (also when the state file is corrupt): every listed file is ingested
//! again, replacing its outputs by name; entries (and so manifest lines) of unlisted files are
//! forgotten, their Parquet files are left in place.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::parquet::commit;
use crate::{Error, Result};

/// Default state file name, in `target.output_base`.
pub const DEFAULT_STATE_FILE: &str = "_dativo_state.json";
/// The manifest, in `target.output_base`.
pub const MANIFEST_FILE: &str = "_manifest.json";
/// The name of a committed file relative to `base` (its folder, or `s3://bucket/prefix`), as
/// the manifest and the state record it: `part-00000.parquet`, or
/// `country=FR/part-00000.parquet` in a partition folder.
pub fn relative_name(file: &crate::parquet::CommittedFile, base: &Path) -> String {
    match file.path.strip_prefix(base) {
        Ok(rel) if rel.components().count() > 0 => rel.to_string_lossy().into_owned(),
        _ => file.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    }
}

/// Whether `file` names an output of input `id`: `part-<id>-NNNNN.parquet` in the output
/// folder, in Hive partition folders (`country=FR/...`), and on object storage with the run's
/// id before the number (`part-<id>-<12 hex>-NNNNN.parquet`).
fn is_output_of(file: &str, id: &str) -> bool {
    let (folders, name) = file.rsplit_once('/').unwrap_or(("", file));
    let folders_ok = folders.is_empty()
        || folders.split('/').all(|f| f.split_once('=').is_some_and(|(k, _)| !k.is_empty() && !k.starts_with('.')));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let rest = name.strip_prefix(&format!("{}-", output_prefix("part", id))).and_then(|r| r.strip_suffix(".parquet"));
    let name_ok = rest.is_some_and(|r| match r.split_once('-') {
        Some((run, n)) => run.len() == 12 && run.bytes().all(|b| b.is_ascii_hexdigit()) && digits(n),
        None => digits(r),
    });
    folders_ok && name_ok
}

/// Version of the state file format.
pub const STATE_VERSION: u32 = 1;

/// How a rerun decides that an input is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Same size and same modification time (nanoseconds) as when it was ingested.
    FileModifiedTime,
    /// Same size and same sha256 of the content (the file is read once more to hash it). For an
    /// `s3://` object, same size and same ETag: hashing it would mean reading it twice.
    FileFingerprint,
}

impl Strategy {
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::FileModifiedTime => "file_modified_time",
            Strategy::FileFingerprint => "file_fingerprint",
        }
    }

    /// Parses a strategy name (case-insensitive).
    pub fn parse(name: &str) -> std::result::Result<Strategy, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "file_modified_time" => Ok(Strategy::FileModifiedTime),
            "file_fingerprint" => Ok(Strategy::FileFingerprint),
            other => Err(format!(
                "strategy '{other}' is not supported: use file_modified_time (skip files whose size and \
                 modification time are unchanged) or file_fingerprint (skip files whose sha256 is unchanged)"
            )),
        }
    }
}

/// `source.incremental` of a loaded job.
#[derive(Debug, Clone, PartialEq)]
pub struct Incremental {
    pub strategy: Strategy,
    /// The state file (resolved).
    pub state_path: PathBuf,
    /// Files modified within this many days are ingested again even when unchanged (0: never).
    pub lookback_days: u32,
}

/// Whether an entry's outputs are complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The outputs are being replaced: the input must be ingested again.
    Publishing,
    /// The outputs are complete and visible.
    Committed,
}

/// One Parquet file written for an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// File name in `output_base`.
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
}

/// What the state knows about one input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The input's path as the job names it, `${VAR}` values redacted. Informational.
    pub path: String,
    pub status: Status,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub modified_ns: u64,
    /// sha256 of the content, lowercase hex; empty for an `s3://` object (its `e_tag` says
    /// which version was read).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// An `s3://` object's ETag (quoted, as the store sent it) of the version that was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    pub rows: u64,
    pub rows_rejected: u64,
    pub outputs: Vec<Output>,
    /// When this entry was written, seconds since the Unix epoch. Informational.
    pub ingested_at: u64,
}

/// The state file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Format version, [`STATE_VERSION`].
    pub version: u32,
    /// Strategy of the run that wrote it. Informational.
    pub strategy: String,
    /// By input id (12 hex digits).
    pub inputs: BTreeMap<String, Entry>,
}

impl State {
    pub fn empty(strategy: Strategy) -> State {
        State { version: STATE_VERSION, strategy: strategy.name().to_string(), inputs: BTreeMap::new() }
    }

    /// Loads the state file; a missing file is an empty state. A file that cannot be read or
    /// understood is an error naming it and what is wrong.
    pub fn load(path: &Path, strategy: Strategy) -> Result<State> {
        let text = match fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::empty(strategy)),
            Err(e) => return Err(Error::io("cannot read incremental state file", path, e)),
        };
        let corrupt = |what: String| {
            Error::Data(format!(
                "incremental state file {} is corrupt: {what}; restore it, or run with --reset-state to start \
                 over (every listed file is ingested again)",
                path.display()
            ))
        };
        let mut de = serde_json::Deserializer::from_slice(&text);
        let state: State = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            // serde_path_to_error writes `?` for a place it could not name (e.g. at the end).
            let full = e.path().to_string();
            let at = full.trim_end_matches(".?").trim_end_matches('?').to_string();
            let inner = e.into_inner();
            if at.is_empty() || at == "." {
                corrupt(inner.to_string())
            } else {
                corrupt(format!("{at}: {inner}"))
            }
        })?;
        de.end().map_err(|e| corrupt(e.to_string()))?;
        state.check().map_err(corrupt)?;
        Ok(State { strategy: strategy.name().to_string(), ..state })
    }

    /// Checks what serde cannot: version, ids, hashes and output names.
    fn check(&self) -> std::result::Result<(), String> {
        if self.version != STATE_VERSION {
            return Err(format!(
                "version {} is not supported (this dativo reads version {STATE_VERSION})",
                self.version
            ));
        }
        for (id, entry) in &self.inputs {
            if !is_input_id(id) {
                return Err(format!("inputs: '{id}' is not an input id (12 lowercase hex digits)"));
            }
            let hashed = entry.sha256.len() == 64 && entry.sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !hashed && !entry.sha256.is_empty() {
                return Err(format!("inputs.{id}.sha256: '{}' is not a sha256 (64 hex digits)", entry.sha256));
            }
            for output in &entry.outputs {
                if !is_output_of(&output.file, id) {
                    return Err(format!(
                        "inputs.{id}.outputs: '{}' is not an output name of this input ([key=value/...]part-{id}-\
                         [<run id>-]NNNNN.parquet)",
                        output.file
                    ));
                }
            }
        }
        Ok(())
    }

    /// Writes the state to `path` atomically (temp file, fsync, rename, fsync the directory).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Internal(format!("cannot encode the incremental state: {e}")))?;
        text.push(b'\n');
        commit::write_atomically(path, &text)
    }
}

/// Whether `s` is an input id: 12 lowercase hex digits.
fn is_input_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The input id of a file: the first 12 hex digits of the sha256 of `id:<files[].id>` when the
/// job gives the entry an id (so the file can move without being ingested again), otherwise of
/// `path:<absolute path>`.
pub fn input_id(id: Option<&str>, path: &Path) -> Result<String> {
    let key = match id {
        Some(id) => format!("id:{id}"),
        None => {
            let abs = fs::canonicalize(path).map_err(|e| Error::io("cannot resolve", path, e))?;
            format!("path:{}", abs.display())
        }
    };
    Ok(hex(&Sha256::digest(key.as_bytes()))[..12].to_string())
}

/// The input id of an `s3://` object: as [`input_id`], from `id:<files[].id>` when the job gives
/// one, otherwise from `object:<url>` (`s3://bucket/key`: the endpoint is not part of it, so
/// one state should not mix two servers' buckets of the same name).
pub fn object_input_id(id: Option<&str>, url: &str) -> String {
    let key = match id {
        Some(id) => format!("id:{id}"),
        None => format!("object:{url}"),
    };
    hex(&Sha256::digest(key.as_bytes()))[..12].to_string()
}

/// The file prefix of an input's outputs: `<prefix>-<id>`.
pub fn output_prefix(prefix: &str, id: &str) -> String {
    format!("{prefix}-{id}")
}

/// Size and modification time of a file; for an `s3://` object also its ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub modified_ns: u64,
    /// An object's ETag (None for a local file, or a store that gives none).
    pub e_tag: Option<String>,
}

impl Stamp {
    pub fn of(path: &Path) -> Result<Stamp> {
        let m = fs::metadata(path).map_err(|e| Error::io("cannot read", path, e))?;
        let modified_ns = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Ok(Stamp { size: m.len(), modified_ns, e_tag: None })
    }

    /// The stamp of an object as the store described it when the job was loaded.
    pub fn of_object(object: &crate::store::ObjectStamp) -> Stamp {
        let modified_ns = u64::try_from(object.modified_ns).unwrap_or(0);
        Stamp { size: object.size, modified_ns, e_tag: object.e_tag.clone() }
    }
}

/// sha256 of a file's content, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    sha256_file_until(path, &std::sync::atomic::AtomicBool::new(false))
}

/// [`sha256_file`], giving up (with an error) once `stop` is set.
pub fn sha256_file_until(path: &Path, stop: &std::sync::atomic::AtomicBool) -> Result<String> {
    let mut file = fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::Internal(format!("{}: hashing stopped", path.display())));
        }
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("cannot read", path, e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Why an input is ingested, or that it is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not in the state.
    New,
    /// In the state, but its last commit did not complete.
    Incomplete,
    /// Size, modification time or fingerprint differ from the state.
    Changed,
    /// `--full-refresh`.
    Refresh,
    /// Unchanged, but modified within `lookback_days`.
    Lookback,
    /// Unchanged: its outputs stay.
    Skip,
}

impl Decision {
    pub fn reason(&self) -> &'static str {
        match self {
            Decision::New => "new",
            Decision::Incomplete => "its last run did not complete",
            Decision::Changed => "changed",
            Decision::Refresh => "--full-refresh",
            Decision::Lookback => "modified within lookback_days",
            Decision::Skip => "unchanged",
        }
    }
}

/// Decides whether an input is ingested. `fingerprint` is called (at most once) when the
/// strategy needs the content's sha256. An object (a stamp with an ETag) is never hashed: with
/// `file_fingerprint` its ETag is compared instead, and with `file_modified_time` a different
/// ETag also counts as changed (an object's Last-Modified has one-second resolution, so a
/// replacement of the same size within that second would otherwise be missed).
pub fn decide(
    entry: Option<&Entry>,
    stamp: &Stamp,
    incremental: &Incremental,
    full_refresh: bool,
    fingerprint: &mut dyn FnMut() -> Result<String>,
) -> Result<Decision> {
    let Some(entry) = entry else { return Ok(Decision::New) };
    if entry.status != Status::Committed {
        return Ok(Decision::Incomplete);
    }
    if full_refresh {
        return Ok(Decision::Refresh);
    }
    let unchanged = entry.size == stamp.size
        && match (incremental.strategy, &stamp.e_tag) {
            (Strategy::FileModifiedTime, e_tag) => entry.modified_ns == stamp.modified_ns && &entry.e_tag == e_tag,
            (Strategy::FileFingerprint, Some(e_tag)) => entry.e_tag.as_ref() == Some(e_tag),
            (Strategy::FileFingerprint, None) => entry.sha256 == fingerprint()?,
        };
    if !unchanged {
        return Ok(Decision::Changed);
    }
    if incremental.lookback_days > 0 {
        let window_ns = u64::from(incremental.lookback_days) * 86_400 * 1_000_000_000;
        let now_ns =
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        if stamp.modified_ns >= now_ns.saturating_sub(window_ns) {
            return Ok(Decision::Lookback);
        }
    }
    Ok(Decision::Skip)
}

/// The manifest: every committed output of the state, written last by a successful run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// Total rows over `files`.
    pub rows: u64,
    pub files: Vec<ManifestFile>,
}

/// One Parquet file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// File name in `output_base`.
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    /// The input file it came from (`${VAR}` values redacted); absent for non-incremental jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Manifest {
    /// The manifest of a state: committed entries' outputs, by input id then part.
    pub fn of_state(state: &State) -> Manifest {
        let files: Vec<ManifestFile> = state
            .inputs
            .values()
            .filter(|e| e.status == Status::Committed)
            .flat_map(|e| {
                e.outputs.iter().map(|o| ManifestFile {
                    file: o.file.clone(),
                    rows: o.rows,
                    bytes: o.bytes,
                    source: Some(e.path.clone()),
                })
            })
            .collect();
        Manifest { version: STATE_VERSION, rows: files.iter().map(|f| f.rows).sum(), files }
    }

    /// The manifest of a non-incremental run: the files it committed.
    /// `base` is the folder (or `s3://bucket/prefix`) the names are relative to: a file in a
    /// partition folder is named `country=FR/part-00000.parquet`.
    pub fn of_files(files: &[crate::parquet::CommittedFile], base: &Path) -> Manifest {
        let files: Vec<ManifestFile> = files
            .iter()
            .map(|f| ManifestFile { file: relative_name(f, base), rows: f.rows, bytes: f.bytes, source: None })
            .collect();
        Manifest { version: STATE_VERSION, rows: files.iter().map(|f| f.rows).sum(), files }
    }

    /// Writes `<dir>/_manifest.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        commit::write_atomically(&dir.join(MANIFEST_FILE), &self.to_json()?)
    }

    /// The manifest as written: pretty JSON and a final newline.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut text =
            serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(format!("cannot encode the manifest: {e}")))?;
        text.push(b'\n');
        Ok(text)
    }

    /// Deletes `<dir>/_manifest.json` (if there is one) and makes that durable, before the
    /// visible files change; also deletes temp files of the manifest left by crashed runs.
    pub fn remove(dir: &Path) -> Result<()> {
        if !dir.is_dir() {
            return Ok(());
        }
        commit::remove_stale_file_temps(dir, MANIFEST_FILE)?;
        let path = dir.join(MANIFEST_FILE);
        match fs::remove_file(&path) {
            Ok(()) => commit::sync_dir(dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("cannot remove the old manifest", &path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(status: Status) -> Entry {
        Entry {
            path: "data/a.csv".into(),
            status,
            size: 10,
            modified_ns: 5,
            sha256: "ab".repeat(32),
            e_tag: None,
            rows: 3,
            rows_rejected: 0,
            outputs: vec![Output { file: "part-0123456789ab-00000.parquet".into(), rows: 3, bytes: 100 }],
            ingested_at: 1,
        }
    }

    fn incremental(strategy: Strategy) -> Incremental {
        Incremental { strategy, state_path: PathBuf::from("s.json"), lookback_days: 0 }
    }

    #[test]
    fn state_round_trips_and_corruption_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(State::load(&path, Strategy::FileFingerprint).unwrap().inputs.len(), 0);
        let mut state = State::empty(Strategy::FileFingerprint);
        state.inputs.insert("0123456789ab".into(), entry(Status::Committed));
        state.save(&path).unwrap();
        assert_eq!(State::load(&path, Strategy::FileFingerprint).unwrap(), state);

        let err = |text: &str| {
            fs::write(&path, text).unwrap();
            State::load(&path, Strategy::FileFingerprint).unwrap_err().to_string()
        };
        let prefix = format!("incremental state file {} is corrupt: ", path.display());
        let e = err("{\"version\": 1, \"strategy\": \"x\", \"inputs\": {");
        assert!(
            e.starts_with(&prefix)
                && e.contains("line 1")
                && e.ends_with("--reset-state to start over (every listed file is ingested again)"),
            "{e}"
        );
        let e = err("");
        assert!(e.starts_with(&prefix), "{e}");
        let e = err("{\"version\": 7, \"strategy\": \"x\", \"inputs\": {}}");
        assert!(e.contains("version 7 is not supported"), "{e}");
        let mut bad = state.clone();
        bad.inputs.get_mut("0123456789ab").unwrap().outputs[0].file = "../etc/passwd".into();
        let e = err(&serde_json::to_string(&bad).unwrap());
        assert!(e.contains("inputs.0123456789ab.outputs: '../etc/passwd' is not an output name"), "{e}");
        let text = serde_json::to_string(&state).unwrap().replace("\"rows\":3,", "\"rows\":\"three\",");
        let e = err(&text);
        assert!(e.contains("inputs.0123456789ab.rows: invalid type"), "{e}");
        let e = err(&serde_json::to_string(&state).unwrap().replace("0123456789ab\"", "zz\""));
        assert!(e.contains("'zz' is not an input id"), "{e}");
    }

    #[test]
    fn decisions_per_strategy() {
        let stamp = Stamp { size: 10, modified_ns: 5, e_tag: None };
        let same = || Ok("ab".repeat(32));
        let other = || Ok("cd".repeat(32));
        let mtime = incremental(Strategy::FileModifiedTime);
        let fp = incremental(Strategy::FileFingerprint);
        let committed = entry(Status::Committed);
        let d = |e: Option<&Entry>, s: &Stamp, i: &Incremental, full: bool, f: &mut dyn FnMut() -> Result<String>| {
            decide(e, s, i, full, f).unwrap()
        };
        assert_eq!(d(None, &stamp, &mtime, false, &mut || unreachable!()), Decision::New);
        assert_eq!(d(Some(&entry(Status::Publishing)), &stamp, &mtime, false, &mut same.clone()), Decision::Incomplete);
        assert_eq!(d(Some(&committed), &stamp, &mtime, true, &mut same.clone()), Decision::Refresh);
        assert_eq!(d(Some(&committed), &stamp, &mtime, false, &mut || unreachable!()), Decision::Skip);
        let touched = Stamp { modified_ns: 6, ..stamp.clone() };
        assert_eq!(d(Some(&committed), &touched, &mtime, false, &mut || unreachable!()), Decision::Changed);
        // The fingerprint strategy looks at the content, not the time.
        assert_eq!(d(Some(&committed), &touched, &fp, false, &mut same.clone()), Decision::Skip);
        assert_eq!(d(Some(&committed), &stamp, &fp, false, &mut other.clone()), Decision::Changed);
        let grown = Stamp { size: 11, ..stamp.clone() };
        assert_eq!(d(Some(&committed), &grown, &fp, false, &mut || unreachable!()), Decision::Changed);
        let recent = Stamp { modified_ns: now_secs() * 1_000_000_000, ..stamp.clone() };
        let mut e = committed.clone();
        e.modified_ns = recent.modified_ns;
        let lookback = Incremental { lookback_days: 1, ..mtime.clone() };
        assert_eq!(d(Some(&e), &recent, &lookback, false, &mut same.clone()), Decision::Lookback);
        assert_eq!(d(Some(&committed), &stamp, &lookback, false, &mut same.clone()), Decision::Skip);
    }

    #[test]
    fn objects_are_decided_by_their_etag_and_never_hashed() {
        let object = |e_tag: &str, modified_ns: u64| Stamp { size: 10, modified_ns, e_tag: Some(e_tag.into()) };
        let mut seen = entry(Status::Committed);
        seen.sha256 = String::new();
        seen.e_tag = Some("\"v1\"".into());
        let never = &mut || -> Result<String> { unreachable!("an object is never hashed") };
        for strategy in [Strategy::FileModifiedTime, Strategy::FileFingerprint] {
            let inc = incremental(strategy);
            assert_eq!(decide(Some(&seen), &object("\"v1\"", 5), &inc, false, never).unwrap(), Decision::Skip);
            // Replaced within the same second, with the same size: a new ETag is a change.
            assert_eq!(decide(Some(&seen), &object("\"v2\"", 5), &inc, false, never).unwrap(), Decision::Changed);
        }
        // Only the modification time moved (the same bytes put again): the strategies differ.
        let touched = object("\"v1\"", 6);
        let fp = incremental(Strategy::FileFingerprint);
        assert_eq!(decide(Some(&seen), &touched, &fp, false, never).unwrap(), Decision::Skip);
        let mtime = incremental(Strategy::FileModifiedTime);
        assert_eq!(decide(Some(&seen), &touched, &mtime, false, never).unwrap(), Decision::Changed);

        // An object's entry has no sha256 and round-trips through the file.
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::empty(Strategy::FileFingerprint);
        let id = object_input_id(None, "s3://b/raw/a.csv");
        seen.outputs[0].file = format!("part-{id}-0123456789ab-00000.parquet");
        state.inputs.insert(id, seen);
        state.save(&dir.path().join("s.json")).unwrap();
        let text = fs::read_to_string(dir.path().join("s.json")).unwrap();
        assert!(text.contains("\"e_tag\": \"\\\"v1\\\"\"") && !text.contains("sha256"), "{text}");
        assert_eq!(State::load(&dir.path().join("s.json"), Strategy::FileFingerprint).unwrap(), state);
        assert_ne!(object_input_id(None, "s3://b/raw/a.csv"), object_input_id(None, "s3://b/raw/b.csv"));
        assert_eq!(object_input_id(Some("users"), "s3://b/x"), input_id(Some("users"), Path::new("/y")).unwrap());
    }

    #[test]
    fn ids_hashes_and_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        fs::write(&a, "abc").unwrap();
        assert_eq!(sha256_file(&a).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let by_path = input_id(None, &a).unwrap();
        assert!(is_input_id(&by_path), "{by_path}");
        assert_eq!(by_path, input_id(None, &dir.path().join(".").join("a.csv")).unwrap());
        assert_ne!(by_path, input_id(Some("users"), &a).unwrap());
        assert_eq!(input_id(Some("users"), &a).unwrap(), input_id(Some("users"), Path::new("/moved")).unwrap());
        assert_eq!(Stamp::of(&a).unwrap().size, 3);

        let mut state = State::empty(Strategy::FileModifiedTime);
        state.inputs.insert("0123456789ab".into(), entry(Status::Committed));
        let mut pending = entry(Status::Publishing);
        pending.outputs[0].file = "part-111111111111-00000.parquet".into();
        state.inputs.insert("111111111111".into(), pending);
        let m = Manifest::of_state(&state);
        assert_eq!(m.rows, 3);
        assert_eq!(m.files.len(), 1);
        m.save(dir.path()).unwrap();
        let back: Manifest = serde_json::from_slice(&fs::read(dir.path().join(MANIFEST_FILE)).unwrap()).unwrap();
        assert_eq!(back, m);
        Manifest::remove(dir.path()).unwrap();
        Manifest::remove(dir.path()).unwrap();
        assert!(!dir.path().join(MANIFEST_FILE).exists());
        assert_eq!(Strategy::parse("File_Fingerprint"), Ok(Strategy::FileFingerprint));
        assert!(Strategy::parse("cursor").unwrap_err().starts_with("strategy 'cursor' is not supported"));
    }
}
