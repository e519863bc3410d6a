//! A job run whose units are read and written elsewhere (`dativo run --engine ray`): the
//! driver plans the units and commits them, workers run them.
//!
//! The driver ([`Job::run_distributed`]) plans the run as a local run does (the same units,
//! the same ledger: folder lock, incremental state), turns each unit into a [`UnitTask`] and
//! hands all of them to an executor (for Ray: one task each). A worker loads the same job file
//! and runs its task with [`Job::run_task`]: it reads the unit's inputs and writes its Parquet
//! files as *staged* files (complete, fsynced, hidden; `parquet::staged`) and its rejects as a
//! hidden staged file, and returns a [`UnitResult`] describing them. Nothing a worker writes
//! is visible. When every task has ended, the driver commits the results in unit order with
//! the ledger, exactly as a local run commits its units: so the report, the state and the
//! guarantees are a local run's.
//!
//! - A plain run is one unit per input file here (a local run reads them all in one unit), so
//!   the files can be read in parallel; the driver publishes every unit's files at once, named
//!   `<prefix>-NNNNN.parquet` in input order, as a local run names them, and joins the rejects
//!   into one file. The column types inferred without an asset are the first input's, pinned
//!   for every unit (as incremental runs do), so every file has one schema.
//! - An incremental run's units are its own (one per new or changed input); each is committed
//!   with its state step, in order. A unit that failed stops the commit there: the units before
//!   it are committed, as in a local run, and the rest are discarded.
//! - A task retried by the executor (a worker died) stages under a new attempt-unique name;
//!   what the dead attempt left (temps, staged files) is removed by the driver's commit.
//!
//! Workers must see the job file, its inputs and the output folder at the same paths as the
//! driver (one machine, or a shared file system), and resolve its `${VAR}`s themselves: no
//! secret travels in a task. A task carries a fingerprint of the job as the driver resolved it,
//! and a worker whose job differs (the file changed, a variable differs) refuses the task.
//!
//! Supported: CSV inputs (files, `s3://` objects) into Parquet in `output_base` or a bucket,
//! plain or incremental, Hive-partitioned or not, or into an Iceberg table (partitioned or
//! not). A partitioned task stages its files in their partition folders, and the driver names
//! them per folder as a local run does. Into a bucket, a task's objects are complete under
//! attempt-unique names (in partition folders when partitioned) and only the manifest object
//! (written by the driver) publishes them, deleting the others; into Iceberg, a task's data
//! files are named by no snapshot until the driver commits one naming the counted attempts'
//! files. A reader plugin's rows are one stream: its job is one unit, run by one task that
//! loads the plugin. Jobs with a writer plugin are refused with an error saying so: the
//! plugin commits its own writes, so a retried task would write twice.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ledger::{Ledger, WholeRun};
use super::{add, Source, Unit};
use crate::csv::OnError;
use crate::job::lake::LakeTable;
use crate::job::report::RunReport;
use crate::job::Job;
use crate::parquet::commit;
use crate::parquet::partitioned::partition_columns;
use crate::parquet::staged::{self, publish_unit_staged};
use crate::parquet::writer::SealedPart;
use crate::parquet::{publish_staged, ObjectSink, ParquetSink, PartitionedSink, StagedFile, WriteMode};
use crate::store::Store;
use crate::{pipeline, Error, Result};

/// One unit of a distributed run, as a worker receives it (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitTask {
    /// The job as the driver resolved it (a hash): a worker whose job differs refuses.
    pub job: String,
    /// The run, for the staged rejects file's name.
    pub run_id: String,
    /// The unit's place in the run (its commit order).
    pub index: usize,
    /// The unit's inputs, as indices into the job's input list.
    pub inputs: Vec<usize>,
    /// The unit's file prefix.
    pub file_prefix: String,
    /// The unit's rejects file, when bad rows are rejected.
    pub rejects_path: Option<PathBuf>,
    /// Inputs as the report and messages name them (for people reading the task).
    pub labels: Vec<String>,
    /// The run's date (`YYYY-MM-DD`, the virtual `ingest_date`), taken once by the driver.
    pub ingest_date: String,
}

