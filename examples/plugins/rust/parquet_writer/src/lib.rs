//! dativo's Parquet writer as a plugin library (`libparquet_writer_plugin.so`), with two faces:
//!
//! - the dativo plugin ABI (`dativo_plugin_init`, through `dativo_plugin::export_writer!`): a job's
//!   `target.custom_writer` hands it an Arrow stream, which the engine's `Output` writes and
//!   commits atomically (`output_base/part-NNNNN.parquet`, or objects and a manifest under an
//!   `s3://` output_base, as the C API's writer does);
//! - the legacy Dativo JSON ABI, as the Dativo platform's Python bridge calls it:
//!   `create_writer` / `write_batch` / `free_writer` / `free_string`, plus `last_error`.
//!
//! The config is the job's `target` section as Dativo plugins receive it: `asset_name`,
//! `schema` (`[{name, type, required}]`, asset type names), `output_base`, `target_type`,
//! `connection`, `file_format` (`parquet` or absent), and `engine.options` with the keys of a
//! job's `target.engine.options` (`compression`, `row_group_size`, ...). Other keys are ignored.
//!
//! `output_base: s3://bucket/prefix` (what the platform passes for an S3 or MinIO target)
//! writes to that bucket. The connection comes from `connection` (the keys of a job's
//! `target.connection`, flat or under `s3:` / `minio:`: `endpoint`, `region`, `access_key_id`,
//! `secret_access_key`, `session_token`, `path_style_access`, `secure`), and what it lacks from
//! the environment as the platform's S3 connector recipe sets it: `S3_ENDPOINT`,
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, `AWS_REGION`.

#[path = "../../common/legacy.rs"]
mod legacy;

/// Exported with the legacy ABI: `free_string(char*)` and `last_error() -> const char*`.
pub use legacy::{free_string, last_error};

use std::ffi::{c_char, c_void};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{Field, Schema, SchemaRef};
use dativo_engine::job::output::{output_options_from_text, store_config_from_text, Output};
use dativo_engine::parquet::{CommittedFile, ParquetOptions, ParquetSink};
use dativo_engine::schema::{parse_type, TYPE_NAMES};
use dativo_engine::store::{Store, StoreConfig};
use dativo_engine::{Error, Result};
use dativo_plugin::sdk::{parse_config, WriterPlugin};
use serde::Deserialize;

/// How messages and the stderr log name this plugin.
const PLUGIN: &str = "parquet_writer_plugin";

/// The keys of the config this plugin reads; the others are ignored.
#[derive(Debug, Deserialize)]
struct TargetConfig {
    output_base: Option<String>,
    #[serde(default)]
    schema: Option<Vec<Column>>,
    #[serde(default)]
    file_format: Option<String>,
    #[serde(default)]
    engine: Option<Engine>,
    #[serde(default)]
    connection: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Column {
    name: String,
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default)]
    required: bool,
}

#[derive(Debug, Deserialize)]
struct Engine {
    #[serde(default)]
    options: Option<serde_json::Value>,
}

/// A config, checked.
struct Target {
    output_base: PathBuf,
    /// `output_base: s3://...`: the bucket and prefix, and how to reach them.
    store: Option<StoreConfig>,
    /// `engine.options` and the connection keys, as the C API's writer takes them.
    output_text: String,
    /// From `schema`, when given: required columns are non-nullable.
    schema: Option<SchemaRef>,
    options: ParquetOptions,
}

/// The keys of a job's `target.connection` the engine's store reads.
const CONNECTION_KEYS: [&str; 7] =
    ["endpoint", "region", "access_key_id", "secret_access_key", "session_token", "path_style_access", "secure"];

