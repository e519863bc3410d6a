//! `source.incremental`: which inputs a run ingests, and the state it keeps around each
//! commit. Each input file that is new or changed is one commit unit of the runner
//! (`run.rs`), in job order; unchanged files are skipped. The state file, the output names and
//! the crash-safety argument are in [`super::state`].
//!
//! An `s3://` input is keyed by its URL and decided by the stamp the job saw when it loaded
//! (size, Last-Modified, ETag; see [`state::decide`]). It is never hashed: every read of it
//! carries `If-Match` on that ETag (`store/read.rs`), so the rows committed are those of the
//! version the state records, or the run fails.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::lake::LakeTable;
use super::platform_state::{self, PlatformState};
use super::report::{IncrementalReport, RunReport};
use super::run::{Ledger, Unit};
use super::state::{self, relative_name, Decision, Entry, Incremental, Manifest, Output, Stamp, State, Status};
use super::{InputFile, Job};
use crate::csv::{self, CsvOptions, OnError};
use crate::parquet::commit::{self, FolderLock};
use crate::parquet::writer::SealedPart;
use crate::parquet::{partitioned, CommittedFile, ParquetSink, WriteMode};
use crate::store::Store;
use crate::{Error, Result};

/// An input to ingest in this run: one unit.
struct Work<'a> {
    input: &'a InputFile,
    id: String,
    /// Its path as messages and the state show it (`${VAR}` values redacted).
    label: String,
    stamp: Stamp,
    /// Known when the strategy needed it to decide.
    sha256: Option<String>,
}

/// The ledger of an incremental run: the state, advanced input by input.
pub(super) struct IncrementalRun<'a> {
    /// The output folder (for an object-store target, its `s3://` name).
    dir: PathBuf,
    /// An object-store target: the manifest object is published after each input.
    table: Option<LakeTable>,
    state_path: PathBuf,
    /// `state_path` as the report shows it (`${VAR}` values redacted).
    state_label: PathBuf,
    state: State,
    work: Vec<Work<'a>>,
    skipped: Vec<PathBuf>,
    ingested: Vec<PathBuf>,
    manifest_removed: bool,
    /// The sha256 of the unit being read, when deciding did not need it.
    hashing: Option<Hashing>,
    /// One run of the job at a time: the output folder (the state's folder, for an
    /// object-store target) is locked until this run ends.
    _lock: FolderLock,
}

/// The sha256 of an input, computed on its own thread while the file is read (the page cache
/// serves both), not in a pass before.
struct Hashing {
    thread: JoinHandle<Result<String>>,
    stop: Arc<AtomicBool>,
}

