//! Running a job: one runner over a [`Source`] (the job's CSV files, or a reader plugin) and a
//! [`Target`] (Parquet files in `output_base` or in a bucket, a writer plugin, or nothing when
//! only checking).
//! Whatever the combination, the same code opens the rejects file, commits the output, writes
//! the manifest and fills the report, in this order:
//!
//! 1. the source is opened and its schema brought to the asset;
//! 2. rows flow through the pipeline (reader and writer threads, a bounded channel);
//! 3. at the commit, and only if every row got through: the Parquet files are sealed (footers
//!    written, fsynced), the old `_manifest.json` is removed, the files are published, this
//!    run's rejects file replaces the old one, and the new manifest is written last.
//!
//! A run that fails before the commit (a bad row with `on_error: fail`, a full disk, a kill)
//! leaves `output_base` exactly as it was: its Parquet files, its manifest and its rejects file.
//! Incremental runs (`source.incremental`) commit input by input with the same pieces; see
//! `incremental.rs`. On object storage, step 3 is different (no rename): see `lake.rs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::lake::{self, LakeTable};
use super::plugins::{Conform, LoadedPlugin, PluginKind, PluginSink, PluginUse};
use super::report::{Progress, RunReport};
use super::state::Manifest;
use super::Job;
use crate::csv::{CsvReader, OnError, ReadStats};
use crate::parquet::partitioned::{local_date_today, partition_columns};
use crate::parquet::{commit, CommittedFile, ObjectSink, ParquetSink, PartitionedSink, WriteMode};
use crate::schema::HeaderMatch;
use crate::store::StoreConfig;
use crate::{pipeline, Error, Result};

/// Where a run's rows come from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// The job's CSV files, read by one reader: they share their columns (the reader checks
    /// this and names the file that differs), so one asset match and one projection serve all.
    Csv,
    /// `source.custom_reader`.
    Plugin(&'a PluginUse),
}

/// Where the rows go.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// Parquet files in `output_base`, committed with the manifest.
    Parquet,
    /// `target.custom_writer`: the plugin owns its output, so there is no manifest.
    Plugin(&'a PluginUse),
    /// Parquet objects in a bucket (`target.type: s3` or `minio`), committed with the manifest
    /// object (see `lake.rs`).
    ObjectStore(&'a StoreConfig),
    /// `dativo check --data`: every row read and checked, nothing written.
    Discard,
}

/// An opened source: its batches, what turns them into the output schema, and its counters.
struct Opened<'a> {
    batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send + 'a>,
    transform: Box<dyn FnMut(RecordBatch) -> Result<RecordBatch> + Send + 'a>,
    /// The schema of the transformed batches.
    schema: SchemaRef,
    stats: Arc<ReadStats>,
    /// Header and dialect warnings counted before the first row.
    header_warnings: u64,
    /// The CSV dialect read (detected or given), for the report.
    dialect: Option<String>,
    /// Keeps a reader plugin loaded while its stream is read.
    _plugin: Option<Box<dyn LoadedPlugin>>,
}