/// `connection` (flat, or with the platform's `s3:` / `minio:` section winning over the flat
/// keys) as the engine's connection keys, with the environment filling what it lacks.
fn connection_keys(connection: Option<&serde_json::Value>) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    let flat = connection.and_then(|c| c.as_object());
    let section = flat.and_then(|c| c.get("s3").or_else(|| c.get("minio"))).and_then(|s| s.as_object());
    for key in CONNECTION_KEYS {
        let value = section.and_then(|s| s.get(key)).or_else(|| flat.and_then(|c| c.get(key)));
        // The platform writes unset `${VAR}`s as empty strings.
        if let Some(v) = value.filter(|v| !v.is_null() && v.as_str() != Some("")) {
            out.insert(key.to_string(), v.clone());
        }
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if !out.contains_key("endpoint") {
        if let Some(endpoint) = env("S3_ENDPOINT") {
            out.insert("endpoint".into(), endpoint.into());
        }
    }
    if !out.contains_key("region") {
        if let Some(region) = env("AWS_REGION") {
            out.insert("region".into(), region.into());
        }
    }
    if !out.contains_key("access_key_id") && !out.contains_key("secret_access_key") {
        if let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            out.insert("access_key_id".into(), key.into());
            out.insert("secret_access_key".into(), secret.into());
            if let Some(token) = env("AWS_SESSION_TOKEN") {
                out.insert("session_token".into(), token.into());
            }
        }
    }
    out
}

fn parse(config: &str) -> Result<Target> {
    let config: TargetConfig = parse_config(config)?;
    let output_base = match config.output_base.as_deref().map(str::trim) {
        Some(base) if !base.is_empty() => PathBuf::from(base),
        _ => return Err(Error::Config(format!("{PLUGIN}: the config has no output_base"))),
    };
    let base_text = output_base.to_string_lossy().to_string();
    let is_object = base_text.starts_with("s3://");
    if base_text.contains("://") && !is_object {
        return Err(Error::Config(format!(
            "{PLUGIN}: output_base '{base_text}' is a URL this plugin cannot write: give a local folder or \
             s3://bucket/prefix"
        )));
    }
    if let Some(format) = config.file_format.as_deref() {
        if !format.eq_ignore_ascii_case("parquet") {
            return Err(Error::Config(format!("{PLUGIN}: file_format '{format}' is not supported (only parquet)")));
        }
    }
    let schema = match &config.schema {
        Some(columns) => Some(arrow_schema(columns)?),
        None => None,
    };
    let label = format!("{PLUGIN}: engine.options");
    let mut output = match config.engine.and_then(|e| e.options) {
        Some(serde_json::Value::Object(map)) => map,
        Some(other) => {
            // Not an object: the engine's message says what is expected.
            output_options_from_text(&other.to_string(), &label)?;
            serde_json::Map::new()
        }
        None => serde_json::Map::new(),
    };
    let options = output_options_from_text(&serde_json::Value::Object(output.clone()).to_string(), &label)?.parquet;
    let mut store = None;
    if is_object {
        output.extend(connection_keys(config.connection.as_ref()));
        let text = serde_json::Value::Object(output.clone()).to_string();
        store = Some(store_config_from_text(&base_text, &text, &format!("{PLUGIN}: connection"))?);
    }
    let output_text = serde_json::Value::Object(output).to_string();
    Ok(Target { output_base, store, output_text, schema, options })
}

/// The Arrow schema of `[{name, type, required}]`.
fn arrow_schema(columns: &[Column]) -> Result<SchemaRef> {
    if columns.is_empty() {
        return Err(Error::Config(format!("{PLUGIN}: schema lists no columns")));
    }
    let mut fields = Vec::with_capacity(columns.len());
    for column in columns {
        let data_type = parse_type(&column.type_name).ok_or_else(|| {
            let names: Vec<&str> = TYPE_NAMES.iter().map(|(n, _)| *n).collect();
            Error::Config(format!(
                "{PLUGIN}: schema column '{}': unknown type '{}' (valid types: {})",
                column.name,
                column.type_name,
                names.join(", ")
            ))
        })?;
        fields.push(Field::new(&column.name, data_type, !column.required));
    }
    Ok(Arc::new(Schema::new(fields)))
}

