//! Dativo job files: load (`${VAR}` substitution, parsing, validation, path resolution) and
//! run (CSV files -> asset projection and checks -> Parquet files).
//!
//! - [`config`]: the YAML structure and its error messages;
//! - [`env`]: `${VAR}` substitution and the [`Redactor`] that keeps the values out of every
//!   error, log line and report;
//! - [`options`]: reader and writer options from a job or from JSON text (C API);
//! - [`output`]: a Parquet destination (local folder or `s3://`, partitioned or not) from a
//!   place and options text: what the C API's writer opens;
//! - [`plugins`]: custom readers and writers in a job (`custom_reader`, `custom_writer`);
//! - [`report`]: [`Progress`] and [`RunReport`];
//! - [`state`]: `source.incremental`: the state file, output names, the manifest, and why a
//!   crash never loses or duplicates a row (which inputs a run takes: `incremental.rs`; the
//!   runner, the same for every job: `run.rs`).
//!
//! The job reference (every key, default and example) is in the README, "Job files".

pub mod config;
pub mod env;
pub mod options;
pub mod output;
mod plugin_spec;
pub mod plugins;
pub mod report;
pub mod state;

mod incremental;
mod inputs;
mod lake;
mod platform_state;
mod resolve;
mod run;

pub use env::Redactor;
pub use inputs::{open_csv_reader, ObjectInput};
pub use report::{IncrementalReport, Progress, RunReport};
pub use run::distributed::{UnitOutcome, UnitResult, UnitTask};

use std::fs;
use std::path::{Path, PathBuf};

use crate::csv::{self, CsvOptions};
use crate::parquet::ParquetOptions;
use crate::schema::{match_header, Asset, HeaderMatch, ValidationMode};
use crate::{Error, Result};

/// File name of the default rejects file, in `output_base`.
pub const DEFAULT_REJECTS_FILE: &str = "_rejects.csv";

/// One input file of the job (a glob in the job gives one per match).
#[derive(Debug, Clone, PartialEq)]
pub struct InputFile {
    /// Resolved path (relative paths in the job are relative to the job file's folder); for an
    /// object, its `s3://bucket/key` (a name for messages only).
    pub path: PathBuf,
    /// `id` (or `object`) of the entry, informational.
    pub id: Option<String>,
    /// How the Dativo platform's state names this file: its `id`, else its path as written.
    pub platform_key: String,
    /// `s3://` inputs: the object, its connection and its stamp; None for a local file.
    pub object: Option<ObjectInput>,
}

/// A loaded and validated job, ready to [`run`](Job::run).
#[derive(Debug, Clone)]
pub struct Job {
    /// The job file.
    pub path: PathBuf,
    pub tenant_id: Option<String>,
    pub environment: Option<String>,
    /// The asset's name: from the asset, or from `asset: <name>` when no schema is given.
    pub asset_name: Option<String>,
    /// The asset schema, from `asset_path` or an inline `asset:`; without one, column types
    /// are inferred and every column is written.
    pub asset: Option<Asset>,
    pub mode: ValidationMode,
    pub inputs: Vec<InputFile>,
    /// Reader options (`column_types` come from `source.engine.options`, or from the asset per file).
    pub csv: CsvOptions,
    pub parquet: ParquetOptions,
    /// The output directory; for an object-store target, its `s3://bucket/prefix` (a name
    /// for messages only).
    pub output_dir: PathBuf,
    /// `target.type: s3` or `minio`: the bucket and prefix the Parquet files go to.
    pub object_target: Option<crate::store::StoreConfig>,
    /// `target.type: iceberg`: the table, its catalog and where its files go.
    pub iceberg_target: Option<crate::iceberg::IcebergTarget>,
    /// `target.partitioning` (or the asset's, or the recipe's): Hive partition columns, in
    /// folder order; empty for unpartitioned output. `ingest_date` is the run's date.
    pub partitioning: Vec<String>,
    pub log_level: log::LevelFilter,
    /// `source.custom_reader`: the plugin that replaces the CSV reader.
    pub reader_plugin: Option<plugins::PluginUse>,
    /// `target.custom_writer`: the plugin that replaces the Parquet writer.
    pub writer_plugin: Option<plugins::PluginUse>,
    /// Loads `reader_plugin` and `writer_plugin`; None refuses them.
    pub plugin_loader: Option<std::sync::Arc<dyn plugins::PluginLoader>>,
    /// `source.incremental`: skip input files ingested before and unchanged (see [`state`]).
    pub incremental: Option<state::Incremental>,
    /// With `incremental`: ingest every listed file again (`dativo run --full-refresh`).
    pub full_refresh: bool,
    /// With `incremental`: start from an empty state, also when the state file is corrupt
    /// (`dativo run --reset-state`).
    pub reset_state: bool,
    redactor: Redactor,
}

/// How one input file will be read.
#[derive(Debug, Clone)]
pub struct FilePlan {
    pub input: InputFile,
    /// How its columns line up with the asset (its `notes` say what will be logged).
    pub header: HeaderMatch,
}

