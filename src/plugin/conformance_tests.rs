//! The conformance suite against plugins built in memory: a well-behaved reader and writer
//! pass every check, and for each check a plugin with exactly the defect it targets fails it
//! (for the reason it names). Every check runs in a forked child, so the crashing plugins
//! below crash only their child.

use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::ffi::FFI_ArrowArray;
use arrow_array::{Array, Int64Array, RecordBatch, RecordBatchIterator, StringArray, StructArray};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::conformance::{run, run_init, Options, Report, Verdict, CHECKS};
use dativo_abi::error::fill;
use dativo_abi::plugin_abi::*;
use dativo_abi::stream::{export, ImportedStream};
use dativo_abi::{
    ArrowArrayStream, DativoError, DativoStatus, DATIVO_STATUS_CONFIG, DATIVO_STATUS_DATA,
    DATIVO_STATUS_INVALID_ARGUMENT, DATIVO_STATUS_IO, DATIVO_STATUS_OK, DATIVO_STATUS_PLUGIN,
};
use dativo_engine::job::plugins::PluginSpec;

/// A real crash. (`raise` alone is not one: Rust's stack-overflow handler takes the first
/// SIGSEGV that is not a fault and returns.)
fn crash() {
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
}

/// The ways the fake plugin can break the ABI; all false is a conforming plugin.
#[derive(Clone, Default)]
struct Faults {
    accept_any_version: bool,
    refuse_with_io: bool,
    write_past_vtable: bool,
    release_keeps_itself: bool,
    release_crashes: bool,
    null_vtable_ok: bool,
    // readers
    open_fails: bool,
    open_no_stream: bool,
    no_last_error: bool,
    schema_fails: bool,
    schema_not_struct: bool,
    wrong_children: bool,
    invalid_data: bool,
    end_not_sticky: bool,
    stream_release_keeps_itself: bool,
    stream_needs_plugin: bool,
    get_next_crashes: bool,
    get_next_hangs: bool,
    bad_ends_clean: bool,
    bad_error_without_message: bool,
    bad_error_not_sticky: bool,
    bad_open_without_message: bool,
    null_config_ok: bool,
    null_config_crashes: bool,
    // writers
    write_keeps_stream: bool,
    write_fails_on_empty: bool,
    write_reads_one_batch: bool,
    write_wrong_rows: bool,
    write_missing_file: bool,
    write_ignores_stream_error: bool,
    write_leaves_file_on_error: bool,
    write_null_keeps_stream: bool,
}

/// What the vtable's private_data holds.
struct State {
    faults: Faults,
    released: Arc<AtomicBool>,
}

unsafe fn state<'a>(vt: *mut DativoPluginVTable) -> &'a State {
    &*(*vt).private_data.cast::<State>()
}

/// The entry function of a fake plugin of `kind` with `faults`; `edit` then changes the
/// vtable it filled.
fn fake(
    kind: u32,
    faults: Faults,
    edit: impl Fn(&mut DativoPluginVTable),
) -> impl Fn(u32, *mut DativoPluginVTable, *mut DativoError) -> DativoStatus {
    move |version, vt, error| unsafe {
        if version != 1 && !faults.accept_any_version {
            fill(error, &format!("fake speaks version 1, not {version}"));
            return if faults.refuse_with_io { DATIVO_STATUS_IO } else { DATIVO_STATUS_PLUGIN };
        }
        if vt.is_null() {
            if faults.null_vtable_ok {
                return DATIVO_STATUS_OK;
            }
            fill(error, "vtable is NULL");
            return DATIVO_STATUS_INVALID_ARGUMENT;
        }
        let v = &mut *vt;
        v.size = DATIVO_PLUGIN_VTABLE_V1_SIZE;
        v.kind = kind;
        v.name = c"fake".as_ptr();
        v.version = c"1.0".as_ptr();
        if kind == DATIVO_PLUGIN_WRITER {
            v.write = Some(fake_write);
        } else {
            v.open_reader = Some(fake_open);
        }
        v.release = Some(fake_release);
        let state = State { faults: faults.clone(), released: Arc::new(AtomicBool::new(false)) };
        v.private_data = Box::into_raw(Box::new(state)).cast();
        if faults.write_past_vtable {
            *vt.cast::<u8>().add(std::mem::size_of::<DativoPluginVTable>() + 3) = 0;
        }
        edit(v);
        DATIVO_STATUS_OK
    }
}