/// What a worker's task staged, and its counts (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitResult {
    pub index: usize,
    /// The unit's Parquet files, staged in `output_base`.
    pub staged: Vec<StagedFile>,
    /// The unit's rejects, staged next to its rejects file (`on_error: reject`).
    pub rejects: Option<PathBuf>,
    pub rows_read: u64,
    pub rows_written: u64,
    pub rows_rejected: u64,
    pub warnings: u64,
    pub input_bytes: u64,
    pub dialect: Option<String>,
}

/// A task's end, as the executor reports it: its result, or the error it failed with.
#[derive(Debug)]
pub struct UnitOutcome {
    /// The task's `index`.
    pub index: usize,
    pub result: Result<UnitResult>,
}

impl Job {
    /// Run the job with its units executed by `execute`, which gets every task of the run and
    /// returns one outcome per task, in any order (see the module documentation). The report
    /// is the one a local run gives.
    pub fn run_distributed(
        &self,
        execute: &mut dyn FnMut(&[UnitTask]) -> Result<Vec<UnitOutcome>>,
    ) -> Result<RunReport> {
        self.run_distributed_inner(execute).map_err(|e| self.redactor.error(e))
    }

    /// Run one task of a distributed run of this job (a worker's part): read the unit's
    /// inputs and stage its files. Nothing becomes visible.
    pub fn run_task(&self, task: &UnitTask) -> Result<UnitResult> {
        self.run_task_inner(task).map_err(|e| self.redactor.error(e))
    }

    /// Why this job cannot run distributed, if it cannot.
    fn check_distributable(&self) -> Result<()> {
        let refuse = |what: &str| {
            Err(Error::Config(format!(
                "{}: {what} cannot run distributed (--engine ray runs CSV files or a custom reader into \
                 Parquet in a folder or a bucket, plain or incremental, partitioned or not, or into an Iceberg \
                 table); run it without --engine",
                self.path.display()
            )))
        };
        // A writer plugin writes (and commits) by itself: nothing stages its output for one
        // commit, and a retried task would write its rows twice.
        if self.writer_plugin.is_some() {
            return refuse(
                "a job with a custom writer (it commits its own writes, so a retried task would write twice)",
            );
        }
        Ok(())
    }