// ----------------------------------------------------------------------------------------------
// The dativo plugin ABI
// ----------------------------------------------------------------------------------------------

/// The plugin behind `dativo_plugin_init`.
struct ParquetWriterPlugin;

impl WriterPlugin for ParquetWriterPlugin {
    fn write(&mut self, config: &str, input: &mut dyn RecordBatchReader) -> Result<Vec<CommittedFile>> {
        let target = parse(config)?;
        let schema = input.schema();
        if let Some(declared) = &target.schema {
            check_columns(declared, &schema)?;
        }
        let options = output_options_from_text(&target.output_text, &format!("{PLUGIN}: engine.options"))?;
        let mut sink = Output::open(&target.output_base, schema, options, PLUGIN)?;
        for batch in input {
            let written = batch.map_err(Error::from_arrow).and_then(|batch| sink.write(&batch));
            if let Err(e) = written {
                sink.abort(); // nothing of this run becomes visible
                return Err(e);
            }
        }
        sink.finish()
    }
}

/// Every column of the config's `schema` must arrive with its type: a writer that silently
/// wrote something else than the asset says would defeat the asset.
fn check_columns(declared: &Schema, input: &Schema) -> Result<()> {
    for field in declared.fields() {
        match input.field_with_name(field.name()) {
            Ok(got) if got.data_type() == field.data_type() => {}
            Ok(got) => {
                return Err(Error::Schema(format!(
                    "{PLUGIN}: column '{}' arrives as {} but the schema declares {}",
                    field.name(),
                    got.data_type(),
                    field.data_type()
                )))
            }
            Err(_) => {
                return Err(Error::Schema(format!(
                    "{PLUGIN}: column '{}' of the schema is missing from the stream",
                    field.name()
                )))
            }
        }
    }
    Ok(())
}

dativo_plugin::export_writer!("parquet_writer", ParquetWriterPlugin);

// ----------------------------------------------------------------------------------------------
// The legacy Dativo JSON ABI
// ----------------------------------------------------------------------------------------------

/// What `create_writer` returns.
struct LegacyWriter {
    output_base: PathBuf,
    /// `output_base: s3://...`: the files are uploaded there.
    store: Option<Store>,
    schema: SchemaRef,
    options: ParquetOptions,
    /// The file number of a `write_batch` without `file_counter`.
    next_counter: u64,
}

#[derive(Deserialize)]
struct BatchRequest {
    records: Vec<serde_json::Value>,
    #[serde(default)]
    file_counter: Option<u64>,
}

impl LegacyWriter {
    fn new(config: &str) -> Result<LegacyWriter> {
        let target = parse(config)?;
        let Some(schema) = target.schema else {
            return Err(Error::Config(format!("{PLUGIN}: create_writer needs schema: [{{name, type, required}}]")));
        };
        if target.options.max_rows_per_file.is_some() {
            return Err(Error::Config(format!(
                "{PLUGIN}: engine.options.max_rows_per_file is not supported by write_batch, which writes one file \
                 per call"
            )));
        }
        let store = target.store.as_ref().map(Store::connect).transpose()?;
        Ok(LegacyWriter { output_base: target.output_base, store, schema, options: target.options, next_counter: 0 })
    }

    /// Write `request`'s records to `output_base/part-NNNNN.parquet`; returns the JSON list of
    /// `{path, size_bytes, record_count}` (empty when there are no records).
    fn write_batch(&mut self, request: &str) -> Result<String> {
        let request: BatchRequest = serde_json::from_str(request).map_err(|e| {
            Error::Config(format!(
                "{PLUGIN}: write_batch: the batch is not {{\"records\": [...], \"file_counter\": N}}: {e}"
            ))
        })?;
        let counter = request.file_counter.unwrap_or(self.next_counter);
        self.next_counter = counter + 1;
        if request.records.is_empty() {
            return Ok("[]".into());
        }
        let batch = self.decode(&request.records)?;
        let file = self.commit(counter, &batch)?;
        let out = serde_json::json!([{
            "path": file.path.display().to_string(),
            "size_bytes": file.bytes,
            "record_count": file.rows,
        }]);
        Ok(out.to_string())
    }