unsafe extern "C" fn fake_release(vt: *mut DativoPluginVTable) {
    let state = Box::from_raw((*vt).private_data.cast::<State>());
    if state.faults.release_crashes {
        crash();
    }
    state.released.store(true, Ordering::SeqCst);
    (*vt).private_data = std::ptr::null_mut();
    if !state.faults.release_keeps_itself {
        (*vt).release = None;
    }
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("label", DataType::Utf8, true)]))
}

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let labels: StringArray = ids.clone().map(|i| Some(format!("row-{i}"))).collect();
    RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from_iter_values(ids)), Arc::new(labels)]).unwrap()
}

/// How a fake stream behaves for a bad config.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Good,
    /// The bad config: fails on its first get_next.
    Failing,
    /// The bad config, read as an empty stream.
    CleanEnd,
}

struct FakeStream {
    inner: ArrowArrayStream,
    faults: Faults,
    released: Arc<AtomicBool>,
    mode: Mode,
    ended: bool,
    errors: usize,
    last_error: Option<&'static CStr>,
}

unsafe extern "C" fn fake_open(
    vt: *mut DativoPluginVTable,
    config: *const c_char,
    out: *mut ArrowArrayStream,
    error: *mut DativoError,
) -> DativoStatus {
    let State { faults, released } = state(vt);
    if config.is_null() {
        if faults.null_config_crashes {
            crash();
        }
        if faults.null_config_ok {
            return DATIVO_STATUS_OK;
        }
        fill(error, "config_json is NULL");
        return DATIVO_STATUS_INVALID_ARGUMENT;
    }
    let bad = CStr::from_ptr(config).to_string_lossy().contains("bad");
    if faults.open_fails {
        fill(error, "fake: cannot open");
        return DATIVO_STATUS_CONFIG;
    }
    if faults.open_no_stream {
        return DATIVO_STATUS_OK;
    }
    let mode = match bad {
        false => Mode::Good,
        true if faults.bad_ends_clean => Mode::CleanEnd,
        true if faults.bad_error_without_message || faults.bad_error_not_sticky => Mode::Failing,
        true if faults.bad_open_without_message => return DATIVO_STATUS_CONFIG,
        true => {
            fill(error, "fake: the file is missing");
            return DATIVO_STATUS_IO;
        }
    };
    let batches = if mode == Mode::CleanEnd { vec![] } else { vec![Ok(batch(0..3)), Ok(batch(3..5))] };
    let mut inner = ArrowArrayStream::empty();
    export(Box::new(RecordBatchIterator::new(batches, schema())), &mut inner);
    let private = Box::new(FakeStream {
        inner,
        faults: faults.clone(),
        released: released.clone(),
        mode,
        ended: false,
        errors: 0,
        last_error: None,
    });
    std::ptr::write(
        out,
        ArrowArrayStream {
            get_schema: Some(fake_get_schema),
            get_next: Some(fake_get_next),
            get_last_error: if faults.no_last_error { None } else { Some(fake_last_error) },
            release: Some(fake_stream_release),
            private_data: Box::into_raw(private).cast::<c_void>(),
        },
    );
    DATIVO_STATUS_OK
}

unsafe fn fake_stream<'a>(stream: *mut ArrowArrayStream) -> &'a mut FakeStream {
    &mut *(*stream).private_data.cast::<FakeStream>()
}

