//! Fuzz harnesses shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and the ordinary
//! replay test (`tests/fuzz_corpus.rs`). Plain Rust, no libfuzzer dependency: each function
//! takes the fuzzer's bytes and exercises one part of the engine. Errors are fine; a panic (or
//! a `DATIVO_STATUS_INTERNAL`, which is a panic caught at the C boundary) is a finding.

#![allow(dead_code)]

use std::ffi::{c_char, CStr, CString};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::ptr;

use arrow_array::ffi::FFI_ArrowArray;
use arrow_schema::ffi::FFI_ArrowSchema;
use dativo::csv::*;
use dativo::parquet::*;
use dativo::status::dativo_status_from_stream;
use dativo::{ArrowArrayStream, DativoError, DativoStatus, DATIVO_STATUS_INTERNAL, DATIVO_STATUS_OK};
use dativo_engine::csv::{CsvOptions, CsvReader, Encoding, OnError};

/// Longest input any harness looks at; longer inputs are cut (keeps every run fast).
pub const MAX_INPUT: usize = 16 * 1024;

/// Reads bytes off the front of the input; past the end it yields zeros.
struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// 1. CSV reader
// ---------------------------------------------------------------------------------------------

/// Number of leading bytes that choose the reader options in [`csv_reader`].
pub const CSV_OPTION_BYTES: usize = 6;

/// Reader options chosen by the first [`CSV_OPTION_BYTES`] bytes.
pub fn csv_options_from(b: &[u8; CSV_OPTION_BYTES]) -> CsvOptions {
    const DELIMITERS: [u8; 7] = [b',', b';', b'\t', b'|', b' ', b'"', b'\\'];
    let flags = b[1];
    let delimiter = match b[0] {
        // Mostly common delimiters, sometimes any byte (even a line break: must be refused).
        x if x < 200 => DELIMITERS[x as usize % DELIMITERS.len()],
        x => x,
    };
    CsvOptions {
        delimiter: Some(vec![delimiter]),
        quote: Some((flags & 1 == 0).then_some(b'"')),
        escape: Some((flags & 2 != 0).then_some(b'\\')),
        has_header: Some(flags & 4 == 0),
        on_error: if flags & 8 == 0 { OnError::Fail } else { OnError::Skip },
        comment: (flags & 16 != 0).then_some(b'#'),
        null_values: if flags & 32 == 0 { vec![String::new()] } else { vec![String::new(), "NA".into()] },
        skip_rows: if flags & 64 == 0 { 0 } else { 1 },
        threads: if flags & 128 == 0 { 1 } else { 2 },
        encoding: [Encoding::Auto, Encoding::Utf8, Encoding::Utf16Le, Encoding::Latin1][b[2] as usize % 4],
        batch_size: 1 + b[3] as usize % 16,
        // Small limits, so that a "line too long" happens often; 0 (refused) included.
        max_line_bytes: match b[4] {
            255 => 16 * 1024 * 1024,
            x => x as usize,
        },
        infer_sample_rows: 1 + b[5] as usize % 50,
        ..CsvOptions::default()
    }
}

/// Read `data` (options from its first bytes) to the end. Must never panic or hang.
pub fn csv_reader(data: &[u8]) {
    let data = &data[..data.len().min(MAX_INPUT)];
    if data.len() < CSV_OPTION_BYTES {
        return;
    }
    let (head, body) = data.split_at(CSV_OPTION_BYTES);
    let options = csv_options_from(head.try_into().unwrap());
    let reader = match CsvReader::from_reader("fuzz.csv", Box::new(Cursor::new(body.to_vec())), options) {
        Ok(reader) => reader,
        Err(e) => {
            check_engine_error(&e);
            return;
        }
    };
    let schema = reader.schema();
    let mut rows = 0usize;
    for batch in reader {
        match batch {
            Ok(batch) => {
                assert_eq!(batch.schema().fields().len(), schema.fields().len(), "a batch has the reader's columns");
                assert!(batch.num_rows() > 0, "the reader never hands out an empty batch");
                rows += batch.num_rows();
                assert!(rows <= body.len() + 1, "more rows ({rows}) than input bytes ({})", body.len());
            }
            Err(e) => {
                check_engine_error(&e);
                // After an error the reader may stop or go on; it must not loop forever, which
                // the rows bound above and the caller's time limit catch.
            }
        }
    }
}

