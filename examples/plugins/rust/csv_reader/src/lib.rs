//! dativo's CSV reader as a plugin library (`libcsv_reader_plugin.so`), with two faces:
//!
//! - the dativo plugin ABI (`dativo_plugin_init`, through `dativo_plugin::export_reader!`): a job's
//!   `source.custom_reader` gets an Arrow stream straight from the engine's `CsvReader`;
//! - the legacy Dativo JSON ABI, as the Dativo platform's Python bridge calls it:
//!   `create_reader` / `extract_batch` / `free_reader` / `free_string`, plus `last_error`.
//!
//! Both read the config the same way: the job's `source` section,
//! `{"files": [{"path": ..., "id": ...}], "engine": {"options": {...}}, ...}`, where
//! `engine.options` takes the keys of a job's `source.engine.options` (`delimiter`,
//! `batch_size`, `encoding`, `null_values`, ...). Other keys (`type`, `connection`,
//! `credentials`, `objects`, `incremental`) are accepted and ignored.

#[path = "../../common/legacy.rs"]
mod legacy;

/// Exported with the legacy ABI: `free_string(char*)` and `last_error() -> const char*`.
pub use legacy::{free_string, last_error};

use std::ffi::{c_char, c_void};
use std::path::PathBuf;

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchReader, StringArray};
use arrow_schema::{ArrowError, DataType, Field};
use dativo_engine::csv::{CsvOptions, CsvReader};
use dativo_plugin::sdk::{parse_config, ReaderPlugin};
use serde::Deserialize;

/// How messages and the stderr log name this plugin.
const PLUGIN: &str = "csv_reader_plugin";

/// The keys of the config this plugin reads; the others are ignored.
#[derive(Debug, Deserialize)]
struct SourceConfig {
    #[serde(default)]
    files: Vec<FileEntry>,
    #[serde(default)]
    engine: Option<Engine>,
}

#[derive(Debug, Deserialize)]
struct FileEntry {
    path: String,
}

#[derive(Debug, Deserialize)]
struct Engine {
    #[serde(default)]
    options: Option<serde_json::Value>,
}

/// The files and CSV options of a config (JSON text), and whether it sets `null_values`.
fn parse(config: &str) -> dativo_engine::Result<(Vec<PathBuf>, CsvOptions, bool)> {
    let config: SourceConfig = parse_config(config)?;
    if config.files.is_empty() {
        return Err(dativo_engine::Error::Config(format!(
            "{PLUGIN}: the config lists no files (files: [{{path: ...}}])"
        )));
    }
    let mut paths = Vec::with_capacity(config.files.len());
    for file in &config.files {
        if file.path.contains("://") {
            return Err(dativo_engine::Error::Config(format!(
                "{PLUGIN}: '{}' is a URL; this plugin reads local files only",
                file.path
            )));
        }
        paths.push(PathBuf::from(&file.path));
    }
    let raw = config.engine.and_then(|e| e.options);
    let sets_null_values = raw.as_ref().is_some_and(|o| o.get("null_values").is_some());
    let options = match raw {
        Some(options) => dativo_engine::job::options::reader_options_from_text(
            &options.to_string(),
            &format!("{PLUGIN}: engine.options"),
        )?,
        None => CsvOptions::default(),
    };
    Ok((paths, options, sets_null_values))
}

/// The reader of both ABIs: the engine's `CsvReader` over the config's files.
fn open(config: &str) -> dativo_engine::Result<CsvReader> {
    let (paths, options, _) = parse(config)?;
    CsvReader::open(&paths, options)
}