    /// A hash of what a worker needs to agree on with the driver.
    fn fingerprint(&self) -> String {
        let text = format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            self.reader_plugin,
            self.inputs,
            self.output_dir,
            self.object_target,
            self.csv,
            self.parquet,
            self.asset,
            self.mode,
            self.incremental
        );
        let digest = Sha256::digest(text.as_bytes());
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    fn run_distributed_inner(
        &self,
        execute: &mut dyn FnMut(&[UnitTask]) -> Result<Vec<UnitOutcome>>,
    ) -> Result<RunReport> {
        let start = Instant::now();
        self.check_distributable()?;
        self.log_start();
        let run_id = crate::job::lake::run_id();
        let fingerprint = self.fingerprint();
        // A bucket: opening it removes what failed runs left (before any task uploads). An
        // Iceberg table has no folder of ours (its `output_dir` only names it in messages).
        let mut table = match &self.object_target {
            Some(config) => Some(self.open_table(config)?),
            None if self.iceberg_target.is_some() => None,
            None => {
                fs::create_dir_all(&self.output_dir)
                    .map_err(|e| Error::io("cannot create directory", &self.output_dir, e))?;
                None
            }
        };

        let ingest_date = crate::parquet::partitioned::local_date_today();
        // An Iceberg table is created (if new) before any task writes to it; a reader plugin's
        // schema without an asset is known only to its task, which creates the table then.
        let iceberg = match &self.iceberg_target {
            Some(target) if self.reader_plugin.is_none() || self.asset.is_some() => {
                Some(crate::iceberg::IcebergTable::open(
                    target,
                    self.output_schema()?.as_ref(),
                    &self.partitioning,
                    &ingest_date,
                    &run_id,
                )?)
            }
            _ => None,
        };

        // The units, and the ledger of the incremental ones.
        let (units, incremental) = match &self.incremental {
            Some(inc) => {
                let (units, ledger) = self.plan_incremental(inc, table.take())?;
                (units, Some(ledger))
            }
            None => (self.plain_units(&run_id), None),
        };
        let tasks: Vec<UnitTask> = units
            .iter()
            .enumerate()
            .map(|(index, unit)| UnitTask {
                job: fingerprint.clone(),
                run_id: run_id.clone(),
                index,
                inputs: unit.inputs.iter().map(|i| self.index_of(i)).collect(),
                file_prefix: unit.parquet.file_prefix.clone(),
                rejects_path: unit
                    .csv
                    .rejects_path
                    .clone()
                    .filter(|_| unit.csv.on_error == OnError::Reject && self.reader_plugin.is_none()),
                labels: unit.inputs.iter().map(|i| self.redact(&i.path.display().to_string())).collect(),
                ingest_date: ingest_date.clone(),
            })
            .collect();
        let results = if tasks.is_empty() { Ok(Vec::new()) } else { execute(&tasks) };
        let results = match results.and_then(|r| in_order(r, tasks.len())) {
            Ok(r) => r,
            Err(e) => {
                // Whatever the tasks that ran staged (the ledger may hold the folder lock). In
                // a bucket, the next run's open removes the objects no manifest names.
                if self.object_target.is_none() {
                    let prefixes: HashSet<&str> = units.iter().map(|u| u.parquet.file_prefix.as_str()).collect();
                    for prefix in prefixes.into_iter().chain([self.parquet.file_prefix.as_str()]) {
                        staged::discard_unit_staged(&self.output_dir, prefix)?;
                    }
                }
                self.discard_rejects(&tasks);
                return Err(e);
            }
        };

        let committed = match incremental {
            Some(ledger) => self.commit_incremental(&units, results, Box::new(ledger)),
            None => match &self.iceberg_target {
                Some(target) => self.commit_plain_iceberg(results, iceberg, target),
                None => self.commit_plain(results, table),
            },
        };
        // Staged rejects of the run that were not published: failed units, retried attempts.
        self.discard_rejects(&tasks);
        let mut report = committed?;
        report.seconds = start.elapsed().as_secs_f64();
        let source = self.reader_plugin.as_ref().map_or(Source::Csv, Source::Plugin);
        self.log_done(&report, source, super::Target::Parquet);
        Ok(report)
    }