/// An engine error is fine unless it reports a bug (a panic behind it), or says nothing.
fn check_engine_error(e: &dativo_engine::Error) {
    let text = e.to_string();
    assert!(!text.trim().is_empty(), "an error without a message: {e:?}");
    assert!(!matches!(e, dativo_engine::Error::Internal(_)), "internal error (a bug in dativo): {text}");
}

// ---------------------------------------------------------------------------------------------
// 2. Job config parser
// ---------------------------------------------------------------------------------------------

/// The fixed variable lookup of [`job_config`]: some names have values, the others are unset.
pub fn job_lookup(name: &str) -> Option<String> {
    Some(
        match name {
            "HOME" => "/home/fuzz",
            "DATA_DIR" => "data",
            "OUT" => "out",
            "SECRET" | "PASSWORD" | "TOKEN" => "s3cr3t-value",
            "EMPTY" => "",
            "YAML" => "a: [1, 2]\nb: {c: d}",
            "QUOTES" => "\"'\\",
            "VAR" => "${VAR}",
            _ => return None,
        }
        .to_string(),
    )
}

/// Parse `data` as a job file. Must never panic (or hang, or blow up memory).
pub fn job_config(data: &[u8]) {
    let data = &data[..data.len().min(MAX_INPUT)];
    let text = String::from_utf8_lossy(data);
    if let Err(e) = dativo_engine::job::Job::from_text(&text, Path::new("fuzz.yaml"), job_lookup) {
        check_engine_error(&e);
    }
}

// ---------------------------------------------------------------------------------------------
// 2b. Hostile job YAML: nesting far past the limit, from a few bytes
// ---------------------------------------------------------------------------------------------

/// What [`job_yaml_depth`] nests: flow collections (`[`, `{a: `, `{`, `[a, `), a quoted or
/// commented opener (which opens nothing), and block mappings and sequences (one per line).
const DEPTH_OPENERS: [&str; 8] = ["[", "{a: ", "{", "[a, ", "'[", "# [", "k:\n", "- "];

