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

use arrow_array::RecordBatchReader;
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

/// The files and CSV options of a config (JSON text).
fn parse(config: &str) -> dativo_engine::Result<(Vec<PathBuf>, CsvOptions)> {
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
    let options = match config.engine.and_then(|e| e.options) {
        Some(options) => dativo_engine::job::options::reader_options_from_text(
            &options.to_string(),
            &format!("{PLUGIN}: engine.options"),
        )?,
        None => CsvOptions::default(),
    };
    Ok((paths, options))
}

/// The reader of both ABIs: the engine's `CsvReader` over the config's files.
fn open(config: &str) -> dativo_engine::Result<CsvReader> {
    let (paths, options) = parse(config)?;
    CsvReader::open(&paths, options)
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
                .map_err(|e| format!("cannot convert a batch to JSON: {e}"))?;
            writer.write(&batch).map_err(|e| format!("cannot convert a batch to JSON: {e}"))?;
            writer.finish().map_err(|e| format!("cannot convert a batch to JSON: {e}"))?;
            let json = String::from_utf8(writer.into_inner()).map_err(|e| format!("JSON is not UTF-8: {e}"))?;
            return Ok(Some(json));
        }
        Ok(None)
    }
}

/// Legacy ABI: open the files of `config_json` (the job's source section). Returns a handle
/// for `extract_batch`, or NULL on an error (see `last_error`).
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn create_reader(config_json: *const c_char) -> *mut c_void {
    legacy::call(PLUGIN, std::ptr::null_mut(), || {
        let config = legacy::text_arg(config_json, "create_reader: config_json")?;
        let reader = open(config).map_err(|e| e.to_string())?;
        Ok(legacy::out_handle(LegacyReader { reader, finished: None }))
    })
}

/// Legacy ABI: the next batch of rows as a JSON array of objects (`[{"col": value, ...}, ...]`),
/// to be freed with `free_string`. NULL at the end of the data, and NULL on an error: then
/// `last_error()` is not NULL (the old plugins could not tell the two apart).
///
/// # Safety
/// `reader` is NULL or a handle from `create_reader` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn extract_batch(reader: *mut c_void) -> *mut c_char {
    legacy::call(PLUGIN, std::ptr::null_mut(), || {
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

    /// Every batch's JSON until NULL, and last_error() after the NULL.
    unsafe fn drain(handle: *mut c_void) -> (Vec<serde_json::Value>, Option<String>) {
        let mut records = Vec::new();
        loop {
            let batch = extract_batch(handle);
            if batch.is_null() {
                let error = last_error();
                let error = (!error.is_null()).then(|| CStr::from_ptr(error).to_string_lossy().into_owned());
                return (records, error);
            }
            let json: serde_json::Value = serde_json::from_slice(CStr::from_ptr(batch).to_bytes()).unwrap();
            free_string(batch);
            records.extend(json.as_array().unwrap().iter().cloned());
        }
    }

    #[test]
    fn legacy_reader_yields_every_record_then_null_without_error() {
        let (_dir, path) = csv("id;name\n1;ann\n2;\n3;cid\n");
        unsafe {
            let handle = create_reader(config(&path, r#"{"delimiter": ";", "batch_size": 2}"#).as_ptr());
            assert!(!handle.is_null());
            let (records, error) = drain(handle);
            assert_eq!(error, None);
            assert_eq!(
                records,
                serde_json::json!([{"id": 1, "name": "ann"}, {"id": 2, "name": null}, {"id": 3, "name": "cid"}])
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
            assert!(extract_batch(handle).is_null());
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
            assert!(extract_batch(std::ptr::null_mut()).is_null());
            assert!(!last_error().is_null());
            free_reader(std::ptr::null_mut());
            free_string(std::ptr::null_mut());
        }
    }
}