    /// A plain run's units: one per input, each staging under its own prefix.
    fn plain_units(&self, run_id: &str) -> Vec<Unit<'_>> {
        if self.reader_plugin.is_some() {
            // A reader plugin's rows are one stream: one unit reads it all.
            let mut parquet = self.parquet.clone();
            parquet.file_prefix = format!("{}-{run_id}-00000", self.parquet.file_prefix);
            return vec![Unit { inputs: Vec::new(), csv: self.csv.clone(), parquet, bytes: None }];
        }
        let rejects = self.csv.rejects_path.clone();
        self.inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let mut parquet = self.parquet.clone();
                parquet.file_prefix = format!("{}-{run_id}-{i:05}", self.parquet.file_prefix);
                let mut csv = self.csv.clone();
                csv.rejects_path = rejects.clone();
                Unit { inputs: vec![input], csv, parquet, bytes: None }
            })
            .collect()
    }

    fn index_of(&self, input: &crate::job::InputFile) -> usize {
        self.inputs.iter().position(|i| std::ptr::eq(i, input)).unwrap_or(usize::MAX)
    }

    /// Publish every unit of a plain run at once, as the one commit of a local run.
    fn commit_plain(&self, results: Vec<Result<UnitResult>>, table: Option<LakeTable>) -> Result<RunReport> {
        let dir = &self.output_dir;
        let prefix = &self.parquet.file_prefix;
        let mut ok = Vec::with_capacity(results.len());
        let mut first_error = None;
        for outcome in results {
            match outcome {
                Ok(result) => ok.push(result),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            discard_results(&ok);
            if table.is_none() {
                staged::discard_staged(dir, prefix)?;
            }
            return Err(e);
        }
        if let Some(table) = table {
            return self.commit_plain_objects(ok, table);
        }
        // Final names in input order, numbered as one local sink numbers its files: per
        // folder (the directory, or each partition folder).
        let mut next: HashMap<String, u64> = HashMap::new();
        let mut files = Vec::new();
        for result in &ok {
            for file in &result.staged {
                let folder = file.final_name.rsplit_once('/').map_or("", |(f, _)| f).to_string();
                let n = match next.entry(folder.clone()) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(match self.parquet.write_mode {
                        WriteMode::Overwrite => 0,
                        WriteMode::Append => commit::highest_part(&dir.join(&folder), prefix)?.map_or(0, |h| h + 1),
                    }),
                };
                let name = commit::final_name(prefix, *n);
                *n += 1;
                let final_name = if folder.is_empty() { name } else { format!("{folder}/{name}") };
                files.push(StagedFile { final_name, ..file.clone() });
            }
        }
        let rejects = self.join_rejects(&ok)?;
        let committed = match publish_staged(dir, &files, prefix, self.parquet.write_mode) {
            Ok(c) => c,
            Err(e) => {
                if let Some(r) = rejects {
                    r.discard();
                }
                return Err(e);
            }
        };
        if let Some(r) = rejects {
            r.commit()?;
        }
        let mut report = RunReport::default();
        for result in ok {
            add(&mut report, unit_report(&result, Vec::new()), true);
        }
        report.bytes_written = committed.iter().map(|f| f.bytes).sum();
        report.files = committed;
        // The ledger of a plain run only keeps the manifest, which `publish_staged` wrote.
        let ledger: Box<dyn Ledger> = Box::new(WholeRun { manifest_dir: None, table: None, append: false });
        ledger.finish(&mut report)?;
        Ok(report)
    }

    /// A plain run into a bucket: the tasks' objects are complete already; the manifest object
    /// naming them, written last, is the commit (`lake.rs`).
    fn commit_plain_objects(&self, ok: Vec<UnitResult>, table: LakeTable) -> Result<RunReport> {
        let append = self.parquet.write_mode == WriteMode::Append;
        let ledger: Box<dyn Ledger> = Box::new(WholeRun { manifest_dir: None, table: Some(table), append });
        self.commit_complete(ok, |report| ledger.finish(report))
    }

    /// A plain run into an Iceberg table: the tasks' data files are complete in the table's
    /// location (named by no snapshot); one snapshot naming them is the commit. A failed run
    /// leaves its data files unreferenced (the table's orphans, as for a local run).
    /// `table` is the one the driver opened, or None when the task created it (a reader
    /// plugin without an asset): it is loaded then, once every task succeeded.
    fn commit_plain_iceberg(
        &self,
        results: Vec<Result<UnitResult>>,
        table: Option<crate::iceberg::IcebergTable>,
        target: &crate::iceberg::IcebergTarget,
    ) -> Result<RunReport> {
        let ok = results.into_iter().collect::<Result<Vec<UnitResult>>>()?;
        let mut table = match table {
            Some(t) => t,
            None => crate::iceberg::IcebergTable::load(target)?,
        };
        self.commit_complete(ok, |report| table.commit(&report.files).map(drop))
    }

    /// The commit of a plain run whose files are complete where they are (objects, Iceberg
    /// data files): the report of every unit, then `commit_point` (which makes the files
    /// visible), then the joined rejects file; a failed commit point discards the rejects.
    fn commit_complete(
        &self,
        ok: Vec<UnitResult>,
        commit_point: impl FnOnce(&mut RunReport) -> Result<()>,
    ) -> Result<RunReport> {
        let rejects = self.join_rejects(&ok)?;
        let mut report = RunReport::default();
        for result in &ok {
            add(&mut report, unit_report(result, objects_of(result)), true);
        }
        if let Err(e) = commit_point(&mut report) {
            if let Some(r) = rejects {
                r.discard();
            }
            return Err(e);
        }
        if let Some(r) = rejects {
            r.commit()?;
        }
        Ok(report)
    }

    /// The schema of the run's batches: the asset's, else the first input's with the pinned
    /// options (every unit reads with those).
    fn output_schema(&self) -> Result<arrow_schema::SchemaRef> {
        if let Some(asset) = &self.asset {
            return Ok(asset.output_schema(self.mode));
        }
        let options = self.incremental_csv_options()?;
        Ok(crate::csv::CsvReader::open_inputs(&[Job::csv_input(&self.inputs[0])?], options)?.schema())
    }

    /// Commit an incremental run's units in order, each with its state step; stop at the first
    /// that failed.
    fn commit_incremental(
        &self,
        units: &[Unit],
        results: Vec<Result<UnitResult>>,
        mut ledger: Box<dyn Ledger + '_>,
    ) -> Result<RunReport> {
        let dir = &self.output_dir;
        let mut report = RunReport::default();
        let mut results = results.into_iter();
        for (index, unit) in units.iter().enumerate() {
            let outcome = results.next().ok_or_else(|| Error::Internal("a unit without an outcome".into()))?;
            let committed = outcome.and_then(|result| {
                ledger.start(index)?;
                let prefix = &unit.parquet.file_prefix;
                let parts: Vec<SealedPart> = result
                    .staged
                    .iter()
                    .map(|f| SealedPart { name: f.final_name.clone(), rows: f.rows, bytes: f.bytes })
                    .collect();
                if let Err(e) = ledger.before_publish(index, &parts, result.rows_rejected) {
                    discard_results(std::slice::from_ref(&result));
                    return Err(e);
                }
                let files = match self.object_target {
                    // Complete objects: the ledger's manifest of the state publishes them.
                    Some(_) => objects_of(&result),
                    None => publish_unit_staged(dir, &result.staged, prefix)?,
                };
                if let (Some(staged), Some(path)) = (&result.rejects, &unit.csv.rejects_path) {
                    publish_rejects(staged, path)?;
                }
                ledger.committed(index, &files)?;
                Ok(unit_report(&result, files))
            });
            match committed {
                Ok(unit_report) => add(&mut report, unit_report, true),
                Err(e) => {
                    ledger.failed(index);
                    let rest: Vec<UnitResult> = results.filter_map(|o| o.ok()).collect();
                    discard_results(&rest);
                    // The folder lock is the ledger's: discard without taking it.
                    for unit in units.iter().filter(|_| self.object_target.is_none()) {
                        staged::discard_unit_staged(dir, &unit.parquet.file_prefix)?;
                    }
                    return Err(e);
                }
            }
        }
        ledger.finish(&mut report)?;
        Ok(report)
    }

    fn run_task_inner(&self, task: &UnitTask) -> Result<UnitResult> {
        self.check_distributable()?;
        if task.job != self.fingerprint() {
            return Err(Error::Config(format!(
                "{}: this worker resolves the job differently from the driver that planned unit {} (the job file, \
                 an input or a ${{VAR}} differs here); every worker must see the same job, inputs and environment",
                self.path.display(),
                task.index
            )));
        }
        let inputs = task
            .inputs
            .iter()
            .map(|&i| {
                self.inputs.get(i).ok_or_else(|| {
                    Error::Config(format!("unit {}: input {i} is not an input of {}", task.index, self.path.display()))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Pinned as the driver's other units pin them (an incremental run's units do already).
        let (source, mut csv) = match &self.reader_plugin {
            Some(plugin) => (Source::Plugin(plugin), self.csv.clone()),
            None => (Source::Csv, self.incremental_csv_options()?),
        };
        csv.rejects_path = task.rejects_path.as_ref().map(|p| staged_rejects_path(p, &task.run_id, task.index));
        let mut parquet = self.parquet.clone();
        parquet.file_prefix = task.file_prefix.clone();
        parquet.write_mode = WriteMode::Overwrite;
        let unit = Unit { inputs, csv, parquet, bytes: None };

        let rejects = super::RejectsFile::default();
        let opened = self.open_source(source, &unit, &rejects)?;
        let stats = opened.stats.clone();
        let sink = match (&self.object_target, &self.iceberg_target) {
            (_, Some(target)) => {
                // Its own run id: a retried attempt's files never replace another's.
                let table = crate::iceberg::IcebergTable::open(
                    target,
                    &opened.schema,
                    &self.partitioning,
                    &task.ingest_date,
                    &crate::job::lake::run_id(),
                )?;
                Staging::Iceberg(table.sink(unit.parquet.clone())?)
            }
            (None, None) if self.partitioning.is_empty() => {
                Staging::Local(ParquetSink::create(&self.output_dir, opened.schema.clone(), unit.parquet.clone())?)
            }
            // Staged in their partition folders; `ingest_date` is the driver's, for every task.
            (None, None) => Staging::Partitioned(PartitionedSink::create_local(
                &self.output_dir,
                opened.schema.clone(),
                partition_columns(&self.partitioning, &task.ingest_date),
                unit.parquet.clone(),
            )?),
            // Named for this attempt alone: a retried task's objects never replace another's.
            (Some(config), None) if self.partitioning.is_empty() => Staging::Object(ObjectSink::create(
                Arc::new(Store::connect(config)?),
                opened.schema.clone(),
                unit.parquet.clone(),
                &crate::job::lake::run_id(),
            )?),
            // Partition folders of such objects; `ingest_date` is the driver's, for every task.
            (Some(config), None) => Staging::Partitioned(PartitionedSink::create_object(
                Arc::new(Store::connect(config)?),
                opened.schema.clone(),
                partition_columns(&self.partitioning, &task.ingest_date),
                unit.parquet.clone(),
                &crate::job::lake::run_id(),
            )?),
        };
        let outcome = pipeline::run(opened.batches, opened.transform, sink, &mut |_| {});
        let staged_rejects = unit.csv.rejects_path.clone();
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                if let Some(r) = &staged_rejects {
                    commit::remove_quietly(r);
                }
                return Err(e);
            }
        };
        let rejects = match &staged_rejects {
            Some(path) if path.exists() => {
                fs::File::open(path)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| Error::io("cannot write the rejects file", path, e))?;
                Some(path.clone())
            }
            _ => None,
        };
        Ok(UnitResult {
            index: task.index,
            rows_written: outcome.rows,
            staged: outcome.output,
            rejects,
            rows_read: stats.rows_read.load(Ordering::Relaxed),
            rows_rejected: stats.rows_rejected.load(Ordering::Relaxed),
            warnings: opened.header_warnings + stats.warnings.load(Ordering::Relaxed),
            input_bytes: stats.total_bytes.load(Ordering::Relaxed),
            dialect: opened.dialect,
        })
    }

    /// The units' rejects joined into the run's one rejects file (a temp, committed with the
    /// Parquet files): each unit's rows after the first one's header.
    fn join_rejects(&self, results: &[UnitResult]) -> Result<Option<super::RejectsFile>> {
        let staged: Vec<&PathBuf> = results.iter().filter_map(|r| r.rejects.as_ref()).collect();
        let path = self.csv.rejects_path.as_deref().filter(|_| self.csv.on_error == OnError::Reject);
        let Some(path) = path else { return Ok(None) };
        let rejects = super::RejectsFile::for_run(OnError::Reject, Some(path))?;
        let Some(temp) = rejects.writing() else { return Ok(None) };
        let mut out = std::io::BufWriter::new(
            fs::File::create(temp).map_err(|e| Error::io("cannot create rejects file", temp, e))?,
        );
        for (n, part) in staged.iter().enumerate() {
            let file = fs::File::open(part).map_err(|e| Error::io("cannot read a unit's rejects", part, e))?;
            for (i, line) in BufReader::new(file).split(b'\n').enumerate() {
                let line = line.map_err(|e| Error::io("cannot read a unit's rejects", part, e))?;
                if i == 0 && n > 0 {
                    continue; // the header, written once
                }
                out.write_all(&line)
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(|e| Error::io("cannot write rejects file", temp, e))?;
            }
        }
        out.flush().map_err(|e| Error::io("cannot write rejects file", temp, e))?;
        Ok(Some(rejects))
    }

    /// Remove every staged rejects file of the run's tasks (joined, or of failed attempts).
    fn discard_rejects(&self, tasks: &[UnitTask]) {
        let folders: HashSet<(PathBuf, String)> = tasks
            .iter()
            .filter_map(|t| t.rejects_path.as_ref())
            .filter_map(|p| Some((parent_of(p), p.file_name()?.to_string_lossy().into_owned())))
            .collect();
        for (dir, name) in folders {
            let Ok(names) = commit::list_names(&dir) else { continue };
            for file in names {
                if is_staged_rejects_of(&name, &file) {
                    commit::remove_quietly(&dir.join(file));
                }
            }
        }
    }
}