/// The reader of the legacy ABI, which gives values as the original plugin did: every column
/// the config does not type (`column_types`, `schema`) is read as its original text, and an
/// empty field in such a column is `""` unless the config sets `null_values`. The platform's
/// schema validator types the values from the asset, as it did with the original plugin; the
/// values must reach it unchanged (`true`, `1.50`, `2024-03-01 09:14:05+02:00`, not `True`,
/// `1.5`, `2024-03-01T07:14:05Z`).
fn open_legacy(config: &str) -> dativo_engine::Result<LegacyReader> {
    let (paths, mut options, sets_null_values) = parse(config)?;
    let mut text_columns = Vec::new();
    if options.schema.is_none() {
        let header = dativo_engine::csv::infer_schema(&paths, &options)?;
        for field in header.fields() {
            if !options.column_types.iter().any(|f| f.name() == field.name()) {
                options.column_types.push(Field::new(field.name(), DataType::Utf8, true));
                if !sets_null_values {
                    text_columns.push(field.name().clone());
                }
            }
        }
    }
    let reader = CsvReader::open(&paths, options)?;
    Ok(LegacyReader { reader, text_columns, finished: None })
}

// ----------------------------------------------------------------------------------------------
// The dativo plugin ABI
// ----------------------------------------------------------------------------------------------

/// The plugin behind `dativo_plugin_init`.
struct CsvReaderPlugin;

impl ReaderPlugin for CsvReaderPlugin {
    fn open(&mut self, config: &str) -> dativo_engine::Result<Box<dyn RecordBatchReader + Send>> {
        Ok(Box::new(open(config)?.into_record_batch_reader()))
    }
}

dativo_plugin::export_reader!("csv_reader", CsvReaderPlugin);

// ----------------------------------------------------------------------------------------------
// The legacy Dativo JSON ABI
// ----------------------------------------------------------------------------------------------

/// What `create_reader` returns.
struct LegacyReader {
    reader: CsvReader,
    /// Untyped columns, whose empty fields are `""` as with the original plugin.
    text_columns: Vec<String>,
    /// Set after the end of the data or an error: later calls return NULL (and the error again).
    finished: Option<Result<(), String>>,
}

impl LegacyReader {
    /// The next non-empty batch as a JSON array of records; None at the end of the data.
    fn next_json(&mut self) -> Result<Option<String>, String> {
        if let Some(finished) = &self.finished {
            return finished.clone().map(|()| None);
        }
        let outcome = self.read_next();
        match &outcome {
            Ok(Some(_)) => {}
            Ok(None) => self.finished = Some(Ok(())),
            Err(message) => self.finished = Some(Err(message.clone())),
        }
        outcome
    }

    fn read_next(&mut self) -> Result<Option<String>, String> {
        for batch in self.reader.by_ref() {
            let batch = batch.map_err(|e| e.to_string())?;
            if batch.num_rows() == 0 {
                continue;
            }
            // Every record has every column: a null is written as null, not left out.
            let mut writer = arrow_json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow_json::writer::JsonArray>(Vec::new());
            let batch = legacy::relabel_batch(&batch, legacy::UTC, legacy::UTC_OFFSET)
                .and_then(|b| empty_as_text(&b, &self.text_columns))
                .map_err(|e| format!("cannot convert a batch to JSON: {e}"))?;
            writer.write(&batch).map_err(|e| format!("cannot convert a batch to JSON: {e}"))?;
            writer.finish().map_err(|e| format!("cannot convert a batch to JSON: {e}"))?;
            let json = String::from_utf8(writer.into_inner()).map_err(|e| format!("JSON is not UTF-8: {e}"))?;
            return Ok(Some(json));
        }
        Ok(None)
    }
}

/// `batch` with the nulls of `columns` (string columns) as empty strings.
fn empty_as_text(batch: &RecordBatch, columns: &[String]) -> Result<RecordBatch, ArrowError> {
    if columns.is_empty() {
        return Ok(batch.clone());
    }
    let schema = batch.schema();
    let mut arrays = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        match column.as_any().downcast_ref::<StringArray>() {
            Some(strings) if column.null_count() > 0 && columns.contains(field.name()) => {
                let filled: StringArray = strings.iter().map(|v| Some(v.unwrap_or(""))).collect();
                arrays.push(Arc::new(filled) as ArrayRef);
            }
            _ => arrays.push(column.clone()),
        }
    }
    RecordBatch::try_new(schema, arrays)
}

