//! Custom readers and writers in a job: `source.custom_reader` replaces the CSV reader,
//! `target.custom_writer` the Parquet writer, and the rest of the job (asset validation,
//! the reader and writer threads, the report) stays the same.
//!
//! A plugin receives its section of the job as its JSON config, after `${VAR}`
//! substitution: a reader the `source` mapping (relative `files[].path` made absolute), a
//! writer the `target` mapping plus `asset_name`, `schema` (`[{name, type, required}]`),
//! `output_base` (absolute) and `target_type` — the keys Dativo plugins read.
//!
//! Native plugins (`.so`, `.dylib`, `.dll`) are loaded here; others (`module.py:Class`) need
//! a [`PluginResolver`] from the host, which the Python package installs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, DataType, Schema, SchemaRef};
use serde_json::{json, Map, Value};

use super::{Job, Progress, RunReport};
use crate::ffi::plugin_abi::DativoPluginVTable;
use crate::ffi::{DativoError, DativoStatus};
use crate::parquet::CommittedFile;
use crate::plugin::{Kind, LoadPolicy, Plugin, PluginSpec};
use crate::schema::{asset::type_name, Projection};
use crate::{pipeline, Error, Result};

/// Environment variable naming the only folder plugins may be loaded from.
pub const PLUGIN_DIR_ENV: &str = "DATIVO_PLUGIN_DIR";

/// A plugin a job uses.
#[derive(Debug, Clone)]
pub struct PluginUse {
    /// The spec, with a relative path made relative to the job file's folder.
    pub spec: PluginSpec,
    /// The sha256 the file must have (`custom_reader_sha256` / `custom_writer_sha256`).
    pub sha256: Option<String>,
    /// Its section of the job (JSON object); see the module documentation.
    pub config: Value,
    /// The job key, for messages.
    key: &'static str,
}

/// Provides plugins the engine cannot load itself (e.g. `module.py:Class`): fills `vtable` as
/// a plugin's init function would, for `abi_version`.
pub trait PluginResolver: Send + Sync {
    fn init(
        &self,
        spec: &str,
        abi_version: u32,
        vtable: *mut DativoPluginVTable,
        error: *mut DativoError,
    ) -> DativoStatus;
}

/// Where a job's plugins may come from.
#[derive(Clone, Default)]
pub struct PluginHost {
    /// Only libraries inside this folder load (`--plugin-dir`, or `DATIVO_PLUGIN_DIR`).
    pub allow_dir: Option<PathBuf>,
    /// Provides non-native plugins.
    pub resolver: Option<Arc<dyn PluginResolver>>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("allow_dir", &self.allow_dir)
            .field("resolver", &self.resolver.is_some())
            .finish()
    }
}

impl PluginHost {
    /// `DATIVO_PLUGIN_DIR` when set (and not empty), no resolver.
    pub fn from_env() -> Self {
        let allow_dir = std::env::var_os(PLUGIN_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        PluginHost { allow_dir, resolver: None }
    }
}

/// `custom_reader` / `custom_writer` and their `_sha256` from the job (config comes later).
pub(super) fn parse_use(
    spec: &Option<String>,
    sha256: &Option<String>,
    key: &'static str,
    base: &Path,
) -> std::result::Result<Option<PluginUse>, String> {
    let Some(text) = spec else {
        return match sha256 {
            Some(_) => Err(format!("{key}_sha256 is set but {key} is not")),
            None => Ok(None),
        };
    };
    let spec = PluginSpec::parse(text).map_err(|e| format!("{key}: {e}"))?;
    if let Some(hex) = sha256 {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{key}_sha256 must be 64 hex digits (the output of sha256sum), got '{hex}'"));
        }
    }
    Ok(Some(PluginUse { spec: spec.relative_to(base), sha256: sha256.clone(), config: Value::Null, key }))
}

