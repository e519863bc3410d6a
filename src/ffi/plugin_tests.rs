//! The plugin functions of the C API, called as C calls them: a job whose plugins the caller
//! provides through a resolver (as the Python package does), and `dativo_plugin_*` misuse.
//! Native libraries are loaded end to end in tests/plugins.rs.

use std::ffi::{c_char, c_void, CStr, CString};
use std::fs;
use std::ptr;
use std::sync::{Arc, Mutex};

use arrow_array::{Int64Array, RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_schema::{DataType, Field, Schema};

use super::job::*;
use super::parquet::*;
use super::plugin::*;
use super::*;
use dativo_abi::plugin_abi::DativoPluginVTable;
use dativo_engine::parquet::CommittedFile;
use dativo_engine::{Error, Result};
use dativo_plugin::sdk::{init_reader, init_writer, parse_config, ReaderPlugin, WriterPlugin};

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

fn message(error: &DativoError) -> String {
    assert!(!error.message.is_null(), "the error has no message");
    unsafe { CStr::from_ptr(error.message) }.to_str().unwrap().to_string()
}

/// A reader whose row count comes from the job's `source.connection.rows`.
struct Seq;

impl ReaderPlugin for Seq {
    fn open(&mut self, config: &str) -> Result<Box<dyn RecordBatchReader + Send>> {
        let config: serde_json::Value = parse_config(config)?;
        let rows =
            config["connection"]["rows"].as_i64().ok_or_else(|| Error::Config("connection.rows is missing".into()))?;
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from_iter_values(0..rows))])?;
        Ok(Box::new(RecordBatchIterator::new(vec![Ok(batch)], schema)))
    }
}

/// A writer that records the config it got and the rows it read, and commits nothing real.
struct Recorder;

static RECORDED: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());

impl WriterPlugin for Recorder {
    fn write(&mut self, config: &str, input: &mut dyn RecordBatchReader) -> Result<Vec<CommittedFile>> {
        let mut rows = 0;
        for batch in input {
            rows += batch.map_err(Error::from_arrow)?.num_rows() as u64;
        }
        RECORDED.lock().unwrap().push((config.to_string(), rows));
        Ok(vec![CommittedFile { path: "remote://bucket/part-0".into(), rows, bytes: 42 }])
    }
}

/// The resolver a host would install: `*.py:Seq` and `*.py:Recorder` are known classes; the
/// context collects the specs asked for.
unsafe extern "C" fn resolve(
    context: *mut c_void,
    spec: *const c_char,
    abi_version: u32,
    vtable: *mut DativoPluginVTable,
    error: *mut DativoError,
) -> DativoStatus {
    let spec = CStr::from_ptr(spec).to_str().unwrap().to_string();
    (*context.cast::<Mutex<Vec<String>>>()).lock().unwrap().push(spec.clone());
    if spec.ends_with(":Seq") {
        init_reader(abi_version, vtable, error, "seq", "1", || Seq)
    } else if spec.ends_with(":Recorder") {
        init_writer(abi_version, vtable, error, "recorder", "1", || Recorder)
    } else {
        error::fill(error, &format!("no class for {spec}"));
        DATIVO_STATUS_PLUGIN
    }
}

fn run_with_resolver(job: &std::path::Path) -> (DativoStatus, *mut DativoJobReport, DativoError, Vec<String>) {
    let asked: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let path = c(job.to_str().unwrap());
    let mut report = ptr::null_mut();
    let mut error = DativoError::default();
    let context = &asked as *const Mutex<Vec<String>> as *mut c_void;
    let status =
        unsafe { dativo_job_run_with_resolver(path.as_ptr(), Some(resolve), context, &mut report, &mut error) };
    let asked = asked.into_inner().unwrap();
    (status, report, error, asked)
}

#[test]
fn a_job_runs_with_a_reader_the_caller_provides() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.yaml");
    fs::write(
        &job,
        "source:\n  type: numbers\n  custom_reader: plugins/seq.py:Seq\n  connection: {rows: 1234}\n\
         target:\n  output_base: out\n",
    )
    .unwrap();
    let (status, report, error, asked) = run_with_resolver(&job);
    assert_eq!(status, DATIVO_STATUS_OK, "{}", if status != 0 { message(&error) } else { String::new() });
    assert_eq!(asked, [format!("{}:Seq", dir.path().join("plugins/seq.py").display())], "absolute spec");
    unsafe {
        assert_eq!(dativo_job_report_rows_read(report), 1234);
        assert_eq!(dativo_job_report_rows_written(report), 1234);
        let files = dativo_job_report_files(report);
        assert_eq!(dativo_file_list_count(files), 1);
        assert_eq!(dativo_file_list_rows(files, 0), 1234);
        dativo_job_report_free(report);
    }

    // Without a resolver the same job names the way to run it.
    let path = c(job.to_str().unwrap());
    let mut report = ptr::null_mut();
    let mut error = DativoError::default();
    let status = unsafe { dativo_job_run(path.as_ptr(), &mut report, &mut error) };
    assert_eq!(status, DATIVO_STATUS_PLUGIN);
    assert!(message(&error).contains("python -m dativo run --config"), "{}", message(&error));
}