/// Legacy ABI: open the files of `config_json` (the job's source section). Returns a handle
/// for `extract_batch`, or NULL on an error (see `last_error`).
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn create_reader(config_json: *const c_char) -> *mut c_void {
    legacy::create(PLUGIN, || {
        let config = legacy::text_arg(config_json, "create_reader: config_json")?;
        let reader = open_legacy(config).map_err(|e| e.to_string())?;
        Ok(legacy::out_handle(reader))
    })
}

/// Legacy ABI: the next batch of rows as a JSON array of objects (`[{"col": value, ...}, ...]`),
/// to be freed with `free_string`. NULL at the end of the data (`last_error()` NULL). On an
/// error, the text `dativo plugin error: <message>`, which is not JSON (so the platform's
/// bridge fails the job on it), also freed with `free_string`, and `last_error()` has the
/// message (the old plugins returned NULL, which looked like the end of the data).
///
/// # Safety
/// `reader` is NULL or a handle from `create_reader` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn extract_batch(reader: *mut c_void) -> *mut c_char {
    legacy::call_returning_text(PLUGIN, || {
        let reader = legacy::handle_arg::<LegacyReader>(reader, "extract_batch: reader")?;
        Ok(reader.next_json()?.map_or(std::ptr::null_mut(), legacy::out_string))
    })
}

