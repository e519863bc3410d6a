//! Running a job: one runner over a [`Source`] (the job's CSV files, or a reader plugin) and a
//! [`Target`] (Parquet files in `output_base` or in a bucket, a writer plugin, or nothing when
//! only checking).
//!
//! A run is a list of commit units ([`Unit`]): one for a plain run (every input read by one
//! reader, committed together), one per new or changed input with `source.incremental`.
//! Whatever the combination, the same code reads each unit, commits it and fills the report:
//!
//! 1. the unit's source is opened and its schema brought to the asset;
//! 2. rows flow through the pipeline (reader and writer threads, a bounded channel);
//! 3. at the commit, and only if every row got through: the unit's Parquet files are sealed
//!    (footers written, fsynced), the run's [`Ledger`] records what is about to become
//!    visible (the old `_manifest.json` goes; an incremental run marks the input
//!    `publishing` in its state), the files are published, the unit's rejects file replaces
//!    the old one, and the ledger records the commit;
//! 4. after the last unit the ledger writes the manifest, last.
//!
//! A run that fails before a commit (a bad row with `on_error: fail`, a full disk, a kill)
//! leaves `output_base` as that commit found it: its Parquet files, its manifest and its
//! rejects file. Why the incremental ordering never loses or duplicates a row: `state.rs`. On
//! object storage, the publishing step is different (no rename): see `lake.rs`.

pub(super) mod distributed;
mod ledger;
mod sink;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::lake::{self, LakeTable};
use super::plugins::{Conform, LoadedPlugin, PluginKind, PluginUse};
use super::report::{Progress, RunReport};
use super::{InputFile, Job};
use crate::csv::{CsvOptions, CsvReader, ReadStats};
use crate::iceberg::{IcebergTable, IcebergTarget};
use crate::parquet::partitioned::{local_date_today, partition_columns};
use crate::parquet::writer::SealedPart;
use crate::parquet::{ObjectSink, ParquetOptions, ParquetSink, PartitionedSink, WriteMode};
use crate::schema::HeaderMatch;
use crate::store::{Store, StoreConfig};
use crate::{pipeline, Error, Result};

pub(super) use ledger::Ledger;
use ledger::WholeRun;
pub(super) use sink::RejectsFile;
use sink::{Committing, JobSink};

/// Where a run's rows come from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// The job's CSV files, read by one reader per unit: they share their columns (the reader
    /// checks this and names the file that differs), so one asset match and one projection
    /// serve all the files of a unit.
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
    /// `target.type: iceberg`: data files in the table's location, committed as one snapshot
    /// through its catalog (see `iceberg/`).
    Iceberg(&'a IcebergTarget),
    /// `dativo check --data`: every row read and checked, nothing written.
    Discard,
}

/// One commit unit of a run: what it reads and how it writes. Its output becomes visible all
/// at once, or not at all.
pub(super) struct Unit<'a> {
    /// The CSV files it reads, in order (none for a reader plugin).
    pub inputs: Vec<&'a InputFile>,
    /// Reader options, before the asset's match of the first input is applied.
    pub csv: CsvOptions,
    /// Writer options (an incremental unit names its files after its input).
    pub parquet: ParquetOptions,
    /// The size of `inputs` when the plan measured it (incremental runs stamp every input);
    /// `None` takes the reader's count.
    pub bytes: Option<u64>,
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

/// What the units of a run share: the rows and bytes of the units finished so far (for
/// progress across units), and the run's date.
struct Done {
    rows: u64,
    bytes: u64,
    /// The plan's total, when it measured every unit.
    total_bytes: Option<u64>,
    /// The virtual `ingest_date` partition value: one date for the whole run, taken when it
    /// starts.
    ingest_date: String,
}