#[test]
fn a_job_writes_through_a_writer_the_caller_provides() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("in.csv"), "id,name\n1,a\n2,b\n3,c\n").unwrap();
    let job = dir.path().join("job.yaml");
    fs::write(
        &job,
        "asset:\n  name: people\n  schema:\n    - {name: id, type: integer, required: true}\n    - {name: name, type: string}\n\
         source:\n  files: [{path: in.csv}]\n\
         target:\n  type: s3\n  custom_writer: rec.py:Recorder\n  output_base: out\n  connection: {bucket: b}\n",
    )
    .unwrap();
    let (status, report, error, _) = run_with_resolver(&job);
    assert_eq!(status, DATIVO_STATUS_OK, "{}", if status != 0 { message(&error) } else { String::new() });
    unsafe {
        assert_eq!(dativo_job_report_rows_written(report), 3);
        let files = dativo_job_report_files(report);
        assert_eq!(CStr::from_ptr(dativo_file_list_path(files, 0)).to_str().unwrap(), "remote://bucket/part-0");
        dativo_job_report_free(report);
    }
    let recorded = RECORDED.lock().unwrap().clone();
    let (config, rows) = recorded.iter().find(|(c, _)| c.contains("people")).expect("the writer ran");
    assert_eq!(*rows, 3);
    let config: serde_json::Value = serde_json::from_str(config).unwrap();
    assert_eq!(config["asset_name"], "people");
    assert_eq!(config["target_type"], "s3");
    assert_eq!(config["connection"]["bucket"], "b");
    assert_eq!(config["output_base"], dir.path().join("out").display().to_string());
    assert_eq!(
        config["schema"],
        serde_json::json!([{"name": "id", "type": "integer", "required": true}, {"name": "name", "type": "string", "required": false}])
    );
}

#[test]
fn a_resolver_failure_fails_the_job_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.yaml");
    fs::write(&job, "source:\n  custom_reader: x.py:Nope\ntarget:\n  output_base: out\n").unwrap();
    let (status, report, error, _) = run_with_resolver(&job);
    assert_eq!(status, DATIVO_STATUS_PLUGIN);
    assert!(report.is_null());
    assert!(message(&error).contains("version 1: no class for"), "{}", message(&error));
    assert!(!dir.path().join("out").exists() || fs::read_dir(dir.path().join("out")).unwrap().next().is_none());
}