/// Load and validate a job file: substitutes `${VAR}` from the environment, checks every key
/// and value, loads the asset, and checks that every input file exists. Errors never contain
/// the value of a substituted variable.
pub fn load(path: &Path) -> Result<Job> {
    let text = fs::read_to_string(path).map_err(|e| Error::io("cannot read job file", path, e))?;
    Job::from_text(&text, path, |name| std::env::var(name).ok())
}

impl Job {
    /// Like [`load`], with the text already read and variables looked up with `lookup`.
    /// `path` names the job in messages and anchors relative paths.
    pub fn from_text(text: &str, path: &Path, lookup: impl Fn(&str) -> Option<String>) -> Result<Job> {
        let label = path.display().to_string();
        let (text, redactor) = env::substitute(text, &label, &lookup)?;
        // The lookup again: a recipe's connection template is substituted key by key, only
        // for the keys the job does not give.
        resolve::resolve(&text, path, &label, redactor.clone(), &lookup).map_err(|e| redactor.error(e))
    }

    /// `text` with every substituted secret replaced by `${NAME}`.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub(super) fn log(&self, level: log::Level, message: &str) {
        log::log!(level, "{}", self.redact(message));
    }

    /// Read every input file's header and match it to the asset (empty without an asset).
    /// Fails in strict mode when a required column is missing. Nothing is logged: the notes
    /// are in each plan.
    pub fn plan(&self) -> Result<Vec<FilePlan>> {
        self.plan_inner().map_err(|e| self.redactor.error(e))
    }

    fn plan_inner(&self) -> Result<Vec<FilePlan>> {
        let Some(asset) = &self.asset else { return Ok(Vec::new()) };
        self.inputs
            .iter()
            .map(|input| Ok(FilePlan { input: input.clone(), header: self.match_file(asset, input)? }))
            .collect()
    }

    /// Match `input`'s header to the asset (when there is one), log the notes, and set the
    /// reader `options` the match implies: the column types and, in warn mode, the required
    /// columns whose nulls are kept, counted and reported with their file and line.
    fn apply_asset(&self, input: &InputFile, options: &mut CsvOptions) -> Result<Option<HeaderMatch>> {
        let Some(asset) = &self.asset else { return Ok(None) };
        let header = self.match_file(asset, input)?;
        for note in &header.notes {
            self.log(note.level, &note.message);
        }
        options.column_types = header.column_types.clone();
        options.warn_null_columns = header.required_present.clone();
        Ok(Some(header))
    }

    /// An input file's header matched to the asset.
    fn match_file(&self, asset: &Asset, input: &InputFile) -> Result<HeaderMatch> {
        let columns = csv::read_input_column_names(&Job::csv_input(input)?, &self.csv)?;
        match_header(asset, self.mode, &input.path, &columns)
    }

    /// Run the job. `progress` is called about ten times a second from this thread.
    pub fn run(&self, progress: &dyn Fn(&Progress)) -> Result<RunReport> {
        self.run_inner(progress, true).map_err(|e| self.redactor.error(e))
    }

    /// Read and check every row exactly as [`run`](Job::run) does (bad rows are failed,
    /// skipped or rejected the same way) but write no Parquet. `dativo check --data`.
    pub fn check_data(&self, progress: &dyn Fn(&Progress)) -> Result<RunReport> {
        self.run_inner(progress, false).map_err(|e| self.redactor.error(e))
    }
}

/// `source.incremental` checked and resolved; errors name the key.
fn incremental_config(
    inc: &config::IncrementalConfig,
    parquet: &ParquetOptions,
    output_dir: &Path,
    resolve_path: impl Fn(&str) -> PathBuf,
) -> std::result::Result<state::Incremental, String> {
    if inc.cursor_field.is_some() {
        return Err("source.incremental.cursor_field is not supported by dativo: it tracks whole input files \
                    (strategy: file_modified_time or file_fingerprint), not row cursors"
            .into());
    }
    let strategy = match inc.strategy.as_deref() {
        Some(name) => state::Strategy::parse(name).map_err(|m| format!("source.incremental.{m}"))?,
        None => return Err("source.incremental.strategy is required: file_modified_time or file_fingerprint".into()),
    };
    if parquet.write_mode != crate::parquet::WriteMode::Overwrite {
        return Err("target.engine.options.write_mode: append cannot be combined with source.incremental: each \
                    input's Parquet files are replaced when it is ingested again"
            .into());
    }
    let state_path = match inc.state_path.as_deref() {
        Some(p) if !p.trim().is_empty() => resolve_path(p),
        Some(_) => return Err("source.incremental.state_path is empty".into()),
        None => output_dir.join(state::DEFAULT_STATE_FILE),
    };
    if state_path.is_dir() {
        return Err(format!("source.incremental.state_path: {} is a directory, not a file", state_path.display()));
    }
    Ok(state::Incremental { strategy, state_path, lookback_days: inc.lookback_days.unwrap_or(0) })
}

/// `examples/jobs/../data/x.csv` -> `examples/data/x.csv`, lexically (without touching the
/// file system), so every message shows the path a person would write.
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !matches!(out.components().next_back(), Some(Component::RootDir | Component::Prefix(_))) {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

#[cfg(test)]
mod tests;
