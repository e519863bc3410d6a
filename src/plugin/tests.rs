//! The plugin host against plugins built in-process: the Rust SDK's init functions, and
//! hand-written entry functions that break the ABI in each way a real library could. Loading
//! from shared libraries is tested end to end in tests/plugins.rs.

use std::ffi::c_char;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow_array::{Int64Array, RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

use super::sdk::{init_reader, init_writer, parse_config, ReaderPlugin, WriterPlugin};
use super::*;
use dativo_abi::plugin_abi::*;
use dativo_abi::{DativoError, DativoStatus, DATIVO_STATUS_DATA, DATIVO_STATUS_IO, DATIVO_STATUS_OK};
use dativo_engine::parquet::CommittedFile;
use dativo_engine::{Error, Result};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]))
}

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from_iter_values(ids))]).unwrap()
}

/// Yields `rows` ids in batches of 10; with `fail_at`, a data error instead of that batch.
struct Numbers;

#[derive(serde::Deserialize)]
struct NumbersConfig {
    rows: i64,
    #[serde(default)]
    fail_at: Option<i64>,
    #[serde(default)]
    panic_in_open: bool,
}

impl ReaderPlugin for Numbers {
    fn open(&mut self, config: &str) -> Result<Box<dyn RecordBatchReader + Send>> {
        let config: NumbersConfig = parse_config(config)?;
        if config.panic_in_open {
            panic!("numbers cannot start");
        }
        let batches: Vec<std::result::Result<RecordBatch, ArrowError>> = (0..config.rows)
            .step_by(10)
            .map(|start| match config.fail_at {
                Some(at) if at >= start && at < start + 10 => {
                    Err(Error::Data(format!("row {at}: value 'x' is not an integer")).into())
                }
                _ => Ok(batch(start..(start + 10).min(config.rows))),
            })
            .collect();
        Ok(Box::new(RecordBatchIterator::new(batches, schema())))
    }
}

unsafe extern "C" fn numbers_init(v: u32, vt: *mut DativoPluginVTable, e: *mut DativoError) -> DativoStatus {
    init_reader(v, vt, e, "numbers", "1.2.3", || Numbers)
}

fn numbers() -> Plugin {
    Plugin::negotiate("numbers.so", |v, vt, e| unsafe { numbers_init(v, vt, e) }).unwrap()
}

fn ids(stream: PluginStream) -> Vec<i64> {
    stream
        .flat_map(|b| {
            let b = b.unwrap();
            b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()
        })
        .collect()
}