#[test]
fn plugin_functions_refuse_bad_arguments() {
    unsafe {
        let mut plugin = ptr::null_mut();
        let mut error = DativoError::default();
        assert_eq!(
            dativo_plugin_load(ptr::null(), ptr::null(), &mut plugin, &mut error),
            DATIVO_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(message(&error), "dativo_plugin_load: spec is NULL");
        let spec = c("lib.so:");
        assert_eq!(dativo_plugin_load(spec.as_ptr(), ptr::null(), &mut plugin, &mut error), DATIVO_STATUS_CONFIG);
        assert!(message(&error).contains("the name after ':' is empty"), "{}", message(&error));
        let spec = c("/no/such/libp.so");
        assert_eq!(dativo_plugin_load(spec.as_ptr(), ptr::null(), &mut plugin, &mut error), DATIVO_STATUS_PLUGIN);
        assert!(message(&error).contains("cannot open the library"), "{}", message(&error));
        let options = c(r#"{"sha": "x"}"#);
        assert_eq!(dativo_plugin_load(spec.as_ptr(), options.as_ptr(), &mut plugin, &mut error), DATIVO_STATUS_CONFIG);
        assert!(message(&error).contains("unknown field `sha`"), "{}", message(&error));
        assert_eq!(
            dativo_plugin_load(spec.as_ptr(), ptr::null(), ptr::null_mut(), &mut error),
            DATIVO_STATUS_INVALID_ARGUMENT
        );
        assert!(plugin.is_null());

        assert_eq!(dativo_plugin_kind(ptr::null()), 0);
        assert!(dativo_plugin_name(ptr::null()).is_null());
        assert!(dativo_plugin_version(ptr::null()).is_null());
        assert_eq!(dativo_plugin_abi_version(ptr::null()), 0);
        dativo_plugin_free(ptr::null_mut());

        let config = c("{}");
        let mut stream = ArrowArrayStream::empty();
        let status = dativo_plugin_open_reader(ptr::null_mut(), config.as_ptr(), &mut stream, &mut error);
        assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
        assert_eq!(message(&error), "dativo_plugin_open_reader: plugin is NULL");
        let mut files = ptr::null_mut();
        let status = dativo_plugin_write(ptr::null_mut(), config.as_ptr(), &mut stream, &mut files, &mut error);
        assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
        assert_eq!(message(&error), "dativo_plugin_write: stream is released (already consumed or moved)");
    }
}

/// The same resolver, as a Rust host installs it on a job.
struct Resolver(Mutex<Vec<String>>);

impl dativo_plugin::PluginResolver for Resolver {
    fn init(
        &self,
        spec: &str,
        abi_version: u32,
        vtable: *mut DativoPluginVTable,
        error: *mut DativoError,
    ) -> DativoStatus {
        let spec = c(spec);
        let context = &self.0 as *const Mutex<Vec<String>> as *mut c_void;
        unsafe { resolve(context, spec.as_ptr(), abi_version, vtable, error) }
    }
}

#[test]
fn the_allowed_folder_and_the_sha256_pin_apply_to_plugins_the_host_provides() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("plugins")).unwrap();
    fs::write(dir.path().join("plugins/seq.py"), "class Seq: ...\n").unwrap();
    let job_path = dir.path().join("job.yaml");
    let run = |extra: &str, allow_dir: Option<&std::path::Path>| {
        fs::write(
            &job_path,
            format!("source:\n  custom_reader: plugins/seq.py:Seq\n{extra}  connection: {{rows: 3}}\ntarget:\n  output_base: out\n"),
        )
        .unwrap();
        let mut job = dativo_engine::job::load(&job_path).unwrap();
        job.set_plugin_loader(
            dativo_plugin::Loader {
                allow_dir: allow_dir.map(|d| d.to_path_buf()),
                resolver: Some(Arc::new(Resolver(Mutex::new(Vec::new())))),
                require_pins: false,
            }
            .shared(),
        );
        job.run(&|_| {})
    };
    assert_eq!(run("", Some(&dir.path().join("plugins"))).unwrap().rows_written, 3);
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let e = run("", Some(&elsewhere)).unwrap_err().to_string();
    assert!(e.contains("seq.py") && e.contains("is outside the allowed plugin folder"), "{e}");
    let pin = format!("  custom_reader_sha256: {}\n", "0".repeat(64));
    let e = run(&pin, None).unwrap_err().to_string();
    assert!(e.contains("its sha256 is") && e.contains("but the job pins 0000"), "{e}");
}

/// `dativo_plugin_spec_parse`: the JSON, or the status and message.
fn parse_spec(spec: Option<&str>) -> std::result::Result<serde_json::Value, (DativoStatus, String)> {
    let spec = spec.map(c);
    let mut out: *mut c_char = ptr::null_mut();
    let mut error = DativoError::default();
    let status =
        unsafe { dativo_plugin_spec_parse(spec.as_ref().map_or(ptr::null(), |s| s.as_ptr()), &mut out, &mut error) };
    if status != DATIVO_STATUS_OK {
        assert!(out.is_null(), "out_json is written only on success");
        return Err((status, message(&error)));
    }
    let json = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
    unsafe { dativo_string_free(out) };
    Ok(serde_json::from_str(&json).unwrap())
}

#[test]
fn plugin_specs_parse_as_the_engine_parses_them() {
    let json = |path: &str, name: Option<&str>, native: bool| serde_json::json!({"path": path, "name": name, "native": native});
    assert_eq!(parse_spec(Some("lib/libx.so.1:init")).unwrap(), json("lib/libx.so.1", Some("init"), true));
    assert_eq!(parse_spec(Some("plugins/x.dylib")).unwrap(), json("plugins/x.dylib", None, true));
    assert_eq!(parse_spec(Some("readers/module.py:Class")).unwrap(), json("readers/module.py", Some("Class"), false));
    assert_eq!(parse_spec(Some(r"C:\p\x.dll:init")).unwrap(), json(r"C:\p\x.dll", Some("init"), true));

    let (status, text) = parse_spec(Some("lib.so:a-b")).unwrap_err();
    assert_eq!(status, DATIVO_STATUS_CONFIG);
    assert_eq!(text, "plugin 'lib.so:a-b': 'a-b' is not a valid symbol or class name (expected path/to/lib.so:symbol)");
    assert_eq!(
        parse_spec(None).unwrap_err(),
        (DATIVO_STATUS_INVALID_ARGUMENT, "dativo_plugin_spec_parse: spec is NULL".into())
    );

    let mut error = DativoError::default();
    let status = unsafe { dativo_plugin_spec_parse(c"x.so".as_ptr(), ptr::null_mut(), &mut error) };
    assert_eq!(
        (status, message(&error)),
        (DATIVO_STATUS_INVALID_ARGUMENT, "dativo_plugin_spec_parse: out_json is NULL".into())
    );
    unsafe { dativo_string_free(ptr::null_mut()) }; // NULL is allowed
}