/// A job whose `source.description` nests `DEPTH_OPENERS[data[2] % 8]` repeated
/// `u16(data[0..2])` times (up to 65,535 levels), then the rest of the input (at most 256
/// bytes). Must never panic or take long (the YAML parser's time grows with the square of the
/// depth), and a flow nesting past 64 levels must be refused by the depth check.
pub fn job_yaml_depth(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let levels = u16::from_le_bytes([data[0], data[1]]) as usize;
    let kind = data[2] as usize % DEPTH_OPENERS.len();
    let opener = DEPTH_OPENERS[kind];
    let tail = String::from_utf8_lossy(&data[3..data.len().min(3 + 256)]);
    let mut text = String::from("source:\n  type: csv\n  files: [a.csv]\n  description:");
    match opener {
        "k:\n" | "- " => {
            // Block nesting: each level one line, indented one more (at most 500 levels: the
            // text grows with the square of the depth).
            let levels = levels.min(500);
            text.push('\n');
            for i in 0..levels {
                text.push_str(&" ".repeat(4 + i));
                text.push_str(if opener == "k:\n" { "k:\n" } else { "- " });
                if opener == "- " {
                    text.push('\n');
                }
            }
            text.push_str(&" ".repeat(4 + levels));
        }
        _ => {
            text.push(' ');
            text.push_str(&opener.repeat(levels));
        }
    }
    text.push_str(&tail);
    text.push_str("\ntarget: {output_base: out}\n");
    match dativo_engine::job::Job::from_text(&text, Path::new("deep.yaml"), job_lookup) {
        Ok(_) => assert!(levels <= 64 || kind >= 4, "{levels} levels of {opener:?} were accepted"),
        Err(e) => {
            check_engine_error(&e);
            if kind < 4 && levels > 64 {
                let message = e.to_string();
                assert!(
                    message.starts_with("deep.yaml: line 4: lists and mappings are nested more than 64 levels deep"),
                    "{levels} levels of {opener:?}: {message}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2c. Plugin library files: the check before the dynamic loader
// ---------------------------------------------------------------------------------------------

/// Feed `data` as a plugin library file to the pre-load check (`dativo_plugin::elf`),
/// for this process and for other classes, byte orders, machines and formats; from a file as
/// well, which must give the same answer. Never loads it. Must never panic; a message, when
/// refused, is never empty.
pub fn plugin_file(data: &[u8]) {
    use dativo_plugin::elf::{check_bytes, check_file, Format, Target};
    let data = &data[..data.len().min(MAX_INPUT)];
    let host = Target::HOST;
    let others = [
        host,
        Target { bits64: !host.bits64, ..host },
        Target { little_endian: !host.little_endian, ..host },
        Target { machine: None, ..host },
        Target { machine: Some(183), ..host },
        Target { format: Format::MachO, ..host },
        Target { format: Format::Pe, ..host },
    ];
    for target in others {
        if let Err(why) = check_bytes(data, target) {
            assert!(!why.trim().is_empty(), "a refusal without a reason for {target:?}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libfuzz.so");
    std::fs::write(&path, data).unwrap();
    assert_eq!(check_file(&path), check_bytes(data, host), "the file and the bytes disagree");
}

// ---------------------------------------------------------------------------------------------
// 3. C API call sequences
// ---------------------------------------------------------------------------------------------

const SLOTS: usize = 2;
const MAX_OPS: usize = 48;

/// Handles of the C API the interpreter holds; everything still held is freed on drop.
struct Handles {
    dir: PathBuf,
    files: usize,
    readers: [*mut DativoCsvReader; SLOTS],
    streams: [Option<Box<ArrowArrayStream>>; SLOTS],
    schemas: [Option<Box<FFI_ArrowSchema>>; SLOTS],
    writers: [*mut DativoParquetWriter; SLOTS],
    lists: [*mut DativoFileList; SLOTS],
}

impl Drop for Handles {
    fn drop(&mut self) {
        unsafe {
            for r in &mut self.readers {
                dativo_csv_reader_free(std::mem::replace(r, ptr::null_mut()));
            }
            for w in &mut self.writers {
                dativo_parquet_writer_free(std::mem::replace(w, ptr::null_mut()));
            }
            for l in &mut self.lists {
                dativo_file_list_free(std::mem::replace(l, ptr::null_mut()));
            }
        }
        // Streams and schemas release themselves when dropped.
    }
}

/// The outcome of a fallible call: every failure has a message, success leaves `error` alone,
/// and no status is INTERNAL (a panic inside dativo).
fn check(what: &str, status: DativoStatus, error: &DativoError) {
    assert_ne!(status, DATIVO_STATUS_INTERNAL, "{what}: internal error (a bug in dativo)");
    if status == DATIVO_STATUS_OK {
        assert!(error.message.is_null(), "{what}: success but the error was filled");
        return;
    }
    assert!(!error.message.is_null(), "{what}: status {status} without a message");
    let text = unsafe { CStr::from_ptr(error.message) }.to_string_lossy().into_owned();
    assert!(!text.trim().is_empty(), "{what}: status {status} with an empty message");
    assert!(error.release.is_some(), "{what}: a filled error without release");
    assert_ne!(status, DATIVO_STATUS_INTERNAL, "{what}: internal error (a bug in dativo): {text}");
}

/// Reader options texts the interpreter picks from (index 0 means NULL).
fn reader_options(pick: u8, dir: &Path, input: &mut Bytes) -> Option<CString> {
    let fixed = [
        "",
        "{}",
        r#"{"delimiter": ";"}"#,
        r#"{"on_error": "skip", "batch_size": 1}"#,
        r#"{"batch_size": 2, "threads": 1, "infer_sample_rows": 1}"#,
        r#"{"encoding": "utf-16-le"}"#,
        r#"{"encoding": "latin-1", "header": false}"#,
        r#"{"max_line_bytes": 8, "on_error": "skip"}"#,
        r#"{"on_error": "reject"}"#,
        r#"{"quote": "", "escape": "\\"}"#,
        r##"{"null_values": ["", "NA"], "comment": "#", "skip_rows": 1}"##,
        r#"{"column_names": ["a", "b", "a"], "header": false}"#,
        "not json at all",
    ];
    let text = match pick % 16 {
        0 => return None,
        n if (n as usize) <= fixed.len() => fixed[n as usize - 1].to_string(),
        14 => format!(
            r#"{{"on_error": "reject", "rejects_path": {:?}, "batch_size": 1}}"#,
            dir.join("rejects.csv").display().to_string()
        ),
        _ => {
            let n = input.byte() as usize % 64;
            String::from_utf8_lossy(input.take(n)).into_owned()
        }
    };
    Some(CString::new(text.replace('\0', "")).unwrap())
}

fn writer_options(pick: u8, input: &mut Bytes) -> Option<CString> {
    let text = match pick % 8 {
        0 => return None,
        1 => "",
        2 => r#"{"compression": "zstd", "compression_level": 3}"#,
        3 => r#"{"compression": "bogus"}"#,
        4 => r#"{"row_group_size": 1, "max_rows_per_file": 2}"#,
        5 => r#"{"statistics": false, "compression": "snappy"}"#,
        6 => r#"{"row_group_size": 0}"#,
        _ => {
            let n = input.byte() as usize % 48;
            return Some(CString::new(String::from_utf8_lossy(input.take(n)).replace('\0', "")).unwrap());
        }
    };
    Some(CString::new(text).unwrap())
}

/// A raw pointer to the slot's value, or NULL when the slot is empty.
fn slot_ptr<T>(slot: &mut Option<Box<T>>) -> *mut T {
    slot.as_mut().map_or(ptr::null_mut(), |b| &mut **b as *mut T)
}

/// Run the C API call sequence encoded by `data`. Must never crash; every failure has a
/// message; the harness itself frees everything it got.
pub fn c_api(data: &[u8]) {
    let data = &data[..data.len().min(MAX_INPUT)];
    let dir = tempfile::tempdir().expect("temp dir");
    let mut h = Handles {
        dir: dir.path().to_path_buf(),
        files: 0,
        readers: [ptr::null_mut(); SLOTS],
        streams: [None, None],
        schemas: [None, None],
        writers: [ptr::null_mut(); SLOTS],
        lists: [ptr::null_mut(); SLOTS],
    };
    let mut input = Bytes { data };
    let mut ops = 0;
    while !input.is_empty() && ops < MAX_OPS {
        ops += 1;
        let op = input.byte();
        let arg = input.byte();
        let slot = (arg & 1) as usize;
        let null_error = arg & 0x80 != 0 && arg & 0x40 != 0;
        unsafe { step(&mut h, op % 16, arg, slot, null_error, &mut input) };
    }
    drop(h);
    drop(dir);
}

unsafe fn step(h: &mut Handles, op: u8, arg: u8, slot: usize, null_error: bool, input: &mut Bytes) {
    let mut error = DativoError::default();
    let e: *mut DativoError = if null_error { ptr::null_mut() } else { &mut error };
    // With a NULL error the caller asked for no details: only the status can be checked.
    let check = |what: &str, status: DativoStatus, error: &DativoError| {
        if null_error {
            assert_ne!(status, DATIVO_STATUS_INTERNAL, "{what}: internal error (a bug in dativo)");
        } else {
            check(what, status, error)
        }
    };
    match op {
        // Open a reader on a CSV made from the input (or a missing file, or NULL arguments).
        0 | 1 => {
            let len = input.byte() as usize;
            let content = input.take(len);
            h.files += 1;
            let path = h.dir.join(format!("in{}.csv", h.files));
            std::fs::write(&path, content).expect("write the CSV");
            let options = reader_options(input.byte(), &h.dir, input);
            let missing = h.dir.join("missing.csv");
            let p = CString::new(path.to_str().unwrap()).unwrap();
            let m = CString::new(missing.to_str().unwrap()).unwrap();
            let paths: Vec<*const c_char> = match arg >> 1 & 7 {
                0 => vec![m.as_ptr()],
                1 => vec![p.as_ptr(), p.as_ptr()],
                2 => vec![],
                3 => vec![p.as_ptr(), m.as_ptr()],
                _ => vec![p.as_ptr()],
            };
            let null_paths = arg >> 4 & 3 == 3;
            let null_out = arg >> 4 & 3 == 2 && arg & 0x20 != 0 && arg & 0x08 != 0;
            let mut out: *mut DativoCsvReader = ptr::null_mut();
            let status = dativo_csv_reader_open(
                if null_paths { ptr::null() } else { paths.as_ptr() },
                paths.len(),
                options.as_ref().map_or(ptr::null(), |o| o.as_ptr()),
                if null_out { ptr::null_mut() } else { &mut out },
                e,
            );
            check("dativo_csv_reader_open", status, &error);
            if status == DATIVO_STATUS_OK {
                assert!(!out.is_null(), "open succeeded without a reader");
                dativo_csv_reader_free(std::mem::replace(&mut h.readers[slot], out));
            } else {
                assert!(out.is_null(), "open failed but wrote the reader");
            }
        }
        // The reader's schema (possibly NULL reader / NULL out).
        2 => {
            let reader = if arg & 2 != 0 { ptr::null_mut() } else { h.readers[slot] };
            let mut schema = Box::new(FFI_ArrowSchema::empty());
            let out: *mut FFI_ArrowSchema = if arg & 4 != 0 { ptr::null_mut() } else { &mut *schema };
            let status = dativo_csv_reader_schema(reader, out, e);
            check("dativo_csv_reader_schema", status, &error);
            if status == DATIVO_STATUS_OK {
                h.schemas[slot] = Some(schema);
            }
        }
        // Take the stream.
        3 => {
            let reader = if arg & 2 != 0 { ptr::null_mut() } else { h.readers[slot] };
            let mut stream = Box::new(ArrowArrayStream::empty());
            let out: *mut ArrowArrayStream = if arg & 4 != 0 { ptr::null_mut() } else { &mut *stream };
            let status = dativo_csv_reader_stream(reader, out, e);
            check("dativo_csv_reader_stream", status, &error);
            if status == DATIVO_STATUS_OK {
                assert!(!stream.is_released(), "stream taken but released");
                h.streams[slot] = Some(stream);
            } else {
                assert!(stream.is_released(), "failed take wrote the stream");
            }
        }
        // get_next N times; a failure's status and message through dativo_status_from_stream.
        4 | 5 => {
            let n = 1 + (arg >> 1 & 7);
            let Some(stream) = h.streams[slot].as_mut() else { return };
            for _ in 0..n {
                if stream.is_released() {
                    return;
                }
                let mut array = FFI_ArrowArray::empty();
                let code = (stream.get_next.expect("get_next"))(&mut **stream, &mut array);
                if code == 0 {
                    if array.is_released() {
                        break; // the end
                    }
                    continue; // the array drops (releases itself)
                }
                assert!(array.is_released(), "get_next failed but wrote the array");
                let last = (stream.get_last_error.expect("get_last_error"))(&mut **stream);
                assert!(!last.is_null(), "get_next failed ({code}) without get_last_error");
                assert!(!CStr::from_ptr(last).to_bytes().is_empty(), "get_next failed with an empty last error");
                let mut error = DativoError::default();
                let status = dativo_status_from_stream(&mut **stream, code, &mut error);
                assert_ne!(status, DATIVO_STATUS_OK, "a failed get_next ({code}) became OK");
                check("dativo_status_from_stream", status, &error);
                break;
            }
        }
        // dativo_status_from_stream with arbitrary codes, NULL or released streams.
        6 => {
            let code = [0, libc_einval(), 5, 1, -1, 12345][(arg >> 1) as usize % 6];
            let stream = if arg & 0x10 != 0 { ptr::null_mut() } else { slot_ptr(&mut h.streams[slot]) };
            let status = dativo_status_from_stream(stream, code, e);
            check("dativo_status_from_stream", status, &error);
            if code == 0 {
                assert_eq!(status, DATIVO_STATUS_OK);
            } else if stream.is_null() {
                assert_ne!(status, DATIVO_STATUS_OK);
            }
        }
        // Open a writer with a held schema (or the stream's schema, a released one, NULL).
        7 | 8 => {
            let options = writer_options(input.byte(), input);
            let sub = h.dir.join(if arg & 0x10 != 0 { "out_a" } else { "out_b" });
            let d = CString::new(sub.to_str().unwrap()).unwrap();
            let mut from_stream = None;
            let schema: *const FFI_ArrowSchema = match arg >> 1 & 3 {
                0 => ptr::null(),
                1 => {
                    if let Some(stream) = h.streams[slot].as_mut().filter(|s| !s.is_released()) {
                        let mut s = FFI_ArrowSchema::empty();
                        let code = (stream.get_schema.expect("get_schema"))(&mut **stream, &mut s);
                        if code != 0 {
                            let mut error = DativoError::default();
                            let status = dativo_status_from_stream(&mut **stream, code, &mut error);
                            check("dativo_status_from_stream", status, &error);
                        }
                        from_stream = Some(s);
                    }
                    from_stream.as_ref().map_or(ptr::null(), |s| s as *const _)
                }
                _ => h.schemas[slot].as_deref().map_or(ptr::null(), |s| s as *const _),
            };
            let mut out: *mut DativoParquetWriter = ptr::null_mut();
            let status = dativo_parquet_writer_open(
                if arg & 0x20 != 0 && arg & 0x08 != 0 { ptr::null() } else { d.as_ptr() },
                schema,
                options.as_ref().map_or(ptr::null(), |o| o.as_ptr()),
                &mut out,
                e,
            );
            check("dativo_parquet_writer_open", status, &error);
            if status == DATIVO_STATUS_OK {
                assert!(!out.is_null());
                dativo_parquet_writer_free(std::mem::replace(&mut h.writers[slot], out));
            } else {
                assert!(out.is_null(), "writer open failed but wrote the writer");
            }
        }
        // write_stream: the stream is moved (released afterwards, whatever happens).
        9 => {
            let other = (arg >> 1 & 1) as usize;
            let writer = if arg & 4 != 0 { ptr::null_mut() } else { h.writers[slot] };
            let stream = if arg & 8 != 0 { ptr::null_mut() } else { slot_ptr(&mut h.streams[other]) };
            let status = dativo_parquet_writer_write_stream(writer, stream, e);
            check("dativo_parquet_writer_write_stream", status, &error);
            if !stream.is_null() {
                assert!((*stream).is_released(), "write_stream did not move the stream");
            }
        }
        // write_array: the next batch of a stream, with its schema, the writer's, or NULL.
        10 => {
            let other = (arg >> 1 & 1) as usize;
            let writer = if arg & 4 != 0 { ptr::null_mut() } else { h.writers[slot] };
            let mut array = FFI_ArrowArray::empty();
            let mut stream_schema = FFI_ArrowSchema::empty();
            if let Some(stream) = h.streams[other].as_mut().filter(|s| !s.is_released()) {
                let code = (stream.get_next.expect("get_next"))(&mut **stream, &mut array);
                if code == 0 {
                    let _ = (stream.get_schema.expect("get_schema"))(&mut **stream, &mut stream_schema);
                }
            }
            let schema: *const FFI_ArrowSchema = match arg >> 3 & 3 {
                0 => ptr::null(),
                1 => &stream_schema,
                _ => h.schemas[slot].as_deref().map_or(ptr::null(), |s| s as *const _),
            };
            let null_array = arg & 0x20 != 0 && arg & 0x40 != 0;
            let status = dativo_parquet_writer_write_array(
                writer,
                if null_array { ptr::null_mut() } else { &mut array },
                schema,
                e,
            );
            check("dativo_parquet_writer_write_array", status, &error);
            assert!(array.is_released() || null_array, "write_array did not move the array");
        }
        // close, with or without a file list.
        11 => {
            let writer = if arg & 2 != 0 { ptr::null_mut() } else { h.writers[slot] };
            let mut list: *mut DativoFileList = ptr::null_mut();
            let out = if arg & 4 != 0 { ptr::null_mut() } else { &mut list as *mut _ };
            let status = dativo_parquet_writer_close(writer, out, e);
            check("dativo_parquet_writer_close", status, &error);
            if status == DATIVO_STATUS_OK && !out.is_null() {
                assert!(!list.is_null());
                dativo_file_list_free(std::mem::replace(&mut h.lists[slot], list));
            } else {
                assert!(list.is_null(), "close wrote a list without success");
            }
        }
        // Free / release in arbitrary orders.
        12 => match arg >> 1 & 3 {
            0 => dativo_csv_reader_free(std::mem::replace(&mut h.readers[slot], ptr::null_mut())),
            1 => dativo_parquet_writer_free(std::mem::replace(&mut h.writers[slot], ptr::null_mut())),
            2 => drop(h.streams[slot].take()),
            _ => drop(h.schemas[slot].take()),
        },
        13 => {
            dativo_file_list_free(std::mem::replace(&mut h.lists[slot], ptr::null_mut()));
            dativo_csv_reader_free(ptr::null_mut());
            dativo_parquet_writer_free(ptr::null_mut());
            dativo_file_list_free(ptr::null_mut());
        }
        // Getters, including NULL handles and out-of-range indexes.
        14 => {
            let r = if arg & 2 != 0 { ptr::null() } else { h.readers[slot] as *const _ };
            let _ = dativo_csv_reader_rows_read(r);
            let _ = dativo_csv_reader_rows_rejected(r);
            let l = if arg & 4 != 0 { ptr::null() } else { h.lists[slot] as *const _ };
            let n = dativo_file_list_count(l);
            for i in [0, n, n.wrapping_sub(1), usize::MAX, (arg >> 3) as usize] {
                let p = dativo_file_list_path(l, i);
                if i < n && !l.is_null() {
                    assert!(!p.is_null(), "file {i} of {n} has no path");
                    assert!(Path::new(CStr::from_ptr(p).to_str().unwrap()).exists(), "a committed file is missing");
                }
                let _ = dativo_file_list_rows(l, i);
                let _ = dativo_file_list_bytes(l, i);
            }
        }
        // An error struct reused without release: the library releases the old message.
        _ => {
            let mut error = DativoError::default();
            let s1 = dativo_csv_reader_schema(ptr::null(), ptr::null_mut(), &mut error);
            check("dativo_csv_reader_schema", s1, &error);
            let s2 = dativo_parquet_writer_close(ptr::null_mut(), ptr::null_mut(), &mut error);
            check("dativo_parquet_writer_close", s2, &error);
        }
    }
}

fn libc_einval() -> i32 {
    22
}