/// Legacy ABI: free a handle from `create_reader` (NULL is ignored).
///
/// # Safety
/// `reader` is NULL or a handle from `create_reader` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn free_reader(reader: *mut c_void) {
    legacy::release(|| {
        if !reader.is_null() {
            drop(Box::from_raw(reader.cast::<LegacyReader>()));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::{CStr, CString};

    fn csv(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path.display().to_string())
    }

    fn config(path: &str, options: &str) -> CString {
        CString::new(format!(
            r#"{{"type": "csv", "connection": {{}}, "files": [{{"path": "{path}", "id": "f1"}}],
                "engine": {{"options": {options}}}}}"#
        ))
        .unwrap()
    }

    /// Every batch's JSON until NULL or an error, and last_error() then.
    unsafe fn drain(handle: *mut c_void) -> (Vec<serde_json::Value>, Option<String>) {
        let mut records = Vec::new();
        loop {
            let batch = extract_batch(handle);
            let error = last_error();
            let error = (!error.is_null()).then(|| CStr::from_ptr(error).to_string_lossy().into_owned());
            if batch.is_null() || error.is_some() {
                if !batch.is_null() {
                    let text = CStr::from_ptr(batch).to_string_lossy().into_owned();
                    assert!(text.starts_with(legacy::ERROR_PREFIX), "{text}");
                    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err(), "{text}");
                    free_string(batch);
                }
                return (records, error);
            }
            let json: serde_json::Value = serde_json::from_slice(CStr::from_ptr(batch).to_bytes()).unwrap();
            free_string(batch);
            records.extend(json.as_array().unwrap().iter().cloned());
        }
    }

    #[test]
    fn legacy_reader_yields_every_record_as_text_then_null_without_error() {
        let (_dir, path) = csv("id;name;ok;amount\n1;ann;true;1.50\n2;;false;2\n3;cid;;\n");
        unsafe {
            let handle = create_reader(config(&path, r#"{"delimiter": ";", "batch_size": 2}"#).as_ptr());
            assert!(!handle.is_null());
            let (records, error) = drain(handle);
            assert_eq!(error, None);
            // The original text of every value; an empty field is "" as with the original plugin.
            assert_eq!(
                records,
                serde_json::json!([
                    {"id": "1", "name": "ann", "ok": "true", "amount": "1.50"},
                    {"id": "2", "name": "", "ok": "false", "amount": "2"},
                    {"id": "3", "name": "cid", "ok": "", "amount": ""}
                ])
                .as_array()
                .unwrap()
                .clone()
            );
            // Still NULL, still no error, after the end.
            assert!(extract_batch(handle).is_null());
            assert!(last_error().is_null());
            free_reader(handle);
        }
    }

    #[test]
    fn legacy_reader_types_only_pinned_columns() {
        let (_dir, path) = csv("id,amount,at\n1,1.50,2024-03-01 09:14:05+02:00\n2,,x\n");
        let options = r#"{"column_types": {"id": "integer", "amount": "double"}, "null_values": ["", "NULL"]}"#;
        unsafe {
            let handle = create_reader(config(&path, options).as_ptr());
            assert!(!handle.is_null());
            let (records, error) = drain(handle);
            assert_eq!(error, None);
            assert_eq!(
                records,
                serde_json::json!([
                    {"id": 1, "amount": 1.5, "at": "2024-03-01 09:14:05+02:00"},
                    {"id": 2, "amount": null, "at": "x"}
                ])
                .as_array()
                .unwrap()
                .clone()
            );
            free_reader(handle);
        }
    }

    #[test]
    fn legacy_reader_error_is_not_the_end_of_the_data() {
        let (_dir, path) = csv("id,amount\n1,2.5\n2,oops\n");
        let options = r#"{"column_types": {"amount": "double"}}"#;
        unsafe {
            let handle = create_reader(config(&path, options).as_ptr());
            assert!(!handle.is_null());
            let (records, error) = drain(handle);
            assert!(records.len() < 2, "{records:?}");
            let error = error.expect("last_error after a failed extract_batch");
            assert!(error.contains("data.csv") && error.contains("oops"), "{error}");
            // The error stays: a later call does not pretend the data ended.
            let again = extract_batch(handle);
            assert!(!again.is_null());
            assert!(CStr::from_ptr(again).to_string_lossy().contains("oops"));
            free_string(again);
            assert!(!last_error().is_null());
            free_reader(handle);
        }
    }

    #[test]
    fn legacy_create_reader_reports_bad_configs() {
        unsafe {
            for (config, expected) in [
                ("not json", "plugin config"),
                (r#"{"files": []}"#, "lists no files"),
                (r#"{"files": [{"path": "s3://b/x.csv"}]}"#, "local files only"),
                (r#"{"files": [{"path": "/no/such/file.csv"}]}"#, "/no/such/file.csv"),
                (r#"{"files": [{"path": "x.csv"}], "engine": {"options": {"delimter": ";"}}}"#, "delimter"),
            ] {
                let c = CString::new(config).unwrap();
                assert!(create_reader(c.as_ptr()).is_null(), "{config}");
                let error = CStr::from_ptr(last_error()).to_string_lossy();
                assert!(error.contains(expected), "{config}: {error}");
            }
            assert!(create_reader(std::ptr::null()).is_null());
            assert!(CStr::from_ptr(last_error()).to_string_lossy().contains("NULL"));
            // The bridge goes on with the NULL handle: the answer, and last_error, keep the
            // create call's own reason.
            let missing = CString::new(r#"{"files": [{"path": "/no/such/file.csv"}]}"#).unwrap();
            assert!(create_reader(missing.as_ptr()).is_null());
            let reason = CStr::from_ptr(last_error()).to_string_lossy().into_owned();
            let answer = extract_batch(std::ptr::null_mut());
            assert!(!answer.is_null());
            assert_eq!(CStr::from_ptr(answer).to_string_lossy(), format!("{}{reason}", legacy::ERROR_PREFIX));
            free_string(answer);
            assert_eq!(CStr::from_ptr(last_error()).to_string_lossy(), reason);
            free_reader(std::ptr::null_mut());
            free_string(std::ptr::null_mut());
        }
    }
}