impl Job {
    /// Decide which inputs this run ingests: the units, and the ledger that commits them.
    /// `table` is the object-store target, opened (it removed the objects no manifest names).
    pub(super) fn plan_incremental<'a>(
        &'a self,
        inc: &Incremental,
        table: Option<LakeTable>,
    ) -> Result<(Vec<Unit<'a>>, IncrementalRun<'a>)> {
        let dir = &self.output_dir;
        let local = table.is_none();
        if local {
            fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
        }
        let state_dir = match inc.state_path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&state_dir).map_err(|e| Error::io("cannot create directory", &state_dir, e))?;
        let lock = commit::lock_folder(if local { dir } else { &state_dir }, "dativo run")?;

        let mut platform: Option<PlatformState> = None;
        let mut state = if self.reset_state {
            self.log(
                log::Level::Info,
                &format!("--reset-state: ignoring {} (every listed file is ingested)", inc.state_path.display()),
            );
            State::empty(inc.strategy)
        } else {
            match self.platform_state(inc)? {
                Some(found) => {
                    platform = Some(found);
                    State::empty(inc.strategy)
                }
                None => State::load(&inc.state_path, inc.strategy)?,
            }
        };

        // Leftovers of crashed runs: temps of the state, the manifest and every known prefix.
        if let Some(name) = inc.state_path.file_name().and_then(|n| n.to_str()) {
            commit::remove_stale_file_temps(&state_dir, name)?;
        }
        let ids = self.input_ids()?;
        if local {
            commit::remove_stale_file_temps(dir, state::MANIFEST_FILE)?;
            let known: BTreeSet<&String> = ids.iter().chain(state.inputs.keys()).collect();
            for id in known {
                ParquetSink::remove_stale_temps(dir, &self.prefix_of(id))?;
                if !self.partitioning.is_empty() {
                    partitioned::remove_stale(dir, &self.prefix_of(id))?;
                }
            }
        }

        // What to ingest.
        let mut work = Vec::new();
        let mut skipped = Vec::new();
        let mut migrated = 0usize;
        for (input, id) in self.inputs.iter().zip(&ids) {
            let stamp = match &input.object {
                Some(object) => Stamp::of_object(&object.stamp),
                None => Stamp::of(&input.path)?,
            };
            let label = self.redact(&input.path.display().to_string());
            if let Some(platform) = &platform {
                if !state.inputs.contains_key(id) && platform.ingested(&input.platform_key, stamp.modified_ns) {
                    let entry = Entry {
                        path: label.clone(),
                        status: Status::Committed,
                        size: stamp.size,
                        modified_ns: stamp.modified_ns,
                        sha256: match input.object {
                            Some(_) => String::new(),
                            None => state::sha256_file(&input.path)?,
                        },
                        e_tag: stamp.e_tag.clone(),
                        rows: 0,
                        rows_rejected: 0,
                        outputs: Vec::new(),
                        ingested_at: state::now_secs(),
                    };
                    state.inputs.insert(id.clone(), entry);
                    migrated += 1;
                }
            }
            let mut sha256 = None;
            let decision = state::decide(state.inputs.get(id), &stamp, inc, self.full_refresh, &mut || {
                if input.object.is_some() {
                    // Only an object without an ETag gets here: reading it twice to hash it is
                    // what keying objects by their ETag avoids.
                    return Err(Error::Config(format!(
                        "{label}: the store gave no ETag for this object, and source.incremental.strategy \
                         file_fingerprint compares ETags for s3:// inputs; use strategy file_modified_time"
                    )));
                }
                let h = state::sha256_file(&input.path)?;
                sha256 = Some(h.clone());
                Ok(h)
            })?;
            if decision == Decision::Skip {
                self.log(
                    log::Level::Info,
                    &format!("{}: skipped (unchanged since it was ingested)", input.path.display()),
                );
                skipped.push(PathBuf::from(label));
            } else {
                self.log(log::Level::Info, &format!("{}: ingesting ({})", input.path.display(), decision.reason()));
                work.push(Work { input, id: id.clone(), label, stamp, sha256 });
            }
        }
        let unlisted = state.inputs.keys().filter(|k| !ids.contains(k)).count();
        if unlisted > 0 {
            self.log(
                log::Level::Info,
                &format!(
                    "{unlisted} input(s) in {} are no longer listed in source.files; their Parquet files are kept",
                    inc.state_path.display()
                ),
            );
        }
        if platform.is_some() {
            self.log(
                log::Level::Info,
                &format!(
                    "{}: read as the Dativo platform's state: {migrated} file(s) it ingested are skipped; dativo \
                     keeps its own format from now on (the original is kept as {})",
                    inc.state_path.display(),
                    platform_state::backup_path(&inc.state_path).display()
                ),
            );
            state.save(&inc.state_path)?;
        }

        let base = if work.is_empty() { self.csv.clone() } else { self.incremental_csv_options()? };
        let units = work.iter().map(|w| self.unit_of(w, &base)).collect();
        let ledger = IncrementalRun {
            dir: dir.clone(),
            table,
            state_path: inc.state_path.clone(),
            state_label: PathBuf::from(self.redact(&inc.state_path.display().to_string())),
            state,
            work,
            skipped,
            ingested: Vec::new(),
            manifest_removed: false,
            hashing: None,
            _lock: lock,
        };
        Ok((units, ledger))
    }

    /// The input id of every listed file; two entries for one input are an error.
    fn input_ids(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = Vec::with_capacity(self.inputs.len());
        for (i, input) in self.inputs.iter().enumerate() {
            let id = match &input.object {
                Some(object) => state::object_input_id(input.id.as_deref(), &object.url()),
                None => state::input_id(input.id.as_deref(), &input.path)?,
            };
            if let Some(j) = ids.iter().position(|other| other == &id) {
                return Err(Error::Config(format!(
                    "{}: source.files[{i}] is the same input as source.files[{j}] ({}): with source.incremental \
                     every file is listed once, with a distinct id",
                    self.path.display(),
                    input.path.display()
                )));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// The unit of one input: its files named after its id, its own rejects file.
    fn unit_of<'a>(&self, w: &Work<'a>, base: &CsvOptions) -> Unit<'a> {
        let mut csv = base.clone();
        if csv.on_error == OnError::Reject {
            if let Some(rejects) = &csv.rejects_path {
                csv.rejects_path = Some(rejects_of(rejects, &w.id));
            }
        }
        let mut parquet = self.parquet.clone();
        parquet.file_prefix = self.prefix_of(&w.id);
        parquet.write_mode = WriteMode::Overwrite;
        Unit { inputs: vec![w.input], csv, parquet, bytes: Some(w.stamp.size) }
    }

    /// The Dativo platform's state at `inc.state_path`, if that is what the file holds (its
    /// original is then kept next to it before dativo writes its own).
    fn platform_state(&self, inc: &Incremental) -> Result<Option<PlatformState>> {
        let text = match fs::read(&inc.state_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("cannot read incremental state file", &inc.state_path, e)),
        };
        if !platform_state::is_platform_state(&text) {
            return Ok(None);
        }
        let state = PlatformState::parse(&text, &inc.state_path)?;
        platform_state::keep_original(&inc.state_path, &text)?;
        Ok(Some(state))
    }

    /// The output prefix of an input id.
    fn prefix_of(&self, id: &str) -> String {
        state::output_prefix(&self.parquet.file_prefix, id)
    }

    /// Reader options shared by every input. Without an asset the column types are inferred
    /// from the first listed file, as in a non-incremental run, and pinned for all files, so
    /// every output file has the same schema whichever files a run re-reads.
    pub(super) fn incremental_csv_options(&self) -> Result<CsvOptions> {
        let mut options = self.csv.clone();
        if self.asset.is_none() && options.schema.is_none() {
            let mut first = options.clone();
            first.file_labels = Some(vec![self.redact(&self.inputs[0].path.display().to_string())]);
            let input = Job::csv_input(&self.inputs[0])?;
            options.schema = Some(csv::CsvReader::open_inputs(&[input], first)?.schema());
        }
        Ok(options)
    }
}