unsafe extern "C" fn fake_get_schema(stream: *mut ArrowArrayStream, out: *mut FFI_ArrowSchema) -> i32 {
    let s = fake_stream(stream);
    if s.faults.schema_fails {
        s.last_error = Some(c"fake: no schema today");
        return libc::EIO;
    }
    if s.faults.schema_not_struct {
        std::ptr::write(out, FFI_ArrowSchema::try_from(&DataType::Int64).unwrap());
        return 0;
    }
    (s.inner.get_schema.unwrap())(&mut s.inner, out)
}

unsafe extern "C" fn fake_get_next(stream: *mut ArrowArrayStream, out: *mut FFI_ArrowArray) -> i32 {
    let s = fake_stream(stream);
    if s.faults.get_next_crashes {
        crash();
    }
    if s.faults.get_next_hangs {
        std::thread::sleep(Duration::from_secs(3600));
    }
    if s.faults.stream_needs_plugin && s.released.load(Ordering::SeqCst) {
        s.last_error = Some(c"fake: the plugin is gone");
        return libc::EIO;
    }
    if s.mode == Mode::Failing {
        s.errors += 1;
        if s.faults.bad_error_not_sticky && s.errors > 1 {
            std::ptr::write(out, FFI_ArrowArray::empty());
            return 0;
        }
        if !s.faults.bad_error_without_message {
            s.last_error = Some(c"fake: the file is missing");
        }
        return libc::EIO;
    }
    if s.ended {
        if s.faults.end_not_sticky {
            std::ptr::write(out, FFI_ArrowArray::new(&StructArray::from(batch(0..1)).into_data()));
            return 0;
        }
        std::ptr::write(out, FFI_ArrowArray::empty());
        return 0;
    }
    let code = (s.inner.get_next.unwrap())(&mut s.inner, out);
    if code != 0 || (*out).is_released() {
        s.ended = code == 0;
        return code;
    }
    if s.faults.wrong_children {
        drop(std::ptr::read(out));
        let three = RecordBatch::try_from_iter([
            ("a", Arc::new(Int64Array::from(vec![1])) as _),
            ("b", Arc::new(Int64Array::from(vec![2])) as _),
            ("c", Arc::new(Int64Array::from(vec![3])) as _),
        ])
        .unwrap();
        std::ptr::write(out, FFI_ArrowArray::new(&StructArray::from(three).into_data()));
    }
    if s.faults.invalid_data {
        drop(std::ptr::read(out));
        // Offsets that go backwards: the label column is not valid UTF-8 array data.
        let labels = arrow_data::ArrayData::builder(DataType::Utf8)
            .len(2)
            .add_buffer(arrow_buffer::Buffer::from_slice_ref([0i32, 3, 1]))
            .add_buffer(arrow_buffer::Buffer::from_slice_ref(b"abc"))
            .build_unchecked();
        let ids = Int64Array::from(vec![1, 2]).into_data();
        let data = arrow_data::ArrayData::builder(DataType::Struct(schema().fields().clone()))
            .len(2)
            .child_data(vec![ids, labels])
            .build_unchecked();
        std::ptr::write(out, FFI_ArrowArray::new(&data));
    }
    0
}

unsafe extern "C" fn fake_last_error(stream: *mut ArrowArrayStream) -> *const c_char {
    match fake_stream(stream).last_error {
        Some(text) => text.as_ptr(),
        None => std::ptr::null(),
    }
}

unsafe extern "C" fn fake_stream_release(stream: *mut ArrowArrayStream) {
    let private = Box::from_raw((*stream).private_data.cast::<FakeStream>());
    let keeps = private.faults.stream_release_keeps_itself;
    drop(private);
    (*stream).private_data = std::ptr::null_mut();
    if !keeps {
        (*stream).release = None;
    }
}