/// Fill in the plugins' configs from the job text (already `${VAR}`-substituted).
pub(super) fn with_configs(
    text: &str,
    label: &str,
    reader: Option<PluginUse>,
    writer: Option<PluginUse>,
    base: &Path,
) -> Result<(Option<PluginUse>, Option<PluginUse>)> {
    if reader.is_none() && writer.is_none() {
        return Ok((None, None));
    }
    let doc: Value = serde_yaml_ng::from_str(text)
        .map_err(|e| Error::Config(format!("{label}: cannot pass the job to its plugin as JSON: {e}")))?;
    let section = |name: &str| doc.get(name).cloned().unwrap_or_else(|| Value::Object(Map::new()));
    let reader = reader.map(|mut r| {
        let mut source = section("source");
        if let Some(files) = source.get_mut("files").and_then(Value::as_array_mut) {
            for file in files {
                if let Some(path) = file.get_mut("path") {
                    if let Some(p) = path.as_str().filter(|p| !p.contains("://")) {
                        let p = Path::new(p);
                        if p.is_relative() && !base.as_os_str().is_empty() {
                            *path = Value::String(super::normalize(&base.join(p)).display().to_string());
                        }
                    }
                }
            }
        }
        r.config = source;
        r
    });
    let writer = writer.map(|mut w| {
        w.config = section("target");
        w
    });
    Ok((reader, writer))
}

impl Job {
    /// Let `host` decide where plugins come from (replaces `DATIVO_PLUGIN_DIR`).
    pub fn set_plugin_host(&mut self, host: PluginHost) {
        self.plugin_host = host;
    }

