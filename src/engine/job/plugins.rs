//! Custom readers and writers in a job: `source.custom_reader` replaces the CSV reader,
//! `target.custom_writer` the Parquet writer, and the rest of the job (asset validation,
//! the reader and writer threads, the manifest, the report) stays the same.
//!
//! A plugin receives its section of the job as its JSON config, after `${VAR}`
//! substitution: a reader the `source` mapping (relative `files[].path` made absolute), a
//! writer the `target` mapping plus `asset_name`, `schema` (`[{name, type, required}]`),
//! `output_base` (absolute) and `target_type` — the keys Dativo plugins read.
//!
//! The engine knows a plugin only as Arrow streams. Loading one (a shared library, or a
//! `module.py:Class` the Python package provides) is the business of a [`PluginLoader`], which
//! the dativo-plugin crate implements over the plugin ABI and the CLI and C API install with
//! [`Job::set_plugin_loader`].

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, DataType, Schema, SchemaRef};
use serde_json::{json, Map, Value};

pub use super::plugin_spec::PluginSpec;
use super::Job;
use crate::parquet::CommittedFile;
use crate::schema::{asset::type_name, Projection};
use crate::{pipeline, Error, Result};

/// What a plugin does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    Reader,
    Writer,
}

impl PluginKind {
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Reader => "reader",
            PluginKind::Writer => "writer",
        }
    }
}

/// A plugin a job uses.
#[derive(Debug, Clone)]
pub struct PluginUse {
    /// The spec, with a relative path made relative to the job file's folder.
    pub spec: PluginSpec,
    /// The sha256 the file must have (`custom_reader_sha256` / `custom_writer_sha256`).
    pub sha256: Option<String>,
    /// Its section of the job (JSON object); see the module documentation.
    pub config: Value,
    /// The job key (`source.custom_reader`, `target.custom_writer`), for messages.
    pub key: &'static str,
}

/// Loads the plugins a job names. Implemented by the dativo-plugin crate; a job without a
/// loader refuses its plugins with a message saying so.
pub trait PluginLoader: Send + Sync {
    /// Load (or have the host provide) the plugin of `plugin`, checked against its pin;
    /// `job` is the job file, for messages.
    fn load(&self, plugin: &PluginUse, job: &Path) -> Result<Box<dyn LoadedPlugin>>;
}

impl std::fmt::Debug for dyn PluginLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PluginLoader")
    }
}

/// A plugin, loaded and initialised.
pub trait LoadedPlugin: Send {
    fn kind(&self) -> PluginKind;
    fn name(&self) -> &str;
    fn version(&self) -> Option<&str>;
    /// The ABI version host and plugin agreed on.
    fn abi_version(&self) -> u32;
    /// A reader plugin's data for `config_json`. The stream may outlive `self`.
    /// `expected` is the schema the job expects (its asset's), for plugins whose data is not
    /// typed by themselves (the legacy JSON ABI's records).
    fn open_reader(
        &mut self,
        config_json: &str,
        expected: Option<SchemaRef>,
    ) -> Result<Box<dyn RecordBatchReader + Send>>;
    /// Hand `input` to a writer plugin; the files it committed once it has read all of it.
    fn write(&mut self, config_json: &str, input: Box<dyn RecordBatchReader + Send>) -> Result<Vec<CommittedFile>>;
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

/// Fill in the plugins' configs from the parsed job (already `${VAR}`-substituted).
pub(super) fn with_configs(
    job: &serde_yaml_ng::Value,
    label: &str,
    reader: Option<PluginUse>,
    writer: Option<PluginUse>,
    base: &Path,
) -> Result<(Option<PluginUse>, Option<PluginUse>)> {
    if reader.is_none() && writer.is_none() {
        return Ok((None, None));
    }
    let doc: Value = serde_json::to_value(job)
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
    /// Whether the job names a custom reader or writer.
    pub fn uses_plugins(&self) -> bool {
        self.reader_plugin.is_some() || self.writer_plugin.is_some()
    }

    /// Load the job's plugins with `loader` (the CLI and the C API install dativo-plugin's).
    pub fn set_plugin_loader(&mut self, loader: Arc<dyn PluginLoader>) {
        self.plugin_loader = Some(loader);
    }

    /// Load every plugin of the job (and release it again), to check that each loads and is
    /// of the right kind: `dativo check`. One line per plugin: key, spec, name, version, ABI.
    pub fn check_plugins(&self) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        for (plugin, kind) in [(&self.reader_plugin, PluginKind::Reader), (&self.writer_plugin, PluginKind::Writer)] {
            if let Some(plugin) = plugin {
                let loaded = self.load_plugin(plugin, kind)?;
                lines.push(describe(plugin, loaded.as_ref()));
            }
        }
        Ok(lines)
    }

    /// Load a plugin of `kind` through the job's loader.
    pub(super) fn load_plugin(&self, plugin: &PluginUse, kind: PluginKind) -> Result<Box<dyn LoadedPlugin>> {
        let Some(loader) = &self.plugin_loader else {
            return Err(Error::Plugin(format!(
                "{} '{}': this host loads no plugins (run the job with the dativo command, the C API or a \
                 binding)",
                plugin.key, plugin.spec
            )));
        };
        let loaded = loader.load(plugin, &self.path)?;
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
        self.log(log::Level::Info, &describe(plugin, loaded.as_ref()));
        Ok(loaded)
    }

    /// A sink that hands the batches to a writer plugin.
    pub(super) fn plugin_sink(&self, plugin: &PluginUse, schema: SchemaRef) -> Result<PluginSink> {
        let writer = self.load_plugin(plugin, PluginKind::Writer)?;
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
        PluginSink::start(writer, Value::Object(config).to_string(), schema)
    }
}

/// `source.custom_reader x.so:init: plugin 'csv' 0.1.0 (ABI 1)`.
fn describe(plugin: &PluginUse, loaded: &dyn LoadedPlugin) -> String {
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
pub(super) struct Conform {
    /// For each input column: the type to cast it to, if any.
    casts: Vec<Option<DataType>>,
    cast_schema: SchemaRef,
    projection: Projection,
}

impl Conform {
    pub(super) fn new(input: &Schema, output: SchemaRef) -> Result<Self> {
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

    /// The schema of the batches [`apply`](Self::apply) returns.
    pub(super) fn output_schema(&self) -> SchemaRef {
        self.projection.output_schema()
    }

    pub(super) fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
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
pub(super) struct PluginSink {
    tx: Option<crossbeam_channel::Sender<std::result::Result<RecordBatch, ArrowError>>>,
    thread: Option<JoinHandle<Result<Vec<CommittedFile>>>>,
    /// Set when the plugin has read the end of the stream.
    drained: Arc<AtomicBool>,
}

impl PluginSink {
    fn start(mut plugin: Box<dyn LoadedPlugin>, config: String, schema: SchemaRef) -> Result<PluginSink> {
        let (tx, rx) = crossbeam_channel::bounded(pipeline::CHANNEL_CAPACITY);
        let drained = Arc::new(AtomicBool::new(false));
        let input = ChannelReader { rx, schema, drained: drained.clone() };
        let thread = std::thread::Builder::new()
            .name("dativo-plugin-writer".into())
            .spawn(move || plugin.write(&config, Box::new(input)))
            .map_err(|e| Error::thread_start("the writer plugin's thread", e))?;
        Ok(PluginSink { tx: Some(tx), thread: Some(thread), drained })
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