impl Job {
    /// The one run of every non-incremental job.
    pub(super) fn run_inner(&self, progress: &dyn Fn(&Progress), write: bool) -> Result<RunReport> {
        let start = Instant::now();
        self.log_start();
        if write {
            if let Some(inc) = &self.incremental {
                return self.run_incremental(inc, progress, start);
            }
        }
        let source = match &self.reader_plugin {
            Some(plugin) => Source::Plugin(plugin),
            None => Source::Csv,
        };
        let target = match (&self.writer_plugin, write) {
            (_, false) => Target::Discard,
            (Some(plugin), true) => Target::Plugin(plugin),
            (None, true) => match &self.object_target {
                Some(config) => Target::ObjectStore(config),
                None => Target::Parquet,
            },
        };

        let rejects = match source {
            Source::Csv => RejectsFile::for_run(self.csv.on_error, self.csv.rejects_path.as_deref())?,
            Source::Plugin(_) => RejectsFile::default(),
        };
        let opened = self.open_source(source, &rejects)?;
        let stats = opened.stats.clone();
        let total_bytes = stats.total_bytes.load(Ordering::Relaxed);
        let mut on_progress = |rows: u64| {
            let bytes_read = stats.bytes_read.load(Ordering::Relaxed);
            progress(&Progress { rows, bytes_read, total_bytes, elapsed: start.elapsed() });
        };
        let mut table = match target {
            Target::ObjectStore(config) => Some(self.open_table(config)?),
            _ => None,
        };
        let sink = self.sink(opened.schema.clone(), target, table.as_ref())?;
        let outcome = pipeline::run(opened.batches, opened.transform, sink, &mut on_progress);
        drop(opened._plugin);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                rejects.discard();
                return Err(e);
            }
        };
        // The Parquet files are published (the sink did it); the rest of the commit.
        rejects.commit()?;
        if let Target::Parquet = target {
            Manifest::of_files(&outcome.output, &self.output_dir).save(&self.output_dir)?;
        }
        if let Some(table) = &mut table {
            table.commit(&outcome.output, self.parquet.write_mode == WriteMode::Append)?;
        }

        let report = RunReport {
            rows_read: stats.rows_read.load(Ordering::Relaxed),
            rows_written: if write { outcome.rows } else { 0 },
            rows_rejected: stats.rows_rejected.load(Ordering::Relaxed),
            warnings: opened.header_warnings + stats.warnings.load(Ordering::Relaxed),
            bytes_written: outcome.output.iter().map(|f| f.bytes).sum(),
            files: outcome.output,
            input_bytes: total_bytes,
            seconds: start.elapsed().as_secs_f64(),
            incremental: None,
            dialect: opened.dialect.clone(),
        };
        self.log_done(&report, source, target);
        Ok(report)
    }

    fn log_start(&self) {
        let describe = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let inputs = match &self.reader_plugin {
            Some(plugin) => plugin.spec.to_string(),
            None => format!("{} input file(s)", self.inputs.len()),
        };
        self.log(
            log::Level::Info,
            &format!(
                "job {}: tenant {}, environment {}, asset {} ({} mode), {inputs} -> {}",
                self.path.display(),
                describe(&self.tenant_id),
                describe(&self.environment),
                describe(&self.asset_name),
                self.mode.name(),
                self.output_dir.display()
            ),
        );
    }

    fn log_done(&self, report: &RunReport, source: Source, target: Target) {
        let from = match source {
            Source::Plugin(plugin) => format!(" from {}", plugin.spec),
            Source::Csv => String::new(),
        };
        let done = match target {
            Target::Discard => format!("{} rows read and checked{from}, no output written", report.rows_read),
            Target::Parquet | Target::ObjectStore(_) | Target::Plugin(_) => format!(
                "{} rows{from} written to {} file(s) in {}",
                report.rows_written,
                report.files.len(),
                self.output_dir.display()
            ),
        };
        self.log(log::Level::Info, &format!("job {}: {done}", self.path.display()));
    }

    /// Open `source`, with its batches brought to the asset's output schema.
    fn open_source<'a>(&'a self, source: Source<'a>, rejects: &RejectsFile) -> Result<Opened<'a>> {
        match source {
            Source::Csv => {
                let mut options = self.csv.clone();
                options.rejects_path = rejects.writing().map(Path::to_path_buf).or(options.rejects_path);
                let header: Option<HeaderMatch> = self.apply_asset(&self.inputs[0], &mut options)?;
                options.file_labels =
                    Some(self.inputs.iter().map(|i| self.redact(&i.path.display().to_string())).collect());
                let reader = CsvReader::open_inputs(&self.csv_inputs()?, options)?;
                let stats = reader.stats();
                let dialect = reader.dialect().clone();
                let header_warnings = header.as_ref().map_or(0, |h| h.warnings()) + dialect.warnings.len() as u64;
                let (schema, transform): (SchemaRef, Box<dyn FnMut(RecordBatch) -> Result<RecordBatch> + Send>) =
                    match (&self.asset, &header) {
                        (Some(asset), Some(header)) => {
                            let projection = header.projection()?;
                            (asset.output_schema(self.mode), Box::new(move |batch| projection.apply(&batch)))
                        }
                        _ => (reader.schema(), Box::new(Ok)),
                    };
                Ok(Opened {
                    batches: Box::new(reader),
                    transform,
                    schema,
                    stats,
                    header_warnings,
                    dialect: Some(dialect.describe()),
                    _plugin: None,
                })
            }
            Source::Plugin(plugin) => {
                let mut loaded = self.load_plugin(plugin, PluginKind::Reader)?;
                let expected = self.asset.as_ref().map(|asset| asset.output_schema(self.mode));
                let stream = loaded.open_reader(&plugin.config.to_string(), expected)?;
                let conform = match &self.asset {
                    Some(asset) => Some(Conform::new(&stream.schema(), asset.output_schema(self.mode))?),
                    None => None,
                };
                let schema = conform.as_ref().map_or_else(|| stream.schema(), |c| c.output_schema());
                let stats = Arc::new(ReadStats::default());
                let counted = stats.clone();
                let transform = move |batch: RecordBatch| {
                    counted.rows_read.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
                    match &conform {
                        Some(c) => c.apply(&batch),
                        None => Ok(batch),
                    }
                };
                Ok(Opened {
                    batches: Box::new(stream.map(|r| r.map_err(Error::from_arrow))),
                    transform: Box::new(transform),
                    schema,
                    stats,
                    header_warnings: 0,
                    dialect: None,
                    _plugin: Some(loaded),
                })
            }
        }
    }

    /// The sink of `target`.
    fn sink(&self, schema: SchemaRef, target: Target, table: Option<&LakeTable>) -> Result<JobSink> {
        if !self.partitioning.is_empty() && matches!(target, Target::Parquet | Target::ObjectStore(_)) {
            // One date for the whole run, taken when it starts writing.
            let columns = partition_columns(&self.partitioning, &local_date_today());
            let options = self.parquet.clone();
            return Ok(match table {
                None => JobSink::Partitioned {
                    sink: Box::new(PartitionedSink::create_local(&self.output_dir, schema, columns, options)?),
                    dir: Some(self.output_dir.clone()),
                },
                Some(table) => JobSink::Partitioned {
                    sink: Box::new(PartitionedSink::create_object(
                        table.store(),
                        schema,
                        columns,
                        options,
                        &lake::run_id(),
                    )?),
                    dir: None,
                },
            });
        }
        Ok(match target {
            Target::Parquet => JobSink::Parquet {
                sink: Box::new(ParquetSink::create(&self.output_dir, schema, self.parquet.clone())?),
                dir: self.output_dir.clone(),
            },
            Target::Plugin(plugin) => JobSink::Plugin(self.plugin_sink(plugin, schema)?),
            Target::ObjectStore(_) => {
                let store = table.expect("an object-store target has its table open").store();
                JobSink::Object(Box::new(ObjectSink::create(store, schema, self.parquet.clone(), &lake::run_id())?))
            }
            Target::Discard => JobSink::Discard,
        })
    }
}