    /// Load every plugin of the job (and release it again), to check that each loads and is
    /// of the right kind: `dativo check`. One line per plugin: key, spec, name, version, ABI.
    pub fn check_plugins(&self) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        for (plugin, kind) in [(&self.reader_plugin, Kind::Reader), (&self.writer_plugin, Kind::Writer)] {
            if let Some(plugin) = plugin {
                let loaded = self.load_plugin(plugin, kind)?;
                lines.push(describe(plugin, &loaded));
            }
        }
        Ok(lines)
    }

    /// Load (or have the host provide) a plugin of `kind`.
    fn load_plugin(&self, plugin: &PluginUse, kind: Kind) -> Result<Plugin> {
        let policy = LoadPolicy { sha256: plugin.sha256.clone(), allow_dir: self.plugin_host.allow_dir.clone() };
        let loaded = if plugin.spec.is_native() {
            Plugin::load(&plugin.spec, &policy)?
        } else {
            let Some(resolver) = &self.plugin_host.resolver else {
                return Err(Error::Plugin(format!(
                    "{} '{}' is not a native library (.so, .dylib or .dll); Python plugins (module.py:Class) \
                     run through the Python package: python -m dativo run --config {}",
                    plugin.key,
                    plugin.spec,
                    self.path.display()
                )));
            };
            // The host finds the file itself; the engine only enforces the policy on it.
            if policy.sha256.is_some() || policy.allow_dir.is_some() {
                policy.check(&plugin.spec)?;
            }
            let spec = plugin.spec.to_string();
            Plugin::negotiate(&spec, |version, vtable, error| resolver.init(&spec, version, vtable, error))?
        };
        if loaded.kind() != kind {
            return Err(Error::Plugin(format!(
                "{}: plugin '{}' ({}) is a {}, not a {}",
                plugin.key,
                loaded.name(),
                plugin.spec,
                loaded.kind().name(),
                kind.name()
            )));
        }
        self.log(log::Level::Info, &describe(plugin, &loaded));
        Ok(loaded)
    }

    /// Run the job with a reader plugin as its source.
    pub(super) fn run_reader_plugin(
        &self,
        plugin: &PluginUse,
        progress: &dyn Fn(&Progress),
        write: bool,
    ) -> Result<RunReport> {
        let start = Instant::now();
        let mut reader = self.load_plugin(plugin, Kind::Reader)?;
        let stream = reader.open_reader(&plugin.config.to_string())?;
        let conform = match &self.asset {
            Some(asset) => Some(Conform::new(&stream.schema(), asset.output_schema(self.mode))?),
            None => None,
        };
        let schema = conform.as_ref().map_or_else(|| stream.schema(), |c| c.projection.output_schema());
        let sink = self.sink(schema, write)?;
        let rows_read = AtomicU64::new(0);
        let transform = |batch: RecordBatch| {
            rows_read.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            match &conform {
                Some(c) => c.apply(&batch),
                None => Ok(batch),
            }
        };
        let mut on_progress =
            |rows: u64| progress(&Progress { rows, bytes_read: 0, total_bytes: 0, elapsed: start.elapsed() });
        let source = stream.map(|r| r.map_err(Error::from_arrow));
        let outcome = pipeline::run(source, transform, sink, &mut on_progress)?;
        drop(reader);
        let report = RunReport {
            rows_read: rows_read.load(Ordering::Relaxed),
            rows_written: if write { outcome.rows } else { 0 },
            rows_rejected: 0,
            warnings: 0,
            bytes_written: outcome.output.iter().map(|f| f.bytes).sum(),
            files: outcome.output,
            input_bytes: 0,
            seconds: start.elapsed().as_secs_f64(),
            incremental: None,
            dialect: None,
        };
        self.log(
            log::Level::Info,
            &format!("job {}: {} rows from {}", self.path.display(), report.rows_read, plugin.spec),
        );
        Ok(report)
    }

    /// A sink that hands the batches to a writer plugin.
    pub(super) fn plugin_sink(&self, plugin: &PluginUse, schema: SchemaRef) -> Result<PluginSink> {
        let writer = self.load_plugin(plugin, Kind::Writer)?;
        let mut config = match &plugin.config {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        config.insert("asset_name".into(), json!(self.asset_name));
        config.insert("output_base".into(), json!(self.output_dir.display().to_string()));
        config.insert("target_type".into(), config.get("type").cloned().unwrap_or(Value::Null));
        let columns: Vec<Value> = match &self.asset {
            Some(asset) => asset
                .fields
                .iter()
                .map(|f| json!({"name": f.name, "type": f.type_name, "required": f.required}))
                .collect(),
            None => schema
                .fields()
                .iter()
                .map(|f| json!({"name": f.name(), "type": type_name(f.data_type()), "required": !f.is_nullable()}))
                .collect(),
        };
        config.insert("schema".into(), Value::Array(columns));
        Ok(PluginSink::start(writer, Value::Object(config).to_string(), schema))
    }
}

/// `source.custom_reader x.so:init: plugin 'csv' 0.1.0 (ABI 1)`.
fn describe(plugin: &PluginUse, loaded: &Plugin) -> String {
    format!(
        "{} {}: plugin '{}' {} (ABI {})",
        plugin.key,
        plugin.spec,
        loaded.name(),
        loaded.version().unwrap_or("-"),
        loaded.abi_version()
    )
}

/// Brings a reader plugin's batches to the asset: columns by name, cast to the asset's types
/// where the plugin's differ, required columns checked.
struct Conform {
    /// For each input column: the type to cast it to, if any.
    casts: Vec<Option<DataType>>,
    cast_schema: SchemaRef,
    projection: Projection,
}

impl Conform {
    fn new(input: &Schema, output: SchemaRef) -> Result<Self> {
        let mut casts = Vec::with_capacity(input.fields().len());
        let mut fields = Vec::with_capacity(input.fields().len());
        for field in input.fields() {
            match output.field_with_name(field.name()) {
                Ok(target) if target.data_type() != field.data_type() => {
                    if !arrow_cast::can_cast_types(field.data_type(), target.data_type()) {
                        return Err(Error::Schema(format!(
                            "column '{}': the plugin delivers {} but the asset declares {}, and one cannot be \
                             converted to the other",
                            field.name(),
                            field.data_type(),
                            target.data_type()
                        )));
                    }
                    casts.push(Some(target.data_type().clone()));
                    fields.push(field.as_ref().clone().with_data_type(target.data_type().clone()));
                }
                _ => {
                    casts.push(None);
                    fields.push(field.as_ref().clone());
                }
            }
        }
        let cast_schema = Arc::new(Schema::new(fields));
        let projection = Projection::new(&cast_schema, output)?;
        Ok(Conform { casts, cast_schema, projection })
    }

    fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if self.casts.iter().all(Option::is_none) {
            return self.projection.apply(batch);
        }
        // Strict casts: a value that does not convert is an error, never a null.
        let options = arrow_cast::CastOptions { safe: false, ..Default::default() };
        let mut columns = Vec::with_capacity(batch.num_columns());
        for ((column, cast), field) in batch.columns().iter().zip(&self.casts).zip(self.cast_schema.fields()) {
            columns.push(match cast {
                Some(to) => arrow_cast::cast_with_options(column, to, &options)
                    .map_err(|e| Error::Data(format!("column '{}': {e}", field.name())))?,
                None => column.clone(),
            });
        }
        let batch = RecordBatch::try_new(self.cast_schema.clone(), columns)?;
        self.projection.apply(&batch)
    }
}

/// A writer plugin as the job's sink: the plugin reads a stream on its own thread, fed by a
/// bounded channel, so memory stays flat as with the Parquet writer.
pub(crate) struct PluginSink {
    tx: Option<crossbeam_channel::Sender<std::result::Result<RecordBatch, ArrowError>>>,
    thread: Option<JoinHandle<Result<Vec<CommittedFile>>>>,
    /// Set when the plugin has read the end of the stream.
    drained: Arc<AtomicBool>,
}

impl PluginSink {
    fn start(mut plugin: Plugin, config: String, schema: SchemaRef) -> PluginSink {
        let (tx, rx) = crossbeam_channel::bounded(pipeline::CHANNEL_CAPACITY);
        let drained = Arc::new(AtomicBool::new(false));
        let input = ChannelReader { rx, schema, drained: drained.clone() };
        let thread = std::thread::spawn(move || plugin.write(&config, Box::new(input)));
        PluginSink { tx: Some(tx), thread: Some(thread), drained }
    }

    /// Wait for the plugin to return.
    fn join(&mut self) -> Result<Vec<CommittedFile>> {
        self.tx = None; // the end of the stream, if not sent yet
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Internal("the writer plugin's thread panicked".into())),
            None => Err(Error::Internal("the writer plugin was already joined".into())),
        }
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(Ok(batch.clone())).is_ok());
        if sent {
            return Ok(());
        }
        // The plugin stopped reading: it failed, or returned early.
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(Error::Plugin("the writer plugin returned before reading all rows".into())),
        }
    }

    pub fn finish(mut self) -> Result<Vec<CommittedFile>> {
        let files = self.join()?;
        if !self.drained.load(Ordering::SeqCst) {
            return Err(Error::Plugin(
                "the writer plugin returned without reading the end of its stream; rows may be missing".into(),
            ));
        }
        Ok(files)
    }

    /// Tell the plugin the run failed (its stream returns an error) and wait for it.
    pub fn abort(mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(ArrowError::ExternalError(Box::new(Error::Plugin(
                "the job failed; discard everything written".into(),
            )))));
        }
        let _ = self.join();
    }
}

impl Drop for PluginSink {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.join();
        }
    }
}

/// The stream a writer plugin reads: batches from the channel until the sender is dropped.
struct ChannelReader {
    rx: crossbeam_channel::Receiver<std::result::Result<RecordBatch, ArrowError>>,
    schema: SchemaRef,
    drained: Arc<AtomicBool>,
}

impl Iterator for ChannelReader {
    type Item = std::result::Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.rx.recv() {
            Ok(item) => Some(item),
            Err(_) => {
                self.drained.store(true, Ordering::SeqCst);
                None
            }
        }
    }
}

impl RecordBatchReader for ChannelReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