/// A pipeline sink that stages its files instead of publishing them: local files under hidden
/// staged names; objects complete under names no manifest has (their URL is the staged path,
/// their name under the prefix the final name).
enum Staging {
    Local(ParquetSink),
    Object(ObjectSink),
    /// Hive partition folders of such files (local) or objects (a bucket).
    Partitioned(PartitionedSink),
    /// Data files in an Iceberg table's location, complete and in no snapshot.
    Iceberg(crate::iceberg::IcebergSink),
}

impl pipeline::Sink for Staging {
    type Output = Vec<StagedFile>;
    fn write(&mut self, batch: &arrow_array::RecordBatch) -> Result<()> {
        match self {
            Staging::Local(sink) => sink.write(batch),
            Staging::Object(sink) => sink.write(batch),
            Staging::Partitioned(sink) => sink.write(batch),
            Staging::Iceberg(sink) => sink.write(batch),
        }
    }
    fn finish(self) -> Result<Vec<StagedFile>> {
        match self {
            Staging::Local(sink) => sink.stage(),
            Staging::Object(sink) => Ok(sink.finish()?.into_iter().map(crate::job::output::staged_object).collect()),
            Staging::Partitioned(sink) => sink.stage(),
            Staging::Iceberg(sink) => Ok(sink.finish()?.into_iter().map(crate::job::output::staged_object).collect()),
        }
    }
    fn abort(self) {
        match self {
            Staging::Local(sink) => sink.abort(),
            Staging::Object(sink) => sink.abort(),
            Staging::Partitioned(sink) => sink.abort(),
            Staging::Iceberg(sink) => sink.abort(),
        }
    }
}