impl IncrementalRun<'_> {
    /// The sha256 of unit `unit`'s input, once its rows are read; empty for an object (its
    /// ETag stands in).
    fn sha256(&mut self, unit: usize) -> Result<String> {
        let w = &self.work[unit];
        if let Some(h) = &w.sha256 {
            return Ok(h.clone());
        }
        if w.input.object.is_some() {
            return Ok(String::new());
        }
        let hashing = self.hashing.take().ok_or_else(|| Error::Internal(format!("{}: published twice", w.label)))?;
        hashing.thread.join().map_err(|_| Error::Internal(format!("{}: the sha256 thread panicked", w.label)))?
    }
}

impl Ledger for IncrementalRun<'_> {
    fn start(&mut self, unit: usize) -> Result<()> {
        let w = &self.work[unit];
        if w.sha256.is_none() && w.input.object.is_none() {
            let stop = Arc::new(AtomicBool::new(false));
            let (path, until) = (w.input.path.clone(), stop.clone());
            let thread = std::thread::Builder::new()
                .name("dativo-sha256".into())
                .spawn(move || state::sha256_file_until(&path, &until))
                .map_err(|e| Error::thread_start("the sha256 thread", e))?;
            self.hashing = Some(Hashing { thread, stop });
        }
        Ok(())
    }

    /// Steps 2 and 3 of the ordering in `state`.
    fn before_publish(&mut self, unit: usize, parts: &[SealedPart], rows_rejected: u64) -> Result<()> {
        let sha256 = self.sha256(unit)?;
        let w = &self.work[unit];
        // The stamp was taken before reading and hashing began: an equal one now means the
        // rows and the hash describe the same content. An object's reads all carried If-Match
        // on the stamp's ETag; only a store without ETags needs a second look.
        let now = match &w.input.object {
            Some(object) if object.stamp.e_tag.is_some() => w.stamp.clone(),
            Some(object) => match Store::connect(&object.store)?.head(&object.key)? {
                Some(found) => Stamp::of_object(&found),
                None => Stamp { size: 0, modified_ns: 0, e_tag: None },
            },
            None => Stamp::of(&w.input.path)?,
        };
        if now != w.stamp {
            return Err(Error::Data(format!(
                "{}: the file changed while it was being read (size {} -> {}); nothing of it was committed; run \
                 the job again",
                w.label, w.stamp.size, now.size
            )));
        }
        // A local manifest goes before the first input's files change; an object-store
        // manifest is replaced whole after each input (see `lake.rs`).
        if !self.manifest_removed && self.table.is_none() {
            Manifest::remove(&self.dir)?;
            self.manifest_removed = true;
        }
        let entry = Entry {
            path: w.label.clone(),
            status: Status::Publishing,
            size: w.stamp.size,
            modified_ns: w.stamp.modified_ns,
            sha256,
            e_tag: w.stamp.e_tag.clone(),
            rows: parts.iter().map(|p| p.rows).sum(),
            rows_rejected,
            outputs: parts.iter().map(|p| Output { file: p.name.clone(), rows: p.rows, bytes: p.bytes }).collect(),
            ingested_at: state::now_secs(),
        };
        self.state.inputs.insert(w.id.clone(), entry);
        self.state.save(&self.state_path)
    }

    /// Step 5: committed.
    fn committed(&mut self, unit: usize, files: &[CommittedFile]) -> Result<()> {
        let w = &self.work[unit];
        let entry = self
            .state
            .inputs
            .get_mut(&w.id)
            .ok_or_else(|| Error::Internal(format!("{}: no state entry after publishing", w.label)))?;
        entry.status = Status::Committed;
        entry.outputs =
            files.iter().map(|f| Output { file: relative_name(f, &self.dir), rows: f.rows, bytes: f.bytes }).collect();
        if let Some(table) = &mut self.table {
            // The commit point of this input on object storage.
            table.publish(Manifest::of_state(&self.state))?;
        }
        self.state.save(&self.state_path)?;
        self.ingested.push(PathBuf::from(&w.label));
        Ok(())
    }

    /// A unit that failed before publishing leaves its hash unused: stop it.
    fn failed(&mut self, _unit: usize) {
        if let Some(hashing) = self.hashing.take() {
            hashing.stop.store(true, Ordering::Relaxed);
            let _ = hashing.thread.join();
        }
    }

    /// Last: the manifest of every committed output (also when nothing changed).
    fn finish(mut self: Box<Self>, report: &mut RunReport) -> Result<()> {
        let manifest = Manifest::of_state(&self.state);
        match &mut self.table {
            Some(table) => table.publish(manifest)?,
            None => manifest.save(&self.dir)?,
        }
        report.incremental =
            Some(IncrementalReport { ingested: self.ingested, skipped: self.skipped, state_path: self.state_label });
        Ok(())
    }
}

/// The rejects file of one input: `_rejects.csv` -> `_rejects-<id>.csv`, in the same folder,
/// so re-reading one input replaces its rejects and keeps the others'.
pub(super) fn rejects_of(rejects: &Path, id: &str) -> PathBuf {
    let stem = rejects.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match rejects.extension() {
        Some(ext) => format!("{stem}-{id}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{id}"),
    };
    rejects.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_file_per_input() {
        assert_eq!(
            rejects_of(Path::new("out/_rejects.csv"), "0123456789ab"),
            Path::new("out/_rejects-0123456789ab.csv")
        );
        assert_eq!(rejects_of(Path::new("bad"), "0123456789ab"), Path::new("bad-0123456789ab"));
    }
}