    /// The records as one batch of the schema: a value of the wrong type, or a null (or
    /// missing key) in a required column, is an error naming the column.
    fn decode(&self, records: &[serde_json::Value]) -> Result<RecordBatch> {
        let bad = |e: arrow_schema::ArrowError| Error::Data(format!("{PLUGIN}: write_batch: {e}"));
        // Timestamps are decoded in the offset zone arrow-json understands, then labelled UTC.
        let json_schema = legacy::relabel_schema(&self.schema, legacy::UTC, legacy::UTC_OFFSET);
        let mut decoder =
            arrow_json::ReaderBuilder::new(json_schema).with_batch_size(records.len()).build_decoder().map_err(bad)?;
        decoder.serialize(records).map_err(bad)?;
        let batch = decoder.flush().map_err(bad)?.ok_or_else(|| {
            Error::Internal(format!("{PLUGIN}: write_batch: no batch from {} records", records.len()))
        })?;
        let batch = legacy::relabel_batch(&batch, legacy::UTC_OFFSET, legacy::UTC).map_err(bad)?;
        RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec()).map_err(bad)
    }

    /// Write `batch` with the engine's `ParquetSink` into a private staging folder inside
    /// `output_base`, then rename the finished file to `part-<counter>.parquet`: the final
    /// name never shows a partial file, and a failed call leaves nothing behind. In a bucket,
    /// the staging folder is in the temp directory and the finished file is uploaded as
    /// `<prefix>/part-<counter>.parquet` by a multipart upload: the object appears whole when
    /// the upload completes (replacing one of that name), or not at all.
    fn commit(&self, counter: u64, batch: &RecordBatch) -> Result<CommittedFile> {
        let name = format!("part-{counter:05}.parquet");
        let staging_dir = match &self.store {
            Some(_) => std::env::temp_dir(),
            None => self.output_base.clone(),
        };
        let staging = staging_dir.join(format!(".{name}.{}.{:p}.staging", std::process::id(), self));
        let result = (|| {
            let mut sink = ParquetSink::create(&staging, self.schema.clone(), self.options.clone())?;
            sink.write(batch)?;
            let files = sink.finish()?;
            let [written] = files.as_slice() else {
                return Err(Error::Internal(format!("{PLUGIN}: expected one file, the writer made {}", files.len())));
            };
            if let Some(store) = &self.store {
                let mut file = fs::File::open(&written.path).map_err(|e| Error::io("cannot open", &written.path, e))?;
                let mut upload = store.upload(&name)?;
                std::io::copy(&mut file, &mut upload).map_err(|e| Error::io("cannot upload", &written.path, e))?;
                upload.complete()?;
                let path = PathBuf::from(store.object_url(&name));
                return Ok(CommittedFile { path, rows: written.rows, bytes: written.bytes });
            }
            let path = self.output_base.join(&name);
            fs::rename(&written.path, &path).map_err(|e| Error::io("cannot rename into place", &path, e))?;
            sync_dir(&self.output_base)?;
            Ok(CommittedFile { path, rows: written.rows, bytes: written.bytes })
        })();
        let _ = fs::remove_dir_all(&staging);
        result
    }
}

/// Make a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io("cannot sync directory", dir, e))
}

/// Legacy ABI: prepare to write the schema of `config_json` (the job's target section) into
/// `output_base`. Returns a handle for `write_batch`, or NULL on an error (see `last_error`).
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn create_writer(config_json: *const c_char) -> *mut c_void {
    legacy::create(PLUGIN, || {
        let config = legacy::text_arg(config_json, "create_writer: config_json")?;
        let writer = LegacyWriter::new(config).map_err(|e| e.to_string())?;
        Ok(legacy::out_handle(writer))
    })
}