/// A bucket unit's objects, as committed files (they are complete where they are).
fn objects_of(result: &UnitResult) -> Vec<crate::parquet::CommittedFile> {
    result
        .staged
        .iter()
        .map(|f| crate::parquet::CommittedFile { path: f.temp_path.clone(), rows: f.rows, bytes: f.bytes })
        .collect()
}

/// The results sorted by unit, exactly one per unit.
fn in_order(outcomes: Vec<UnitOutcome>, units: usize) -> Result<Vec<Result<UnitResult>>> {
    let mut slots: Vec<Option<Result<UnitResult>>> = (0..units).map(|_| None).collect();
    for outcome in outcomes {
        let index = outcome.index;
        let same = outcome.result.as_ref().map_or(true, |r| r.index == index);
        match slots.get_mut(index) {
            Some(slot @ None) if same => *slot = Some(outcome.result),
            _ => return Err(Error::Internal(format!("the executor returned unit {index} twice or out of range"))),
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, s)| s.ok_or_else(|| Error::Internal(format!("the executor returned no outcome for unit {i}"))))
        .collect()
}

fn unit_report(result: &UnitResult, files: Vec<crate::parquet::CommittedFile>) -> RunReport {
    RunReport {
        rows_read: result.rows_read,
        rows_written: result.rows_written,
        rows_rejected: result.rows_rejected,
        warnings: result.warnings,
        bytes_written: files.iter().map(|f| f.bytes).sum(),
        files,
        input_bytes: result.input_bytes,
        seconds: 0.0,
        incremental: None,
        dialect: result.dialect.clone(),
    }
}

/// Delete what successful tasks staged (their rejects; the Parquet files go with the prefix).
fn discard_results(results: &[UnitResult]) {
    for result in results {
        for file in &result.staged {
            commit::remove_quietly(&file.temp_path);
        }
        if let Some(r) = &result.rejects {
            commit::remove_quietly(r);
        }
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where a task stages its rejects: `.<name>.<run>-<unit>-<attempt>.staged` next to the
/// rejects file (hidden, unique per attempt).
fn staged_rejects_path(path: &Path, run_id: &str, index: usize) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    parent_of(path).join(format!(".{name}.{run_id}-{index}-{}.staged", staged::nonce()))
}

fn is_staged_rejects_of(name: &str, file: &str) -> bool {
    file.strip_prefix('.')
        .and_then(|f| f.strip_prefix(name))
        .and_then(|f| f.strip_prefix('.'))
        .is_some_and(|f| f.ends_with(".staged"))
}

/// Publish an incremental unit's staged rejects under its rejects file's name.
fn publish_rejects(staged: &Path, path: &Path) -> Result<()> {
    commit::publish(staged, path)?;
    commit::sync_dir(&parent_of(path))
}
