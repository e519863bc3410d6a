//! Dativo job files: load (`${VAR}` substitution, parsing, validation, path resolution) and
//! run (CSV files -> asset projection and checks -> Parquet files).
//!
//! - [`config`]: the YAML structure and its error messages;
//! - [`env`]: `${VAR}` substitution and the [`Redactor`] that keeps the values out of every
//!   error, log line and report;
//! - [`options`]: reader and writer options from a job or from JSON text (C API);
//! - [`plugins`]: custom readers and writers in a job (`custom_reader`, `custom_writer`);
//! - [`report`]: [`Progress`] and [`RunReport`];
//! - [`state`]: `source.incremental`: the state file, output names, the manifest, and why a
//!   crash never loses or duplicates a row (the run itself is in `incremental.rs`).
//!
//! The job reference (every key, default and example) is in the README, "Job files".

pub mod config;
pub mod env;
pub mod options;
pub mod plugins;
pub mod report;
pub mod state;

mod incremental;

pub use env::Redactor;
pub use report::{IncrementalReport, Progress, RunReport};

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use arrow_array::RecordBatch;

use crate::csv::{self, CsvOptions, CsvReader, OnError};
use crate::parquet::{ParquetOptions, ParquetSink};
use crate::schema::{match_header, Asset, HeaderMatch, ValidationMode};
use crate::{pipeline, Error, Result};

use config::{AssetRef, JobFile, ReaderOptions, WriterOptions};
use options::{csv_options, parquet_options};

/// File name of the default rejects file, in `output_base`.
pub const DEFAULT_REJECTS_FILE: &str = "_rejects.csv";