/// The pipeline's end of a run.
enum JobSink {
    Parquet {
        sink: Box<ParquetSink>,
        dir: PathBuf,
    },
    /// Objects are complete when `finish` returns; the manifest, written by the runner, makes
    /// them visible.
    Object(Box<ObjectSink>),
    /// `target.partitioning`: local (`dir`, with the manifest) or object storage (`None`).
    Partitioned {
        sink: Box<PartitionedSink>,
        dir: Option<PathBuf>,
    },
    Plugin(PluginSink),
    Discard,
}

impl pipeline::Sink for JobSink {
    type Output = Vec<CommittedFile>;

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            JobSink::Parquet { sink, .. } => sink.write(batch),
            JobSink::Object(sink) => sink.write(batch),
            JobSink::Partitioned { sink, .. } => sink.write(batch),
            JobSink::Plugin(s) => s.write(batch),
            JobSink::Discard => Ok(()),
        }
    }

    fn finish(self) -> Result<Self::Output> {
        match self {
            JobSink::Parquet { mut sink, dir } => {
                // Everything that can fail without changing what a reader sees comes first.
                sink.seal()?;
                // The old manifest names the old files: it goes before they change.
                Manifest::remove(&dir)?;
                (*sink).finish()
            }
            JobSink::Object(sink) => (*sink).finish(),
            JobSink::Partitioned { mut sink, dir } => {
                sink.seal()?;
                if let Some(dir) = &dir {
                    Manifest::remove(dir)?;
                }
                (*sink).finish()
            }
            JobSink::Plugin(s) => s.finish(),
            JobSink::Discard => Ok(Vec::new()),
        }
    }

    fn abort(self) {
        match self {
            JobSink::Parquet { sink, .. } => (*sink).abort(),
            JobSink::Object(sink) => (*sink).abort(),
            JobSink::Partitioned { sink, .. } => (*sink).abort(),
            JobSink::Plugin(s) => s.abort(),
            JobSink::Discard => {}
        }
    }
}

/// This run's rejects file (`on_error: reject`): written under a hidden temp name next to
/// the final one and renamed over it at the commit, so a failed run leaves the previous run's
/// rejects file in place and a successful one never shows rows of an earlier run.
#[derive(Default)]
struct RejectsFile {
    /// (temp, final)
    paths: Option<(PathBuf, PathBuf)>,
}

impl RejectsFile {
    fn for_run(on_error: OnError, path: Option<&Path>) -> Result<RejectsFile> {
        let Some(path) = path.filter(|_| on_error == OnError::Reject) else { return Ok(RejectsFile::default()) };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create directory", &dir, e))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Config(format!("rejects_path {} does not end in a file name", path.display())))?;
        // Temps of runs that were killed.
        commit::remove_stale_file_temps(&dir, name)?;
        let temp = dir.join(commit::file_temp_name(name, std::process::id()));
        Ok(RejectsFile { paths: Some((temp, path.to_path_buf())) })
    }

    /// Where the reader writes this run's rejects.
    fn writing(&self) -> Option<&Path> {
        self.paths.as_ref().map(|(temp, _)| temp.as_path())
    }

    /// Publish this run's rejects file under its final name.
    fn commit(self) -> Result<()> {
        let Some((temp, path)) = self.paths else { return Ok(()) };
        let file = fs::File::open(&temp).map_err(|e| Error::io("cannot open the rejects file", &temp, e))?;
        file.sync_all().map_err(|e| Error::io("cannot write the rejects file", &temp, e))?;
        drop(file);
        commit::publish(&temp, &path)?;
        match path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => commit::sync_dir(dir),
            None => commit::sync_dir(Path::new(".")),
        }
    }

    fn discard(self) {
        if let Some((temp, _)) = self.paths {
            commit::remove_quietly(&temp);
        }
    }
}