impl Job {
    /// The one run of every job.
    pub(super) fn run_inner(&self, progress: &dyn Fn(&Progress), write: bool) -> Result<RunReport> {
        let start = Instant::now();
        self.log_start();
        let source = match &self.reader_plugin {
            Some(plugin) => Source::Plugin(plugin),
            None => Source::Csv,
        };
        let target = match (&self.writer_plugin, write) {
            (_, false) => Target::Discard,
            (Some(plugin), true) => Target::Plugin(plugin),
            (None, true) => match (&self.object_target, &self.iceberg_target) {
                (_, Some(iceberg)) => Target::Iceberg(iceberg),
                (Some(config), None) => Target::ObjectStore(config),
                (None, None) => Target::Parquet,
            },
        };
        let table = match target {
            Target::ObjectStore(config) => Some(self.open_table(config)?),
            _ => None,
        };
        let store = table.as_ref().map(LakeTable::store);
        // `resolve` allows source.incremental only with CSV files into a folder or a bucket.
        let (units, mut ledger): (Vec<Unit>, Box<dyn Ledger + '_>) = match (&self.incremental, source, target) {
            (Some(inc), Source::Csv, Target::Parquet | Target::ObjectStore(_)) => {
                let (units, ledger) = self.plan_incremental(inc, table)?;
                (units, Box::new(ledger))
            }
            _ => {
                let manifest_dir = matches!(target, Target::Parquet).then(|| self.output_dir.clone());
                let append = self.parquet.write_mode == WriteMode::Append;
                (vec![self.whole_unit(source)], Box::new(WholeRun { manifest_dir, table, append }))
            }
        };

        let mut report = RunReport::default();
        let measured: Option<u64> = units.iter().map(|u| u.bytes).sum();
        // An Iceberg table is opened with the first unit's schema (the asset's, or the inferred
        // one) and commits one snapshot after the last unit (a table target is never
        // incremental, so there is one unit).
        let mut iceberg: Option<IcebergTable> = None;
        let mut done = Done { rows: 0, bytes: 0, total_bytes: measured, ingest_date: local_date_today() };
        for (index, unit) in units.iter().enumerate() {
            ledger.start(index)?;
            let unit_report = self
                .run_unit(
                    unit,
                    index,
                    source,
                    target,
                    store.as_ref(),
                    &mut iceberg,
                    &mut *ledger,
                    &done,
                    start,
                    progress,
                )
                .inspect_err(|_| ledger.failed(index))?;
            done.rows += unit_report.rows_written;
            done.bytes += unit.bytes.unwrap_or(unit_report.input_bytes);
            add(&mut report, unit_report, write);
        }
        if let Some(table) = &mut iceberg {
            table.commit(&report.files)?;
        }
        ledger.finish(&mut report)?;
        report.seconds = start.elapsed().as_secs_f64();
        self.log_done(&report, source, target);
        Ok(report)
    }