unsafe extern "C" fn fake_write(
    vt: *mut DativoPluginVTable,
    config: *const c_char,
    stream: *mut ArrowArrayStream,
    files: *mut DativoFileSink,
    error: *mut DativoError,
) -> DativoStatus {
    let faults = &state(vt).faults;
    if config.is_null() {
        if faults.null_config_ok {
            return DATIVO_STATUS_OK;
        }
        if !faults.write_null_keeps_stream {
            drop(ImportedStream::take(stream, "stream"));
        }
        fill(error, "config_json is NULL");
        return DATIVO_STATUS_INVALID_ARGUMENT;
    }
    if faults.write_keeps_stream {
        return DATIVO_STATUS_OK;
    }
    let config: serde_json::Value = serde_json::from_str(CStr::from_ptr(config).to_str().unwrap()).unwrap();
    let out = std::path::PathBuf::from(config["output_base"].as_str().unwrap());
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join("part-0.dat");
    if faults.write_leaves_file_on_error {
        std::fs::write(&path, b"partial").unwrap();
    }
    let mut input = match ImportedStream::take(stream, "stream") {
        Ok(input) => input,
        Err(f) => {
            fill(error, &f.message);
            return f.status;
        }
    };
    let mut rows = 0;
    while let Some(next) = input.next_batch() {
        match next {
            Ok(b) => rows += b.num_rows() as u64,
            Err(_) if faults.write_ignores_stream_error => break,
            Err(f) => {
                fill(error, &format!("fake: {}", f.message));
                return DATIVO_STATUS_DATA;
            }
        }
        if faults.write_reads_one_batch {
            break;
        }
    }
    if rows == 0 && faults.write_fails_on_empty {
        fill(error, "fake: nothing to write");
        return DATIVO_STATUS_DATA;
    }
    let content = format!("rows={rows}");
    std::fs::write(&path, &content).unwrap();
    let reported = if faults.write_missing_file { out.join("elsewhere.dat") } else { path };
    let reported = std::ffi::CString::new(reported.display().to_string()).unwrap();
    let rows = if faults.write_wrong_rows { rows + 1 } else { rows };
    ((*files).add.unwrap())(files, reported.as_ptr(), rows, content.len() as u64);
    DATIVO_STATUS_OK
}