/// Legacy ABI: write `{"records": [...], "file_counter": N}` to
/// `output_base/part-NNNNN.parquet` (N zero-padded to 5 digits; an existing file of that name
/// is replaced atomically). Returns `[{"path", "size_bytes", "record_count"}]` (`[]` for no
/// records), to be freed with `free_string`. On an error, the text
/// `dativo plugin error: <message>` (not JSON, so the platform's bridge fails the job on it
/// instead of recording no files), also freed with `free_string`; `last_error` has the message.
///
/// # Safety
/// `writer` is NULL or a handle from `create_writer` not yet freed; `batch_json` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn write_batch(writer: *mut c_void, batch_json: *const c_char) -> *mut c_char {
    legacy::call_returning_text(PLUGIN, || {
        let writer = legacy::handle_arg::<LegacyWriter>(writer, "write_batch: writer")?;
        let batch = legacy::text_arg(batch_json, "write_batch: batch_json")?;
        let files = writer.write_batch(batch).map_err(|e| e.to_string())?;
        Ok(legacy::out_string(files))
    })
}

/// Legacy ABI: free a handle from `create_writer` (NULL is ignored). Every file `write_batch`
/// reported is already complete.
///
/// # Safety
/// `writer` is NULL or a handle from `create_writer` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn free_writer(writer: *mut c_void) {
    legacy::release(|| {
        if !writer.is_null() {
            drop(Box::from_raw(writer.cast::<LegacyWriter>()));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::{CStr, CString};

    fn config(out: &Path) -> CString {
        CString::new(
            serde_json::json!({
                "asset_name": "orders",
                "schema": [
                    {"name": "id", "type": "integer", "required": true},
                    {"name": "name", "type": "string", "required": false},
                    {"name": "amount", "type": "double"},
                ],
                "output_base": out.display().to_string(),
                "target_type": "local",
                "connection": {},
                "file_format": "parquet",
                "engine": {"options": {"compression": "zstd", "row_group_size": 2}},
            })
            .to_string(),
        )
        .unwrap()
    }

    unsafe fn take(text: *mut c_char) -> Option<String> {
        if text.is_null() {
            return None;
        }
        let s = CStr::from_ptr(text).to_string_lossy().into_owned();
        free_string(text);
        Some(s)
    }

    unsafe fn error() -> String {
        let e = last_error();
        assert!(!e.is_null(), "expected last_error");
        CStr::from_ptr(e).to_string_lossy().into_owned()
    }

    #[test]
    fn legacy_write_batch_commits_numbered_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        unsafe {
            let writer = create_writer(config(&out).as_ptr());
            assert!(!writer.is_null());
            let batch = CString::new(
                r#"{"records": [{"id": 1, "name": "a", "amount": 2.5}, {"id": "2", "amount": null}], "file_counter": 7}"#,
            )
            .unwrap();
            let files: serde_json::Value =
                serde_json::from_str(&take(write_batch(writer, batch.as_ptr())).unwrap()).unwrap();
            assert!(last_error().is_null());
            let path = out.join("part-00007.parquet");
            let size = fs::metadata(&path).unwrap().len();
            assert_eq!(
                files,
                serde_json::json!([{"path": path.display().to_string(), "size_bytes": size, "record_count": 2}])
            );
            // Nothing but the final file is left in the folder.
            let names: Vec<String> =
                fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
            assert_eq!(names, ["part-00007.parquet"]);
            let empty = CString::new(r#"{"records": [], "file_counter": 8}"#).unwrap();
            assert_eq!(take(write_batch(writer, empty.as_ptr())).as_deref(), Some("[]"));
            free_writer(writer);
        }
    }

    #[test]
    fn legacy_write_batch_errors_are_explained_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        unsafe {
            let writer = create_writer(config(&out).as_ptr());
            for (batch, expected) in [
                (r#"{"records": [{"id": null, "name": "a"}], "file_counter": 0}"#, "id"),
                (r#"{"records": [{"id": 1, "amount": "lots"}], "file_counter": 1}"#, "lots"),
                (r#"{"rows": []}"#, "records"),
                ("[1, 2", "records"),
            ] {
                let c = CString::new(batch).unwrap();
                let answer = take(write_batch(writer, c.as_ptr())).expect("an error text, not NULL");
                let message = error();
                assert!(message.contains(expected), "{batch}: {message}");
                assert_eq!(answer, format!("{}{message}", legacy::ERROR_PREFIX));
            }
            assert!(take(write_batch(writer, std::ptr::null())).unwrap().starts_with(legacy::ERROR_PREFIX));
            // A NULL writer (create_writer failed) reports why create_writer failed.
            let bad = CString::new(r#"{"schema": [{"name": "a", "type": "integer"}]}"#).unwrap();
            assert!(create_writer(bad.as_ptr()).is_null());
            let reason = error();
            assert!(reason.contains("output_base"), "{reason}");
            let answer = take(write_batch(std::ptr::null_mut(), std::ptr::null())).unwrap();
            assert_eq!(answer, format!("{}{reason}", legacy::ERROR_PREFIX));
            assert_eq!(error(), reason);
            free_writer(writer);
        }
        let left: Vec<_> = fs::read_dir(&out).map(|d| d.map(|e| e.unwrap().file_name()).collect()).unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn legacy_records_decode_to_the_schema_types_timestamps_in_utc() {
        let config = r#"{"output_base": "/unused", "schema": [
            {"name": "at", "type": "timestamp", "required": true}, {"name": "on", "type": "date"},
            {"name": "ok", "type": "boolean"}]}"#;
        let writer = LegacyWriter::new(config).unwrap();
        let records: Vec<serde_json::Value> = serde_json::from_str(
            r#"[{"at": "2024-03-01T09:14:05Z", "on": "2024-03-01", "ok": true},
                {"at": "2024-03-01T09:14:05", "on": null, "extra": 1},
                {"at": "2024-03-01T10:14:05+01:00", "ok": false}]"#,
        )
        .unwrap();
        let batch = writer.decode(&records).unwrap();
        assert_eq!(batch.schema(), writer.schema);
        assert_eq!(batch.schema().field(0).data_type(), &dativo_engine::schema::timestamp_type());
        let at = batch.column(0).as_any().downcast_ref::<arrow_array::TimestampMicrosecondArray>().unwrap();
        // The same instant three ways: Z, no zone (read as UTC), and +01:00.
        assert_eq!(at.values().to_vec(), vec![1_709_284_445_000_000; 3]);
        assert_eq!(batch.column(1).null_count(), 2);
        assert_eq!(batch.column(2).null_count(), 1);
    }

    #[test]
    fn legacy_create_writer_reports_bad_configs() {
        unsafe {
            for (config, expected) in [
                (r#"{"schema": [{"name": "a", "type": "integer"}]}"#, "output_base"),
                (r#"{"output_base": "/tmp/x"}"#, "needs schema"),
                (
                    r#"{"output_base": "/tmp/x", "schema": [{"name": "a", "type": "decimal"}]}"#,
                    "unknown type 'decimal'",
                ),
                (r#"{"output_base": "/tmp/x", "file_format": "csv", "schema": []}"#, "file_format 'csv'"),
                (
                    r#"{"output_base": "/tmp/x", "schema": [{"name": "a", "type": "int"}], "engine": {"options": {"compression": "brotli"}}}"#,
                    "brotli",
                ),
            ] {
                let c = CString::new(config).unwrap();
                assert!(create_writer(c.as_ptr()).is_null(), "{config}");
                let message = error();
                assert!(message.contains(expected), "{config}: {message}");
            }
        }
    }
}
