//! Running a job with `source.incremental`: each input file that is new or changed is read and
//! committed on its own, in job order; unchanged files are skipped. The state file, the output
//! names and the crash-safety argument are in [`super::state`].

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use arrow_array::RecordBatch;

use super::platform_state::{self, PlatformState};
use super::report::{IncrementalReport, Progress, RunReport};
use super::state::{self, Decision, Entry, Incremental, Manifest, Output, Stamp, State, Status};
use super::{InputFile, Job};
use crate::csv::{self, CsvOptions, CsvReader, OnError};
use crate::parquet::writer::SealedPart;
use crate::parquet::{commit, CommittedFile, ParquetSink, WriteMode};
use crate::{pipeline, Error, Result};

/// An input to ingest in this run.
struct Work<'a> {
    input: &'a InputFile,
    id: String,
    stamp: Stamp,
    /// Known when the strategy needed it to decide.
    sha256: Option<String>,
    decision: Decision,
}

impl Job {
    /// The incremental run (only called when writing).
    pub(super) fn run_incremental(
        &self,
        inc: &Incremental,
        progress: &dyn Fn(&Progress),
        start: Instant,
    ) -> Result<RunReport> {
        let dir = &self.output_dir;
        fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
        let state_dir = match inc.state_path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&state_dir).map_err(|e| Error::io("cannot create directory", &state_dir, e))?;
        // One run of the job at a time: the output folder is locked until this run ends.
        let _lock = commit::lock_folder(dir, "dativo run")?;

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
        commit::remove_stale_file_temps(dir, state::MANIFEST_FILE)?;
        let mut ids = Vec::with_capacity(self.inputs.len());
        for (i, input) in self.inputs.iter().enumerate() {
            let id = state::input_id(input.id.as_deref(), &input.path)?;
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
        let known: BTreeSet<&String> = ids.iter().chain(state.inputs.keys()).collect();
        for id in known {
            ParquetSink::remove_stale_temps(dir, &self.prefix_of(id))?;
        }

        // What to ingest.
        let mut work = Vec::new();
        let mut skipped = Vec::new();
        let mut migrated = 0usize;
        for (input, id) in self.inputs.iter().zip(&ids) {
            let stamp = Stamp::of(&input.path)?;
            if let Some(platform) = &platform {
                if !state.inputs.contains_key(id) && platform.ingested(&input.platform_key, stamp.modified_ns) {
                    let entry = Entry {
                        path: self.redact(&input.path.display().to_string()),
                        status: Status::Committed,
                        size: stamp.size,
                        modified_ns: stamp.modified_ns,
                        sha256: state::sha256_file(&input.path)?,
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
            let decision = state::decide(state.inputs.get(id), stamp, inc, self.full_refresh, &mut || {
                let h = state::sha256_file(&input.path)?;
                sha256 = Some(h.clone());
                Ok(h)
            })?;
            if decision == Decision::Skip {
                self.log(
                    log::Level::Info,
                    &format!("{}: skipped (unchanged since it was ingested)", input.path.display()),
                );
                skipped.push(PathBuf::from(self.redact(&input.path.display().to_string())));
            } else {
                work.push(Work { input, id: id.clone(), stamp, sha256, decision });
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
        let total_bytes: u64 = work.iter().map(|w| w.stamp.size).sum();
        let mut report = RunReport { input_bytes: total_bytes, ..RunReport::default() };
        let mut done = Done { rows: 0, bytes: 0, total_bytes, manifest_removed: false };
        let mut ingested = Vec::with_capacity(work.len());
        for w in &work {
            self.log(log::Level::Info, &format!("{}: ingesting ({})", w.input.path.display(), w.decision.reason()));
            self.ingest_one(w, inc, &base, &mut state, &mut report, &mut done, progress, start)?;
            ingested.push(PathBuf::from(self.redact(&w.input.path.display().to_string())));
        }

        // Last: the manifest of every committed output (also when nothing changed).
        Manifest::of_state(&state).save(dir)?;
        report.seconds = start.elapsed().as_secs_f64();
        self.log(
            log::Level::Info,
            &format!(
                "job {}: {} file(s) ingested, {} skipped (unchanged); {} rows written to {} file(s) in {}",
                self.path.display(),
                ingested.len(),
                skipped.len(),
                report.rows_written,
                report.files.len(),
                dir.display()
            ),
        );
        let state_path = PathBuf::from(self.redact(&inc.state_path.display().to_string()));
        report.incremental = Some(IncrementalReport { ingested, skipped, state_path });
        Ok(report)
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
    fn incremental_csv_options(&self) -> Result<CsvOptions> {
        let mut options = self.csv.clone();
        if self.asset.is_none() && options.schema.is_none() {
            let mut first = options.clone();
            first.file_labels = Some(vec![self.redact(&self.inputs[0].path.display().to_string())]);
            options.schema = Some(csv::infer_schema(&[self.inputs[0].path.clone()], &first)?);
        }
        Ok(options)
    }

    #[allow(clippy::too_many_arguments)]
    fn ingest_one(
        &self,
        w: &Work,
        inc: &Incremental,
        base: &CsvOptions,
        state: &mut State,
        report: &mut RunReport,
        done: &mut Done,
        progress: &dyn Fn(&Progress),
        start: Instant,
    ) -> Result<()> {
        let path = &w.input.path;
        let label = self.redact(&path.display().to_string());
        let mut options = base.clone();
        options.file_labels = Some(vec![label.clone()]);
        if options.on_error == OnError::Reject {
            if let Some(rejects) = &options.rejects_path {
                options.rejects_path = Some(rejects_of(rejects, &w.id));
            }
        }
        let header = self.apply_asset(w.input, &mut options)?;
        let reader = CsvReader::open(std::slice::from_ref(path), options)?;
        report.dialect.get_or_insert_with(|| reader.dialect().describe());
        report.warnings += reader.dialect().warnings.len() as u64;
        let stats = reader.stats();
        let schema = match (&self.asset, &header) {
            (Some(asset), Some(_)) => asset.output_schema(self.mode),
            _ => reader.schema(),
        };
        let mut parquet = self.parquet.clone();
        parquet.file_prefix = self.prefix_of(&w.id);
        parquet.write_mode = WriteMode::Overwrite;
        let sink = ParquetSink::create(&self.output_dir, schema, parquet)?;

        let (rows_before, bytes_before, total_bytes) = (done.rows, done.bytes, done.total_bytes);
        let mut on_progress = |rows: u64| {
            let bytes_read = bytes_before + stats.bytes_read.load(Ordering::Relaxed);
            progress(&Progress { rows: rows_before + rows, bytes_read, total_bytes, elapsed: start.elapsed() });
        };

        let dir = self.output_dir.clone();
        let manifest_removed = &mut done.manifest_removed;
        let stats_in_hook = stats.clone();
        let state_path = inc.state_path.clone();
        let id = w.id.clone();
        let stamp = w.stamp;
        let label_in_hook = label.clone();
        let stop_hashing = AtomicBool::new(false);
        let outcome = std::thread::scope(|scope| {
            // The sha256 of the content, unless deciding needed it already: hashed on its own thread
            // while the file is read (the page cache serves both), not in a pass before.
            let mut fingerprint = Some(match &w.sha256 {
                Some(h) => Fingerprint::Known(h.clone()),
                None => {
                    let stop = &stop_hashing;
                    let thread = std::thread::Builder::new()
                        .name("dativo-sha256".into())
                        .spawn_scoped(scope, move || state::sha256_file_until(path, stop))
                        .map_err(|e| Error::thread_start("the sha256 thread", e))?;
                    Fingerprint::Hashing(thread)
                }
            });
            // Steps 2 and 3 of the ordering in `state`: between sealing and publishing.
            let mut before_publish = |parts: &[SealedPart]| -> Result<()> {
                let sha256 = match fingerprint.take() {
                    Some(Fingerprint::Known(h)) => h,
                    Some(Fingerprint::Hashing(thread)) => thread
                        .join()
                        .map_err(|_| Error::Internal(format!("{label_in_hook}: the sha256 thread panicked")))??,
                    None => return Err(Error::Internal(format!("{label_in_hook}: published twice"))),
                };
                // The stamp was taken before reading and hashing began: an equal one now means the
                // rows and the hash describe the same content.
                let now = Stamp::of(path)?;
                if now != stamp {
                    return Err(Error::Data(format!(
                        "{label_in_hook}: the file changed while it was being read (size {} -> {}); nothing of it \
                     was committed; run the job again",
                        stamp.size, now.size
                    )));
                }
                if !*manifest_removed {
                    Manifest::remove(&dir)?;
                    *manifest_removed = true;
                }
                let entry = Entry {
                    path: label_in_hook.clone(),
                    status: Status::Publishing,
                    size: stamp.size,
                    modified_ns: stamp.modified_ns,
                    sha256,
                    rows: parts.iter().map(|p| p.rows).sum(),
                    rows_rejected: stats_in_hook.rows_rejected.load(Ordering::Relaxed),
                    outputs: parts
                        .iter()
                        .map(|p| Output { file: p.name.clone(), rows: p.rows, bytes: p.bytes })
                        .collect(),
                    ingested_at: state::now_secs(),
                };
                state.inputs.insert(id.clone(), entry);
                state.save(&state_path)
            };
            let sink = Staged { sink, before_publish: &mut before_publish };
            let outcome = match header {
                Some(header) => header.projection().and_then(|projection| {
                    pipeline::run(reader, move |batch: RecordBatch| projection.apply(&batch), sink, &mut on_progress)
                }),
                None => pipeline::run(reader, Ok, sink, &mut on_progress),
            };
            // A run that failed before publishing leaves the hash unused: stop it.
            stop_hashing.store(true, Ordering::Relaxed);
            outcome
        })?;

        // Step 5: committed.
        let entry = state
            .inputs
            .get_mut(&w.id)
            .ok_or_else(|| Error::Internal(format!("{label}: no state entry after publishing")))?;
        entry.status = Status::Committed;
        entry.outputs = outcome.output.iter().map(output_of).collect();
        state.save(&inc.state_path)?;

        let rows_read = stats.rows_read.load(Ordering::Relaxed);
        report.rows_read += rows_read;
        report.rows_written += outcome.rows;
        report.rows_rejected += stats.rows_rejected.load(Ordering::Relaxed);
        report.warnings += stats.warnings.load(Ordering::Relaxed);
        report.bytes_written += outcome.output.iter().map(|f| f.bytes).sum::<u64>();
        report.files.extend(outcome.output);
        done.rows += outcome.rows;
        done.bytes += w.stamp.size;
        Ok(())
    }
}

/// The sha256 of an input: known, or being computed.
enum Fingerprint<'scope> {
    Known(String),
    Hashing(std::thread::ScopedJoinHandle<'scope, Result<String>>),
}

/// Rows and bytes of the inputs finished in this run, for progress.
struct Done {
    rows: u64,
    bytes: u64,
    total_bytes: u64,
    manifest_removed: bool,
}

fn output_of(f: &CommittedFile) -> Output {
    let file = f.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Output { file, rows: f.rows, bytes: f.bytes }
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

/// A Parquet sink that runs a hook between sealing its files and publishing them.
struct Staged<'a> {
    sink: ParquetSink,
    before_publish: &'a mut dyn FnMut(&[SealedPart]) -> Result<()>,
}

impl pipeline::Sink for Staged<'_> {
    type Output = Vec<CommittedFile>;
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.sink.write(batch)
    }
    fn finish(mut self) -> Result<Vec<CommittedFile>> {
        let parts = self.sink.seal()?;
        (self.before_publish)(&parts)?;
        self.sink.finish()
    }
    fn abort(self) {
        self.sink.abort()
    }
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