fn options() -> Options {
    Options {
        config: Some("{}".into()),
        bad_config: Some(r#"{"bad": true}"#.into()),
        timeout: Duration::from_secs(30),
        ..Options::default()
    }
}

fn test(kind: u32, faults: Faults, edit: impl Fn(&mut DativoPluginVTable)) -> Report {
    let init = fake(kind, faults, edit);
    run_init("fake", &init, &options())
}

fn verdicts(report: &Report, verdict: Verdict) -> Vec<&str> {
    report.checks.iter().filter(|c| c.verdict == verdict).map(|c| c.name).collect()
}

const READER: u32 = DATIVO_PLUGIN_READER;
const WRITER: u32 = DATIVO_PLUGIN_WRITER;

#[test]
fn a_conforming_reader_and_writer_pass_every_check_that_applies() {
    let reader = test(READER, Faults::default(), |_| {});
    assert!(reader.ok(), "{reader}");
    let names: Vec<&str> = reader.checks.iter().map(|c| c.name).collect();
    assert_eq!(names, CHECKS.iter().map(|(n, _)| *n).collect::<Vec<_>>(), "every check, in order");
    assert_eq!(
        verdicts(&reader, Verdict::Skip),
        ["library.opens", "writer.empty_stream", "writer.small_stream", "writer.stream_error", "writer.null_config"]
    );
    assert!(reader.check("reader.batches").unwrap().detail.contains("2 batch(es), 5 row(s)"), "{reader}");

    let writer = test(WRITER, Faults::default(), |_| {});
    assert!(writer.ok(), "{writer}");
    assert_eq!(writer.skipped(), 9, "{writer}");
    assert!(writer.check("writer.small_stream").unwrap().detail.contains("5 rows"), "{writer}");
    let text = writer.to_string();
    assert!(text.lines().any(|l| l.starts_with("PASS  writer.small_stream ")), "{text}");
    assert!(text.ends_with(&format!("{} passed, 0 failed, 9 skipped\n", writer.passed())), "{text}");
}

/// Each row: the check, the plugin kind, its defect, and what the failure must say.
#[test]
fn every_check_fails_on_the_defect_it_targets() {
    type Edit = Box<dyn Fn(&mut DativoPluginVTable)>;
    let none = || -> Edit { Box::new(|_| {}) };
    let f = Faults::default;
    let cases: Vec<(&str, u32, Faults, Edit, &str)> = vec![
        (
            "abi.refuses_unknown_versions",
            READER,
            Faults { accept_any_version: true, ..f() },
            none(),
            "accepted ABI version 0",
        ),
        ("vtable.size", READER, f(), Box::new(|vt| vt.size = 24), "size is 24 but ABI version 1 needs"),
        ("vtable.bounds", READER, Faults { write_past_vtable: true, ..f() }, none(), "past the end"),
        ("vtable.kind", READER, f(), Box::new(|vt| vt.kind = 3), "unknown kind 3"),
        ("vtable.name", READER, f(), Box::new(|vt| vt.name = std::ptr::null()), "name is NULL"),
        ("vtable.name", READER, f(), Box::new(|vt| vt.name = c"".as_ptr()), "name is empty"),
        ("vtable.name", READER, f(), Box::new(|vt| vt.name = c"\xff\xfe".as_ptr()), "not valid UTF-8"),
        ("vtable.version", READER, f(), Box::new(|vt| vt.version = c"\xff".as_ptr()), "not valid UTF-8"),
        ("vtable.functions", READER, f(), Box::new(|vt| vt.open_reader = None), "must set open_reader"),
        ("vtable.functions", READER, f(), Box::new(|vt| vt.write = Some(fake_write)), "must leave write NULL"),
        (
            "vtable.functions",
            WRITER,
            f(),
            Box::new(|vt| vt.open_reader = Some(fake_open)),
            "must leave open_reader NULL",
        ),
        ("vtable.release", READER, f(), Box::new(|vt| vt.release = None), "private_data is set"),
        ("vtable.release_twice", READER, Faults { release_keeps_itself: true, ..f() }, none(), "would free twice"),
        ("vtable.release_twice", WRITER, Faults { release_crashes: true, ..f() }, none(), "crashed with signal"),
        ("init.null_vtable", READER, Faults { null_vtable_ok: true, ..f() }, none(), "OK for a NULL vtable"),
        ("reader.open", READER, Faults { open_fails: true, ..f() }, none(), "fake: cannot open"),
        ("reader.open", READER, Faults { open_no_stream: true, ..f() }, none(), "but no stream"),
        ("reader.open", READER, Faults { no_last_error: true, ..f() }, none(), "no get_last_error"),
        ("reader.schema", READER, Faults { schema_fails: true, ..f() }, none(), "no schema today"),
        ("reader.schema", READER, Faults { schema_not_struct: true, ..f() }, none(), "format 'l'"),
        (
            "reader.batches",
            READER,
            Faults { wrong_children: true, ..f() },
            none(),
            "does not match the stream's schema",
        ),
        ("reader.batches", READER, Faults { invalid_data: true, ..f() }, none(), "not valid Arrow data"),
        (
            "reader.batches",
            READER,
            Faults { get_next_crashes: true, ..f() },
            none(),
            "crashed with signal 11 (SIGSEGV)",
        ),
        ("reader.end_is_sticky", READER, Faults { end_not_sticky: true, ..f() }, none(), "the end must be sticky"),
        ("reader.release_twice", READER, Faults { stream_release_keeps_itself: true, ..f() }, none(), "free twice"),
        ("reader.outlives_plugin", READER, Faults { stream_needs_plugin: true, ..f() }, none(), "the plugin is gone"),
        ("reader.error", READER, Faults { bad_ends_clean: true, ..f() }, none(), "never look like the end"),
        ("reader.error", READER, Faults { bad_error_without_message: true, ..f() }, none(), "get_last_error"),
        ("reader.error", READER, Faults { bad_error_not_sticky: true, ..f() }, none(), "the error looked like the end"),
        ("reader.error", READER, Faults { bad_open_without_message: true, ..f() }, none(), "without a message"),
        ("reader.null_config", READER, Faults { null_config_ok: true, ..f() }, none(), "OK for a NULL config"),
        ("reader.null_config", READER, Faults { null_config_crashes: true, ..f() }, none(), "crashed with signal 11"),
        ("writer.empty_stream", WRITER, Faults { write_fails_on_empty: true, ..f() }, none(), "must accept an empty"),
        (
            "writer.empty_stream",
            WRITER,
            Faults { write_keeps_stream: true, ..f() },
            none(),
            "without releasing the stream",
        ),
        (
            "writer.small_stream",
            WRITER,
            Faults { write_reads_one_batch: true, ..f() },
            none(),
            "without reading its stream",
        ),
        ("writer.small_stream", WRITER, Faults { write_wrong_rows: true, ..f() }, none(), "reported 6 row(s)"),
        ("writer.small_stream", WRITER, Faults { write_missing_file: true, ..f() }, none(), "cannot be read"),
        (
            "writer.stream_error",
            WRITER,
            Faults { write_ignores_stream_error: true, ..f() },
            none(),
            "although its stream failed",
        ),
        ("writer.stream_error", WRITER, Faults { write_leaves_file_on_error: true, ..f() }, none(), "are visible"),
        ("writer.null_config", WRITER, Faults { null_config_ok: true, ..f() }, none(), "OK for a NULL config"),
        (
            "writer.null_config",
            WRITER,
            Faults { write_null_keeps_stream: true, ..f() },
            none(),
            "left the stream unreleased",
        ),
    ];
    let mut covered = std::collections::HashSet::new();
    for (check, kind, faults, edit, why) in cases {
        let report = test(kind, faults, edit);
        let found = report.check(check).unwrap();
        assert_eq!(found.verdict, Verdict::Fail, "{check} should fail ({why}):\n{report}");
        assert!(found.detail.contains(why), "{check}: {:?} lacks {why:?}", found.detail);
        assert!(!report.ok());
        assert_eq!(report.checks.len(), CHECKS.len(), "the report goes on after a failure:\n{report}");
        covered.insert(check);
    }
    // library.opens and abi.negotiates are shown to fail by the tests below.
    for (name, _) in CHECKS {
        assert!(covered.contains(name) || ["library.opens", "abi.negotiates"].contains(name), "{name} untested");
    }
}

#[test]
fn a_plugin_that_speaks_no_version_fails_negotiation_and_the_rest_is_skipped() {
    for faults in [Faults::default(), Faults { refuse_with_io: true, ..Faults::default() }] {
        let init = |v, vt, e| {
            let inner = fake(READER, faults.clone(), |_| {});
            inner(v + 1, vt, e) // asks itself for a version that is never 1
        };
        let report = run_init("fake", &init, &options());
        let check = report.check("abi.negotiates").unwrap();
        assert_eq!(check.verdict, Verdict::Fail, "{report}");
        assert!(check.detail.contains("fake speaks version 1, not 2"), "{report}");
        assert_eq!(report.failed(), 1, "{report}");
        assert_eq!(report.skipped(), CHECKS.len() - 1, "{report}");
    }
}

#[test]
fn a_crash_in_init_fails_negotiation_instead_of_killing_the_report() {
    let init = |_, _, _| -> DativoStatus {
        crash();
        DATIVO_STATUS_OK
    };
    let report = run_init("fake", &init, &options());
    let check = report.check("abi.negotiates").unwrap();
    assert_eq!((check.verdict, check.detail.as_str()), (Verdict::Fail, "crashed with signal 11 (SIGSEGV)"));
}

#[test]
fn a_hanging_plugin_fails_its_check_after_the_timeout() {
    let init = fake(READER, Faults { get_next_hangs: true, ..Faults::default() }, |_| {});
    let report = run_init("fake", &init, &Options { timeout: Duration::from_millis(500), ..options() });
    let check = report.check("reader.batches").unwrap();
    assert_eq!(check.verdict, Verdict::Fail, "{report}");
    assert!(check.detail.starts_with("did not finish within 0.5 s"), "{report}");
}

#[test]
fn a_library_that_does_not_open_fails_the_first_check_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_library = dir.path().join("libfake.so");
    std::fs::write(&not_a_library, b"not a library").unwrap();
    let spec = PluginSpec::parse(not_a_library.to_str().unwrap()).unwrap();
    let report = run(&spec, &options());
    let check = report.check("library.opens").unwrap();
    assert_eq!(check.verdict, Verdict::Fail, "{report}");
    // Refused by the host's own checks, before the loader sees it.
    assert!(check.detail.contains("not an ELF shared library: it does not start with the ELF magic"), "{report}");
    assert_eq!((report.failed(), report.skipped()), (1, CHECKS.len() - 1), "{report}");

    let pinned = Options { policy: crate::LoadPolicy { sha256: Some("0".repeat(64)), allow_dir: None }, ..options() };
    let check = run(&spec, &pinned).check("library.opens").unwrap().clone();
    assert!(check.detail.contains("but the job pins 000"), "{check:?}");

    let missing = PluginSpec::parse(dir.path().join("libnope.so").to_str().unwrap()).unwrap();
    let check = run(&missing, &options()).check("library.opens").unwrap().clone();
    assert!(check.detail.contains("cannot open the library"), "{check:?}");
    let python = PluginSpec::parse("reader.py:Reader").unwrap();
    let check = run(&python, &options()).check("library.opens").unwrap().clone();
    assert!(check.detail.contains("not a native library"), "{check:?}");
}