    /// The unit of a plain run: every input, the job's options.
    fn whole_unit(&self, source: Source) -> Unit<'_> {
        let inputs = match source {
            Source::Csv => self.inputs.iter().collect(),
            Source::Plugin(_) => Vec::new(),
        };
        Unit { inputs, csv: self.csv.clone(), parquet: self.parquet.clone(), bytes: None }
    }

    /// Read, write and commit one unit.
    #[allow(clippy::too_many_arguments)]
    fn run_unit(
        &self,
        unit: &Unit,
        index: usize,
        source: Source,
        target: Target,
        store: Option<&Arc<Store>>,
        iceberg: &mut Option<IcebergTable>,
        ledger: &mut dyn Ledger,
        done: &Done,
        start: Instant,
        progress: &dyn Fn(&Progress),
    ) -> Result<RunReport> {
        let rejects = match source {
            Source::Csv => RejectsFile::for_run(unit.csv.on_error, unit.csv.rejects_path.as_deref())?,
            Source::Plugin(_) => RejectsFile::default(),
        };
        let opened = self.open_source(source, unit, &rejects)?;
        let stats = opened.stats.clone();
        let input_bytes = stats.total_bytes.load(Ordering::Relaxed);
        let total_bytes = done.total_bytes.unwrap_or(input_bytes);
        let mut on_progress = |rows: u64| {
            let bytes_read = done.bytes + stats.bytes_read.load(Ordering::Relaxed);
            progress(&Progress { rows: done.rows + rows, bytes_read, total_bytes, elapsed: start.elapsed() });
        };
        let sink = match target {
            Target::Iceberg(config) => {
                if iceberg.is_none() {
                    *iceberg = Some(self.open_iceberg(config, &opened.schema)?);
                }
                let table = iceberg.as_ref().ok_or_else(|| Error::Internal("an Iceberg table not opened".into()))?;
                JobSink::Iceberg(Box::new(table.sink(unit.parquet.clone())?))
            }
            _ => self.sink(opened.schema.clone(), target, store, &unit.parquet, &done.ingest_date)?,
        };
        let outcome = {
            let mut before_publish =
                |parts: &[SealedPart]| ledger.before_publish(index, parts, stats.rows_rejected.load(Ordering::Relaxed));
            let sink = Committing { sink, before_publish: &mut before_publish };
            pipeline::run(opened.batches, opened.transform, sink, &mut on_progress)
        };
        drop(opened._plugin);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                rejects.discard();
                return Err(e);
            }
        };
        // The Parquet files are published (the sink did it); the rest of the unit's commit.
        rejects.commit()?;
        ledger.committed(index, &outcome.output)?;
        Ok(RunReport {
            rows_read: stats.rows_read.load(Ordering::Relaxed),
            rows_written: outcome.rows,
            rows_rejected: stats.rows_rejected.load(Ordering::Relaxed),
            warnings: opened.header_warnings + stats.warnings.load(Ordering::Relaxed),
            bytes_written: outcome.output.iter().map(|f| f.bytes).sum(),
            files: outcome.output,
            input_bytes,
            seconds: 0.0,
            incremental: None,
            dialect: opened.dialect,
        })
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
        let written = format!(
            "{} rows{from} written to {} file(s) in {}",
            report.rows_written,
            report.files.len(),
            self.output_dir.display()
        );
        let done = match (target, &report.incremental) {
            (Target::Discard, _) => format!("{} rows read and checked{from}, no output written", report.rows_read),
            (_, Some(inc)) => {
                format!("{} file(s) ingested, {} skipped (unchanged); {written}", inc.ingested.len(), inc.skipped.len())
            }
            (Target::Parquet | Target::ObjectStore(_) | Target::Iceberg(_) | Target::Plugin(_), None) => written,
        };
        self.log(log::Level::Info, &format!("job {}: {done}", self.path.display()));
    }

    /// Open `source` for `unit`, with its batches brought to the asset's output schema.
    fn open_source<'a>(&'a self, source: Source<'a>, unit: &Unit, rejects: &RejectsFile) -> Result<Opened<'a>> {
        match source {
            Source::Csv => {
                let first = unit.inputs.first().ok_or_else(|| Error::Internal("a CSV unit without inputs".into()))?;
                let mut options = unit.csv.clone();
                options.rejects_path = rejects.writing().map(Path::to_path_buf).or(options.rejects_path);
                let header: Option<HeaderMatch> = self.apply_asset(first, &mut options)?;
                options.file_labels =
                    Some(unit.inputs.iter().map(|i| self.redact(&i.path.display().to_string())).collect());
                let reader = CsvReader::open_inputs(&self.csv_inputs(&unit.inputs)?, options)?;
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

    /// The sink of `target`, writing with `parquet`.
    fn sink(
        &self,
        schema: SchemaRef,
        target: Target,
        store: Option<&Arc<Store>>,
        parquet: &ParquetOptions,
        ingest_date: &str,
    ) -> Result<JobSink> {
        let options = parquet.clone();
        if !self.partitioning.is_empty() && matches!(target, Target::Parquet | Target::ObjectStore(_)) {
            let columns = partition_columns(&self.partitioning, ingest_date);
            return Ok(JobSink::Partitioned(Box::new(match store {
                None => PartitionedSink::create_local(&self.output_dir, schema, columns, options)?,
                Some(store) => {
                    PartitionedSink::create_object(store.clone(), schema, columns, options, &lake::run_id())?
                }
            })));
        }
        Ok(match target {
            Target::Parquet => JobSink::Parquet(Box::new(ParquetSink::create(&self.output_dir, schema, options)?)),
            Target::Plugin(plugin) => JobSink::Plugin(self.plugin_sink(plugin, schema)?),
            Target::ObjectStore(_) => {
                let store = store.ok_or_else(|| Error::Internal("an object-store target without its store".into()))?;
                JobSink::Object(Box::new(ObjectSink::create(store.clone(), schema, options, &lake::run_id())?))
            }
            Target::Discard => JobSink::Discard,
            Target::Iceberg(_) => return Err(Error::Internal("an Iceberg target's sink comes from its table".into())),
        })
    }
}

/// Add a unit's counts to the run's report.
fn add(report: &mut RunReport, unit: RunReport, write: bool) {
    report.rows_read += unit.rows_read;
    if write {
        report.rows_written += unit.rows_written;
    }
    report.rows_rejected += unit.rows_rejected;
    report.warnings += unit.warnings;
    report.bytes_written += unit.bytes_written;
    report.input_bytes += unit.input_bytes;
    report.files.extend(unit.files);
    if report.dialect.is_none() {
        report.dialect = unit.dialect;
    }
}