/// One input file of the job.
#[derive(Debug, Clone, PartialEq)]
pub struct InputFile {
    /// Resolved path (relative paths in the job are relative to the job file's folder).
    pub path: PathBuf,
    /// `id` (or `object`) of the entry, informational.
    pub id: Option<String>,
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
    pub output_dir: PathBuf,
    pub log_level: log::LevelFilter,
    /// `source.custom_reader`: the plugin that replaces the CSV reader.
    pub reader_plugin: Option<plugins::PluginUse>,
    /// `target.custom_writer`: the plugin that replaces the Parquet writer.
    pub writer_plugin: Option<plugins::PluginUse>,
    /// Where plugins may come from, and who provides non-native ones.
    pub plugin_host: plugins::PluginHost,
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
        let (text, redactor) = env::substitute(text, &label, lookup)?;
        Job::resolve(&text, path, &label, redactor.clone()).map_err(|e| redactor.error(e))
    }

    fn resolve(text: &str, path: &Path, label: &str, redactor: Redactor) -> Result<Job> {
        let file: JobFile = config::from_yaml(text, label)?;
        let cfg = |msg: String| Error::Config(format!("{label}: {msg}"));
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve_path = |p: &str| -> PathBuf {
            let p = Path::new(p);
            if p.is_absolute() || base.as_os_str().is_empty() {
                normalize(p)
            } else {
                normalize(&base.join(p))
            }
        };

        // Keys dativo refuses.
        const SOURCE_FIX: &str =
            "list the input files under source.files and reader options under source.engine.options";
        const TARGET_FIX: &str =
            "give the output directory as target.output_base and writer options under target.engine.options";
        for (key, present, fix) in [
            ("source_connector", file.source_connector.is_some(), SOURCE_FIX),
            ("source_connector_path", file.source_connector_path.is_some(), SOURCE_FIX),
            ("target_connector", file.target_connector.is_some(), TARGET_FIX),
            ("target_connector_path", file.target_connector_path.is_some(), TARGET_FIX),
        ] {
            if present {
                return Err(cfg(format!("{key} is not supported by dativo: jobs are self-contained; {fix}")));
            }
        }
        let source = &file.source;
        // A plugin gets its section as its config: the keys dativo itself cannot serve are
        // then the plugin's business, not errors.
        let reader_plugin =
            plugins::parse_use(&source.custom_reader, &source.custom_reader_sha256, "source.custom_reader", &base)
                .map_err(&cfg)?;
        let writer_plugin = plugins::parse_use(
            &file.target.custom_writer,
            &file.target.custom_writer_sha256,
            "target.custom_writer",
            &base,
        )
        .map_err(&cfg)?;
        if let Some(key) = source.platform_keys().first().filter(|_| reader_plugin.is_none()) {
            return Err(cfg(format!(
                "source.{key} is not supported by dativo: it reads local CSV files only; list them \
                 under source.files"
            )));
        }
        let target = &file.target;
        if let Some(key) = target.unsupported_keys().first().filter(|_| writer_plugin.is_none()) {
            let why = match *key {
                "partitioning" => "files are written unpartitioned into target.output_base",
                _ => "dativo writes Parquet files to a local directory (target.output_base)",
            };
            return Err(cfg(format!("target.{key} is not supported yet: {why}")));
        }

        // Source.
        let kind = source.kind.as_deref().unwrap_or("csv");
        if !kind.eq_ignore_ascii_case("csv") && reader_plugin.is_none() {
            return Err(cfg(format!("source.type '{kind}' is not supported: dativo reads CSV files (type: csv)")));
        }
        let files = source.files.as_deref().unwrap_or_default();
        if files.is_empty() && reader_plugin.is_none() {
            return Err(cfg(
                "source.files: list at least one input file, e.g. `files: [{path: data/users.csv}]`".into()
            ));
        }
        let mut inputs = Vec::with_capacity(files.len());
        for (i, f) in files.iter().enumerate() {
            if f.path.trim().is_empty() {
                return Err(cfg(format!("source.files[{i}].path is empty")));
            }
            let resolved = resolve_path(&f.path);
            if reader_plugin.is_some() {
                continue; // what `files` name is the plugin's business (they go into its config)
            }
            match fs::metadata(&resolved) {
                Ok(m) if m.is_dir() => {
                    return Err(cfg(format!(
                        "source.files[{i}].path: {} is a directory; list the files in it one by one",
                        resolved.display()
                    )))
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::io(&format!("{label}: source.files[{i}].path: cannot read"), &resolved, e))
                }
            }
            let id = f.id.as_ref().or(f.object.as_ref()).map(|s| s.0.clone());
            inputs.push(InputFile { path: resolved, id });
        }

        // Target.
        let target_kind = target.kind.as_deref().unwrap_or("local");
        if !target_kind.eq_ignore_ascii_case("local") && writer_plugin.is_none() {
            return Err(cfg(format!(
                "target.type '{target_kind}' is not supported: dativo writes Parquet files to a local \
                 directory (type: local)"
            )));
        }
        let format = target.file_format.as_deref().unwrap_or("parquet");
        if !format.eq_ignore_ascii_case("parquet") && writer_plugin.is_none() {
            return Err(cfg(format!("target.file_format '{format}' is not supported: dativo writes parquet")));
        }
        let output_dir = match target.output_base.as_deref() {
            Some(p) if !p.trim().is_empty() => resolve_path(p),
            _ => return Err(cfg("target.output_base is required: the directory the Parquet files go to".into())),
        };
        if output_dir.is_file() {
            return Err(cfg(format!("target.output_base: {} is a file, not a directory", output_dir.display())));
        }
        // A custom writer's options are its own (they reach it in its config).
        let writer = match &writer_plugin {
            None => config::engine_options::<WriterOptions>(text, label, "target")?.unwrap_or_default(),
            Some(_) => WriterOptions::default(),
        };
        let writer = &writer;
        let mut parquet = parquet_options(writer).map_err(|m| cfg(format!("target.engine.options.{m}")))?;
        if let Some(mb) = target.parquet_target_size_mb {
            if !(mb > 0.0 && mb.is_finite()) {
                return Err(cfg(format!("target.parquet_target_size_mb must be a positive number, got {mb}")));
            }
            parquet.max_bytes_per_file = Some(((mb * 1024.0 * 1024.0) as u64).max(1));
        }
        parquet.validate().map_err(|e| cfg(format!("target: {e}")))?;
        let incremental = match &source.incremental {
            None => None,
            Some(inc) => Some(incremental_config(inc, &parquet, &output_dir, resolve_path).map_err(cfg)?),
        };
        if incremental.is_some() && (reader_plugin.is_some() || writer_plugin.is_some()) {
            return Err(cfg("source.incremental cannot be combined with a custom reader or writer: dativo tracks \
                            local CSV files written as Parquet"
                .into()));
        }

        // Reader options.
        let reader = match &reader_plugin {
            None => config::engine_options::<ReaderOptions>(text, label, "source")?.unwrap_or_default(),
            Some(_) => ReaderOptions::default(),
        };
        let reader = &reader;
        let mut csv = csv_options(reader).map_err(|m| cfg(format!("source.engine.options.{m}")))?;
        if csv.on_error == OnError::Reject {
            csv.rejects_path = Some(match reader.rejects_path.as_deref() {
                Some(p) if !p.trim().is_empty() => resolve_path(p),
                _ => output_dir.join(DEFAULT_REJECTS_FILE),
            });
        } else if let Some(p) = reader.rejects_path.as_deref() {
            csv.rejects_path = Some(resolve_path(p));
        }
        csv.validate().map_err(|e| cfg(format!("source.engine.options.{e}")))?;

        // Asset.
        let (asset, asset_name) = match (&file.asset_path, file.asset) {
            (Some(_), Some(AssetRef::Inline(_))) => {
                return Err(cfg("give the asset either as asset_path or inline under asset:, not both".into()))
            }
            (Some(p), name) => {
                let asset = Asset::load(&resolve_path(p))?;
                if let Some(AssetRef::Name(n)) = name {
                    if n != asset.name {
                        return Err(cfg(format!(
                            "asset: '{n}' but the file at asset_path describes asset '{}'",
                            asset.name
                        )));
                    }
                }
                let name = asset.name.clone();
                (Some(asset), Some(name))
            }
            (None, Some(AssetRef::Inline(doc))) => {
                let asset = doc.into_asset(&format!("{label} (inline asset)"))?;
                let name = asset.name.clone();
                (Some(asset), Some(name))
            }
            (None, Some(AssetRef::Name(n))) => (None, Some(n)),
            (None, None) => (None, None),
        };
        if asset.is_some() && reader.column_types.is_some() {
            return Err(cfg(
                "source.engine.options.column_types cannot be combined with an asset: the asset types every \
                 column (change the types there)"
                    .into(),
            ));
        }
        let mode = file.schema_validation_mode.unwrap_or_default();

        let log_level = match file.logging.as_ref().and_then(|l| l.level.as_deref()) {
            None => log::LevelFilter::Info,
            Some(level) => match level.trim().to_ascii_lowercase().as_str() {
                "error" => log::LevelFilter::Error,
                "warn" | "warning" => log::LevelFilter::Warn,
                "info" => log::LevelFilter::Info,
                "debug" => log::LevelFilter::Debug,
                other => {
                    return Err(cfg(format!(
                        "logging.level '{other}' is not valid (expected one of: error, warn, info, debug)"
                    )))
                }
            },
        };

        let (reader_plugin, writer_plugin) = plugins::with_configs(text, label, reader_plugin, writer_plugin, &base)?;
        Ok(Job {
            reader_plugin,
            writer_plugin,
            plugin_host: plugins::PluginHost::from_env(),
            path: path.to_path_buf(),
            tenant_id: file.tenant_id.map(|s| s.0),
            environment: file.environment.map(|s| s.0),
            asset_name,
            asset,
            mode,
            inputs,
            csv,
            parquet,
            output_dir,
            log_level,
            incremental,
            full_refresh: false,
            reset_state: false,
            redactor,
        })
    }

    /// `text` with every substituted secret replaced by `${NAME}`.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    fn log(&self, level: log::Level, message: &str) {
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
        let columns = csv::read_column_names(&input.path, &self.csv)?;
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

    /// The sink of a run: Parquet files, or nothing when only checking the data.
    fn sink(&self, schema: arrow_schema::SchemaRef, write: bool) -> Result<JobSink> {
        if let (Some(plugin), true) = (&self.writer_plugin, write) {
            return Ok(JobSink::Plugin(self.plugin_sink(plugin, schema)?));
        }
        Ok(if write {
            JobSink::Parquet(Box::new(ParquetSink::create(&self.output_dir, schema, self.parquet.clone())?))
        } else {
            JobSink::Discard
        })
    }

    fn run_inner(&self, progress: &dyn Fn(&Progress), write: bool) -> Result<RunReport> {
        if let Some(plugin) = &self.reader_plugin {
            return self.run_reader_plugin(plugin, progress, write);
        }
        let start = Instant::now();
        let describe = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        self.log(
            log::Level::Info,
            &format!(
                "job {}: tenant {}, environment {}, asset {} ({} mode), {} input file(s) -> {}",
                self.path.display(),
                describe(&self.tenant_id),
                describe(&self.environment),
                describe(&self.asset_name),
                self.mode.name(),
                self.inputs.len(),
                self.output_dir.display()
            ),
        );
        if write {
            if let Some(inc) = &self.incremental {
                return self.run_incremental(inc, progress, start);
            }
            // The manifest goes before anything visible changes and comes back last.
            if self.writer_plugin.is_none() {
                state::Manifest::remove(&self.output_dir)?;
            }
        }
        if let Some(rejects) = &self.csv.rejects_path {
            if self.csv.on_error == OnError::Reject {
                if let Some(dir) = rejects.parent().filter(|d| !d.as_os_str().is_empty()) {
                    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
                }
                // A rejects file of an earlier run would be mistaken for this run's.
                match fs::remove_file(rejects) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(Error::io("cannot remove old rejects file", rejects, e))
                    }
                    _ => {}
                }
            }
        }

        // One reader for all files: they must share their columns (the reader checks this
        // and names the file that differs), so one asset match and one projection serve all.
        let mut options = self.csv.clone();
        let plan = self.apply_asset(&self.inputs[0], &mut options)?;
        let paths: Vec<PathBuf> = self.inputs.iter().map(|i| i.path.clone()).collect();
        options.file_labels = Some(paths.iter().map(|p| self.redact(&p.display().to_string())).collect());
        let reader = CsvReader::open(&paths, options)?;
        let dialect = reader.dialect().clone();
        let stats = reader.stats();
        let input_bytes = stats.total_bytes.load(Ordering::Relaxed);
        let header_warnings = plan.as_ref().map_or(0, |h| h.warnings());
        let mut on_progress = |rows: u64| {
            let bytes_read = stats.bytes_read.load(Ordering::Relaxed);
            progress(&Progress { rows, bytes_read, total_bytes: input_bytes, elapsed: start.elapsed() });
        };
        let outcome = match (&self.asset, &plan) {
            (Some(asset), Some(header)) => {
                let projection = header.projection()?;
                let sink = self.sink(asset.output_schema(self.mode), write)?;
                pipeline::run(reader, move |batch: RecordBatch| projection.apply(&batch), sink, &mut on_progress)?
            }
            _ => {
                let sink = self.sink(reader.schema(), write)?;
                pipeline::run(reader, Ok, sink, &mut on_progress)?
            }
        };

        let rows_read = stats.rows_read.load(Ordering::Relaxed);
        let rows_rejected = stats.rows_rejected.load(Ordering::Relaxed);
        let report = RunReport {
            rows_read,
            rows_written: if write { outcome.rows } else { 0 },
            rows_rejected,
            warnings: header_warnings + stats.warnings.load(Ordering::Relaxed) + dialect.warnings.len() as u64,
            bytes_written: outcome.output.iter().map(|f| f.bytes).sum(),
            files: outcome.output,
            input_bytes,
            seconds: start.elapsed().as_secs_f64(),
            incremental: None,
            dialect: Some(dialect.describe()),
        };
        if write && self.writer_plugin.is_none() {
            state::Manifest::of_files(&report.files).save(&self.output_dir)?;
        }
        let done = if write {
            format!(
                "{} rows written to {} file(s) in {}",
                report.rows_written,
                report.files.len(),
                self.output_dir.display()
            )
        } else {
            format!("{} rows read and checked, no output written", report.rows_read)
        };
        self.log(log::Level::Info, &format!("job {}: {done}", self.path.display()));
        Ok(report)
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

enum JobSink {
    Parquet(Box<ParquetSink>),
    Plugin(plugins::PluginSink),
    Discard,
}

impl pipeline::Sink for JobSink {
    type Output = Vec<crate::parquet::CommittedFile>;
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            JobSink::Parquet(s) => s.write(batch),
            JobSink::Plugin(s) => s.write(batch),
            JobSink::Discard => Ok(()),
        }
    }
    fn finish(self) -> Result<Self::Output> {
        match self {
            JobSink::Parquet(s) => (*s).finish(),
            JobSink::Plugin(s) => s.finish(),
            JobSink::Discard => Ok(Vec::new()),
        }
    }
    fn abort(self) {
        match self {
            JobSink::Parquet(s) => (*s).abort(),
            JobSink::Plugin(s) => s.abort(),
            JobSink::Discard => {}
        }
    }
}

#[cfg(test)]
mod tests;