#[test]
fn without_a_bad_config_the_error_check_is_skipped() {
    let init = fake(READER, Faults::default(), |_| {});
    let report = run_init("fake", &init, &Options { bad_config: None, ..options() });
    let check = report.check("reader.error").unwrap();
    assert_eq!(check.verdict, Verdict::Skip);
    assert!(check.detail.contains("--bad-config"), "{check:?}");
}

#[test]
fn in_process_runs_give_the_same_verdicts() {
    let init = fake(READER, Faults { end_not_sticky: true, ..Faults::default() }, |_| {});
    let report = run_init("fake", &init, &Options { isolate: false, ..options() });
    assert_eq!(verdicts(&report, Verdict::Fail), ["reader.end_is_sticky"], "{report}");
}

#[test]
fn the_sdk_plugins_conform() {
    use crate::sdk::{init_reader, init_writer, ReaderPlugin, WriterPlugin};
    struct R;
    impl ReaderPlugin for R {
        fn open(&mut self, config: &str) -> crate::Result<Box<dyn arrow_array::RecordBatchReader + Send>> {
            if config.contains("bad") {
                return Err(crate::Error::Config("bad config".into()));
            }
            Ok(Box::new(RecordBatchIterator::new(vec![Ok(batch(0..4))], schema())))
        }
    }
    struct W;
    impl WriterPlugin for W {
        fn write(
            &mut self,
            _: &str,
            input: &mut dyn arrow_array::RecordBatchReader,
        ) -> crate::Result<Vec<dativo_engine::parquet::CommittedFile>> {
            for b in input {
                b.map_err(crate::Error::from_arrow)?;
            }
            Ok(vec![])
        }
    }
    let reader = |v, vt, e| unsafe { init_reader(v, vt, e, "r", "1", || R) };
    assert!(run_init("sdk reader", &reader, &options()).ok());
    let writer = |v, vt, e| unsafe { init_writer(v, vt, e, "w", "1", || W) };
    let report = run_init("sdk writer", &writer, &options());
    // Reports no file for its rows: the suite notices.
    assert_eq!(verdicts(&report, Verdict::Fail), ["writer.small_stream"], "{report}");
    assert!(report.check("writer.small_stream").unwrap().detail.contains("reported 0 row(s)"), "{report}");
}