#[test]
fn a_sdk_reader_streams_its_batches_to_the_host() {
    let mut plugin = numbers();
    assert_eq!(plugin.kind(), PluginKind::Reader);
    assert_eq!((plugin.name(), plugin.version(), plugin.abi_version()), ("numbers", Some("1.2.3"), 1));
    let stream = plugin.open_reader(r#"{"rows": 25}"#, None).unwrap();
    assert_eq!(stream.schema(), schema());
    drop(plugin); // the stream outlives the plugin
    assert_eq!(ids(stream), (0..25).collect::<Vec<_>>());
}

#[test]
fn reader_errors_keep_their_kind_and_are_never_the_end_of_the_data() {
    let mut plugin = numbers();
    let e = plugin.open_reader(r#"{"rows": "many"}"#, None).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert!(e.to_string().starts_with("plugin 'numbers' (numbers.so): plugin config: invalid type"), "{e}");

    let mut stream = plugin.open_reader(r#"{"rows": 40, "fail_at": 23}"#, None).unwrap();
    assert_eq!(stream.next().unwrap().unwrap().num_rows(), 10);
    assert_eq!(stream.next().unwrap().unwrap().num_rows(), 10);
    let e = Error::from_arrow(stream.next().unwrap().unwrap_err());
    assert!(matches!(e, Error::Data(_)), "{e:?}");
    assert!(e.to_string().contains("row 23: value 'x' is not an integer"), "{e}");
    assert!(stream.next().is_none(), "no batch after an error");
}

#[test]
fn a_panicking_callback_is_a_plugin_error_not_a_crash() {
    let mut plugin = numbers();
    let e = plugin.open_reader(r#"{"rows": 1, "panic_in_open": true}"#, None).unwrap_err();
    assert!(matches!(e, Error::Plugin(_)), "{e:?}");
    assert!(e.to_string().contains("plugin 'numbers' panicked: numbers cannot start"), "{e}");
    // The plugin is still usable.
    assert_eq!(ids(plugin.open_reader(r#"{"rows": 3}"#, None).unwrap()), [0, 1, 2]);
}

/// Counts the rows it is given and "commits" one file per batch; fails on a batch with
/// id 13.
#[derive(Default)]
struct Counter;

impl WriterPlugin for Counter {
    fn write(&mut self, config: &str, input: &mut dyn RecordBatchReader) -> Result<Vec<CommittedFile>> {
        let prefix: String = parse_config::<serde_json::Value>(config)?["prefix"].as_str().unwrap_or("part").into();
        let mut files = Vec::new();
        for (i, b) in input.enumerate() {
            let b = b.map_err(Error::from_arrow)?;
            let col = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            if col.values().contains(&13) {
                return Err(Error::Io {
                    context: format!("cannot write {prefix}-{i}"),
                    source: std::io::Error::other("disk full"),
                });
            }
            files.push(CommittedFile { path: format!("{prefix}-{i}").into(), rows: b.num_rows() as u64, bytes: 8 });
        }
        Ok(files)
    }
}

fn counter() -> Plugin {
    Plugin::negotiate("counter.so", |v, vt, e| unsafe { init_writer(v, vt, e, "counter", "0.1", Counter::default) })
        .unwrap()
}

fn input(batches: Vec<RecordBatch>) -> Box<dyn RecordBatchReader + Send> {
    Box::new(RecordBatchIterator::new(batches.into_iter().map(Ok), schema()))
}

#[test]
fn a_sdk_writer_consumes_the_stream_and_reports_its_files() {
    let mut plugin = counter();
    assert_eq!(plugin.kind(), PluginKind::Writer);
    let files = plugin.write(r#"{"prefix": "p"}"#, input(vec![batch(0..5), batch(5..7)])).unwrap();
    let got: Vec<(String, u64)> = files.iter().map(|f| (f.path.display().to_string(), f.rows)).collect();
    assert_eq!(got, [("p-0".to_string(), 5), ("p-1".to_string(), 2)]);

    let e = plugin.write("{}", input(vec![batch(0..5), batch(10..15)])).unwrap_err();
    assert!(e.to_string().contains("cannot write part-1: disk full"), "{e}");

    // A failing input stream reaches the plugin as an error, which it returns.
    let failing: Box<dyn RecordBatchReader + Send> = Box::new(RecordBatchIterator::new(
        vec![Ok(batch(0..2)), Err(ArrowError::from(Error::Data("f.csv:9: bad".into())))],
        schema(),
    ));
    let e = plugin.write("{}", failing).unwrap_err();
    assert!(e.to_string().contains("f.csv:9: bad"), "{e}");
}

#[test]
fn kinds_are_checked() {
    let e = numbers().write("{}", input(vec![])).unwrap_err();
    assert!(e.to_string().contains("is a reader, not a writer"), "{e}");
    let e = counter().open_reader("{}", None).unwrap_err();
    assert!(e.to_string().contains("is a writer, not a reader"), "{e}");
}

// ---- entry functions that break the ABI ----

static RELEASES: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_release(vt: *mut DativoPluginVTable) {
    RELEASES.fetch_add(1, Ordering::SeqCst);
    (*vt).release = None;
}

unsafe extern "C" fn open_nothing(
    _: *mut DativoPluginVTable,
    _: *const c_char,
    _: *mut dativo_abi::ArrowArrayStream,
    _: *mut DativoError,
) -> DativoStatus {
    DATIVO_STATUS_OK // "succeeds" without writing a stream
}

/// A well-formed reader vtable whose fields `edit` then breaks.
fn init_with(
    edit: impl Fn(&mut DativoPluginVTable),
) -> impl Fn(u32, *mut DativoPluginVTable, *mut DativoError) -> DativoStatus {
    move |_, vt, _| {
        let vt = unsafe { &mut *vt };
        vt.size = DATIVO_PLUGIN_VTABLE_V1_SIZE;
        vt.kind = DATIVO_PLUGIN_READER;
        vt.name = c"broken".as_ptr();
        vt.open_reader = Some(open_nothing);
        vt.release = Some(count_release);
        edit(vt);
        DATIVO_STATUS_OK
    }
}

fn load_error(init: impl Fn(u32, *mut DativoPluginVTable, *mut DativoError) -> DativoStatus) -> String {
    let e = Plugin::negotiate("bad.so", init).unwrap_err();
    assert!(matches!(e, Error::Plugin(_)), "{e:?}");
    e.to_string()
}

#[test]
fn a_plugin_for_an_unknown_abi_version_is_refused_with_its_reason() {
    let asked = std::sync::Mutex::new(Vec::new());
    let e = load_error(|v, _, e| {
        asked.lock().unwrap().push(v);
        unsafe { dativo_abi::error::fill(e, "this plugin speaks ABI version 7 only") };
        dativo_abi::DATIVO_STATUS_PLUGIN
    });
    assert_eq!(*asked.lock().unwrap(), (1..=DATIVO_PLUGIN_ABI_VERSION).rev().collect::<Vec<_>>(), "newest first");
    assert!(e.contains("speaks none of the plugin ABI versions this dativo speaks (1 to 1)"), "{e}");
    assert!(e.contains("version 1: this plugin speaks ABI version 7 only"), "{e}");
}

#[test]
fn a_failing_init_is_reported_with_its_message() {
    let e = load_error(|_, _, e| {
        unsafe { dativo_abi::error::fill(e, "cannot reach the license server") };
        DATIVO_STATUS_IO
    });
    assert_eq!(e, "plugin bad.so: initialisation failed: cannot reach the license server");
}

#[test]
fn invalid_vtables_are_refused_and_released_when_trustworthy() {
    let before = RELEASES.load(Ordering::SeqCst);
    let e = load_error(init_with(|vt| vt.size = 24));
    assert!(
        e.contains(&format!("its vtable has size 24 but ABI version 1 needs {DATIVO_PLUGIN_VTABLE_V1_SIZE}")),
        "{e}"
    );
    assert_eq!(RELEASES.load(Ordering::SeqCst), before, "a vtable of the wrong size is not trusted to release");

    for (edit, why) in [
        (
            Box::new(|vt: &mut DativoPluginVTable| vt.kind = 3) as Box<dyn Fn(&mut DativoPluginVTable)>,
            "unknown plugin kind 3",
        ),
        (Box::new(|vt: &mut DativoPluginVTable| vt.name = std::ptr::null()), "its vtable has no name"),
        (
            Box::new(|vt: &mut DativoPluginVTable| vt.open_reader = None),
            "a reader plugin must set open_reader, which is NULL",
        ),
        (
            Box::new(|vt: &mut DativoPluginVTable| vt.kind = DATIVO_PLUGIN_WRITER),
            "a writer plugin must set write, which is NULL",
        ),
    ] {
        let before = RELEASES.load(Ordering::SeqCst);
        let e = load_error(init_with(edit));
        assert!(e.contains(why), "{e}");
        assert_eq!(RELEASES.load(Ordering::SeqCst), before + 1, "{why}: released once");
    }
}

#[test]
fn a_callback_that_returns_no_stream_is_an_error() {
    let before = RELEASES.load(Ordering::SeqCst);
    let mut plugin = Plugin::negotiate("bad.so", init_with(|_| {})).unwrap();
    let e = plugin.open_reader("{}", None).unwrap_err();
    assert!(e.to_string().contains("open_reader succeeded but returned no stream"), "{e}");
    drop(plugin);
    assert_eq!(RELEASES.load(Ordering::SeqCst), before + 1);
}

#[test]
fn load_policy_is_checked_before_any_code_runs() {
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("allowed");
    std::fs::create_dir(&allowed).unwrap();
    // Not a library at all: loading it would fail, so each error below proves that the
    // policy refused it first.
    let outside = dir.path().join("libx.so");
    std::fs::write(&outside, b"not a library").unwrap();
    let spec = PluginSpec::parse(outside.to_str().unwrap()).unwrap();

    let policy = LoadPolicy { allow_dir: Some(allowed.clone()), sha256: None };
    let e = Plugin::load(&spec, &policy).unwrap_err().to_string();
    assert!(e.contains("is outside the allowed plugin folder"), "{e}");

    let policy = LoadPolicy { sha256: Some("0".repeat(64)), allow_dir: None };
    let e = Plugin::load(&spec, &policy).unwrap_err().to_string();
    let actual = sha256_hex(&outside).unwrap();
    assert!(e.contains(&format!("its sha256 is {actual}, but the job pins {}", "0".repeat(64))), "{e}");

    let policy = LoadPolicy { sha256: Some(actual.to_uppercase()), allow_dir: Some(dir.path().into()) };
    let e = Plugin::load(&spec, &policy).unwrap_err().to_string();
    assert!(e.contains("not an ELF shared library"), "{e}");

    let e = Plugin::load(&PluginSpec::parse("missing/libnope.so").unwrap(), &LoadPolicy::default()).unwrap_err();
    assert!(e.to_string().contains("plugin missing/libnope.so: cannot open the library"), "{e}");
    let e = Plugin::load(&PluginSpec::parse("reader.py:Reader").unwrap(), &LoadPolicy::default()).unwrap_err();
    assert!(e.to_string().contains("Python plugins (module.py:Class) run through the Python package"), "{e}");
}

#[test]
fn sha256_matches_sha256sum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"abc").unwrap();
    assert_eq!(sha256_hex(&path).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

#[test]
fn data_errors_from_a_c_stream_keep_their_status() {
    // A sanity check of the mapping the host relies on.
    let e = dativo_abi::error::Failure::new(DATIVO_STATUS_DATA, "x.csv:3: bad").into_error("plugin 'p'");
    assert!(matches!(e, Error::Data(ref m) if m == "plugin 'p': x.csv:3: bad"), "{e:?}");
}
