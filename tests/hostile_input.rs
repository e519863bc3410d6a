//! The hostile-input catalogue: files built to break a CSV reader, and exactly what dativo
//! does with each (the error text, or the rows it reads). One test per hostile input:
//!
//! 1. a quote that is never closed: costs its line, reading resumes after it;
//! 2. NUL bytes inside fields: kept in strings, a bad row in typed columns;
//! 3. a 100 MB single field: a clear error past `max_line_bytes`, read when the limit is raised,
//!    with the peak memory of the CLI bounded in both cases;
//! 4. a header of 100,000 columns: its rows are pinned by `a_header_of_100_000_columns_is_read`
//!    in tests/csv_reader.rs; here only the CLI's peak memory on it;
//! 5. ragged rows: too few and too many fields;
//! 6. invalid UTF-8 and invalid UTF-16 (a lone surrogate), and `on_error: skip` on them;
//! 7. byte-order marks: UTF-8, UTF-16LE, UTF-16BE, a BOM and nothing else, a BOM mid-file;
//! 8. CR-only (old Mac) line endings, and CRLF mixed with LF;
//! 9. an integer one past int64: text when inferred, a bad row when pinned to int64;
//! 10. mixed time zones in one timestamp column: normalized to UTC;
//! 11. duplicate column names;
//! 12. a double past f64 (`1e400`): text when inferred, a bad row when pinned or after the sample.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

use arrow_schema::{DataType, Field};
use common::{error, read, read_bytes, rows, v};
use dativo_engine::csv::{CsvOptions, OnError};

/// The rows read with `on_error: skip`, and how many rows were set aside.
fn read_skipping(data: &[u8]) -> (Vec<Vec<String>>, u64) {
    let (batches, r) = read_bytes(data, CsvOptions { on_error: OnError::Skip, ..Default::default() }).unwrap();
    (rows(&batches), r.stats().rows_rejected.load(Ordering::Relaxed))
}

/// The endings of bad-row messages: how to fix the row, then how to set it aside.
const SKIP_HINT: &str = " (or set on_error: skip | reject to set bad rows aside)";
const FIELDS_HINT: &str =
    "; check the delimiter and quoting of this line (or set on_error: skip | reject to set bad rows aside)";
const ENCODING_HINT: &str = "; set source.engine.options.encoding to the file's real encoding \
                             (or set on_error: skip | reject to set bad rows aside)";
const DECLARED_HINT: &str = "; the schema declares 'n' as integer: fix the value or change the declared type \
                             (or set on_error: skip | reject to set bad rows aside)";

fn int64(name: &str) -> CsvOptions {
    CsvOptions { column_types: vec![Field::new(name, DataType::Int64, true)], ..Default::default() }
}

fn utf16(s: &str, bom: bool, little_endian: bool) -> Vec<u8> {
    let mut out = match (bom, little_endian) {
        (false, _) => vec![],
        (true, true) => vec![0xFF, 0xFE],
        (true, false) => vec![0xFE, 0xFF],
    };
    for u in s.encode_utf16() {
        out.extend_from_slice(&if little_endian { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    out
}

// 1. `3,"open` and no closing quote anywhere after it.
#[test]
fn an_unclosed_quote_costs_its_line_and_reading_resumes() {
    let data = b"a,b\n1,2\n3,\"open\n4,5\n";
    assert_eq!(
        error(data, CsvOptions::default()),
        format!(
            "data.csv:3: a quoted field starting on this line is never closed (unbalanced quote); close or escape \
             the quote (a literal quote inside a quoted field is written \"\"){SKIP_HINT}"
        )
    );
    assert_eq!(read_skipping(data), (vec![v(&["1", "2"]), v(&["4", "5"])], 1));
}

// 2. NUL bytes (`\0`) in the middle of a text field and of a number.
#[test]
fn nul_bytes_stay_in_strings_and_make_a_typed_value_a_bad_row() {
    assert_eq!(read(b"a,b\n1,x\0y\n", CsvOptions::default()), vec![v(&["1", "x\0y"])]);
    assert_eq!(
        error(b"n\n1\n2\x003\n", int64("n")),
        format!("data.csv:3: column 'n' (#1): cannot parse \"2\\03\" as integer{DECLARED_HINT}")
    );
}

/// `dativo check --data --quiet` on `csv` (no asset) with `max_line_bytes`, as a child process
/// whose peak resident memory is measured: (exit code, stdout, stderr, peak RSS in bytes).
#[allow(clippy::zombie_processes)] // the child is reaped by `libc::wait4`, which also gives its rusage
fn check_data_with_peak_rss(dir: &Path, csv: &Path, max_line_bytes: Option<u64>) -> (i32, String, String, u64) {
    let limit = max_line_bytes.map(|n| format!("      max_line_bytes: {n}\n")).unwrap_or_default();
    let job = dir.join("job.yaml");
    std::fs::write(
        &job,
        format!(
            "source:\n  type: csv\n  files:\n    - path: {}\n  engine:\n    options:\n      delimiter: \",\"\n{limit}\
             target:\n  type: local\n  output_base: {}\n",
            csv.display(),
            dir.join("out").display()
        ),
    )
    .unwrap();
    let (out, err) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let child = Command::new(env!("CARGO_BIN_EXE_dativo"))
        .args(["check", "--data", "--quiet", "--config", job.to_str().unwrap()])
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it and reaps our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    assert!(libc::WIFEXITED(status), "dativo did not exit normally: status {status}");
    let text = |p: &Path| std::fs::read_to_string(p).unwrap();
    (libc::WEXITSTATUS(status), text(&out), text(&err), usage.ru_maxrss as u64 * 1024)
}

// 3. One 100 MB field on line 2 (a runaway value, or a quote never closed in a huge file).
#[test]
fn a_100_mb_field_is_refused_past_max_line_bytes_and_read_below_it_in_bounded_memory() {
    const MB: u64 = 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("big.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    f.write_all(b"id,blob\n1,").unwrap();
    let chunk = vec![b'x'; MB as usize];
    for _ in 0..100 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b"\n2,y\n").unwrap();
    f.into_inner().unwrap().sync_all().unwrap();

    let (code, _, stderr, peak) = check_data_with_peak_rss(dir.path(), &csv, None);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr.lines().last().unwrap(),
        format!(
            "error: {}:2: record is longer than max_line_bytes (16777216 bytes); an unbalanced quote often causes \
             this; otherwise raise max_line_bytes{SKIP_HINT}",
            csv.display()
        )
    );
    // Observed about 30 MB: well under the 100 MB field, so the field was never held whole.
    assert!(peak < 100 * MB, "peak RSS {} MB", peak / MB);

    let (code, stdout, stderr, peak) = check_data_with_peak_rss(dir.path(), &csv, Some(128 * MB));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("rows: 2 read, 0 written, 0 rejected"), "{stdout}");
    assert!(stdout.ends_with("ok: every row read and checked; no parquet written\n"), "{stdout}");
    // Observed about 210 MB: the field, its copy into the column, and the runtime.
    assert!(peak < 600 * MB, "peak RSS {} MB", peak / MB);
}

// 4. A header of 100,000 columns and a few rows (a pivoted export), checked through the CLI.
// The reader's result is pinned by `a_header_of_100_000_columns_is_read` in tests/csv_reader.rs;
// this adds the memory bound.
#[test]
fn a_header_of_100_000_columns_is_checked_in_bounded_memory() {
    const MB: u64 = 1024 * 1024;
    let n = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("wide.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    let header: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    writeln!(f, "{}", header.join(",")).unwrap();
    let row: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    for _ in 0..3 {
        writeln!(f, "{}", row.join(",")).unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();
    let (code, stdout, stderr, peak) = check_data_with_peak_rss(dir.path(), &csv, None);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("rows: 3 read, 0 written, 0 rejected"), "{stdout}");
    // Observed about 65 MB.
    assert!(peak < 300 * MB, "peak RSS {} MB", peak / MB);
}

// 5. A row with one field fewer, and a row with one field more, than the header.
#[test]
fn ragged_rows_name_the_expected_and_found_field_counts() {
    assert_eq!(
        error(b"a,b\n1,2\n3\n", CsvOptions::default()),
        format!("data.csv:3: expected 2 fields, found 1{FIELDS_HINT}")
    );
    assert_eq!(
        error(b"a,b\n1,2\n3,4,5\n", CsvOptions::default()),
        format!("data.csv:3: expected 2 fields, found 3{FIELDS_HINT}")
    );
    assert_eq!(read_skipping(b"a,b\n1\n2,3\n4,5,6\n"), (vec![v(&["2", "3"])], 2));
}

// 6a. A UTF-8 file with the bytes FF FE (never valid UTF-8) in one field.
#[test]
fn invalid_utf8_is_a_bad_row_and_skip_drops_only_it() {
    // UTF-8 text (the "é" before) with invalid bytes: UTF-8 with a bad row, not Windows-1252.
    let data = b"a,b\n1,\xC3\xA9\n2,\xFF\xFE\n3,z\n";
    assert_eq!(error(data, CsvOptions::default()), format!("data.csv:3: text is not valid UTF-8{ENCODING_HINT}"));
    assert_eq!(read_skipping(data), (vec![v(&["1", "é"]), v(&["3", "z"])], 1));
}

// 6b. A UTF-16LE file with a low surrogate (DC00) that no high surrogate precedes.
#[test]
fn a_lone_utf16_surrogate_is_a_bad_row_and_skip_drops_only_it() {
    let mut data = utf16("a\nok\n", true, true);
    data.extend_from_slice(&0xDC00u16.to_le_bytes());
    data.extend_from_slice(&utf16("x\nlast\n", false, true));
    assert_eq!(error(&data, CsvOptions::default()), format!("data.csv:3: text is not valid UTF-16LE{ENCODING_HINT}"));
    assert_eq!(read_skipping(&data), (vec![v(&["ok"]), v(&["last"])], 1));
}

// 7. A file starting with a UTF-8, UTF-16LE or UTF-16BE byte-order mark.
#[test]
fn byte_order_marks_are_stripped_and_select_the_encoding() {
    let text = "id,name\n1,Zoë\n";
    let expect = vec![v(&["1", "Zoë"])];
    let mut utf8 = b"\xEF\xBB\xBF".to_vec();
    utf8.extend_from_slice(text.as_bytes());
    assert_eq!(read(&utf8, CsvOptions::default()), expect);
    assert_eq!(read(&utf16(text, true, true), CsvOptions::default()), expect);
    assert_eq!(read(&utf16(text, true, false), CsvOptions::default()), expect);
}

// 7. A file that is only a byte-order mark.
#[test]
fn a_bom_and_nothing_else_is_an_empty_file() {
    for bom in [&b"\xEF\xBB\xBF"[..], b"\xFF\xFE", b"\xFE\xFF"] {
        assert_eq!(error(bom, CsvOptions::default()), "data.csv: the file is empty (no header and no rows)");
    }
}

// 7. A UTF-8 BOM in the middle of the file (two exports concatenated): data, not a marker.
#[test]
fn a_utf8_bom_inside_the_file_stays_data() {
    assert_eq!(read(b"name\nx\n\xEF\xBB\xBFy\n", CsvOptions::default()), vec![v(&["x"]), v(&["\u{feff}y"])]);
}

// 8. Old Mac files: records separated by a lone CR, no LF anywhere.
#[test]
fn cr_only_line_endings_separate_records() {
    assert_eq!(read(b"a,b\r1,2\r3,4\r", CsvOptions::default()), vec![v(&["1", "2"]), v(&["3", "4"])]);
    assert_eq!(
        error(b"a,b\r1,2\r3\r", CsvOptions::default()),
        format!("data.csv:3: expected 2 fields, found 1{FIELDS_HINT}")
    );
}

// 8. CRLF and LF mixed in one file, the last line without any line break.
#[test]
fn mixed_crlf_and_lf_line_endings_read_the_same_rows() {
    assert_eq!(
        read(b"a,b\r\n1,2\n3,4\r\n\r\n5,6", CsvOptions::default()),
        vec![v(&["1", "2"]), v(&["3", "4"]), v(&["5", "6"])]
    );
}

// 9. 9223372036854775808 = i64::MAX + 1 in a column of integers.
#[test]
fn an_integer_past_int64_stays_text_when_inferred_and_is_a_bad_row_when_pinned() {
    let data = b"n\n1\n9223372036854775808\n";
    let (batches, _) = read_bytes(data, CsvOptions::default()).unwrap();
    assert_eq!(batches[0].schema().field(0).data_type(), &DataType::Utf8);
    assert_eq!(rows(&batches), vec![v(&["1"]), v(&["9223372036854775808"])]);
    assert_eq!(
        read(b"n\n9223372036854775807\n-9223372036854775808\n", int64("n")),
        vec![v(&["9223372036854775807"]), v(&["-9223372036854775808"])]
    );
    assert_eq!(
        error(data, int64("n")),
        format!("data.csv:3: column 'n' (#1): \"9223372036854775808\" is out of range for integer{DECLARED_HINT}")
    );
}

// 10. The same instant written as UTC, as +01:00, and with no zone at all.
#[test]
fn mixed_time_zones_are_normalized_to_utc() {
    let data = b"at\n2024-01-01T00:00:00Z\n2024-01-01T01:00:00+01:00\n2024-01-01T00:00:00\n";
    let (batches, _) = read_bytes(data, CsvOptions::default()).unwrap();
    assert_eq!(batches[0].schema().field(0).data_type(), &dativo_engine::schema::timestamp_type());
    let midnight = "t1704067200000000";
    assert_eq!(rows(&batches), vec![v(&[midnight]), v(&[midnight]), v(&[midnight])]);
}

// 11. A header naming the same column twice.
#[test]
fn duplicate_column_names_are_an_error_naming_both_positions() {
    assert_eq!(
        error(b"id,name,id\n1,x,2\n", CsvOptions::default()),
        "data.csv: duplicate column name 'id' (columns 1 and 3); rename one in the header or set column_names"
    );
}

// 12. 1e400 is beyond f64::MAX (about 1.8e308); it used to become +inf silently.
#[test]
fn a_double_past_f64_is_out_of_range_never_infinity() {
    let float64 =
        |name: &str| CsvOptions { column_types: vec![Field::new(name, DataType::Float64, true)], ..Default::default() };
    let hint = "; the schema declares 'x' as double: fix the value or change the declared type \
                (or set on_error: skip | reject to set bad rows aside)";
    for value in ["1e400", "-1e400", "2e308"] {
        let data = format!("x\n1.5\n{value}\n");
        assert_eq!(
            error(data.as_bytes(), float64("x")),
            format!("data.csv:3: column 'x' (#1): \"{value}\" is out of range for double{hint}")
        );
        // Inferred: it does not fit a double, so the column stays text and nothing is lost.
        let (batches, _) = read_bytes(data.as_bytes(), CsvOptions::default()).unwrap();
        assert_eq!(batches[0].schema().field(0).data_type(), &DataType::Utf8);
        assert_eq!(rows(&batches), vec![v(&["1.5"]), v(&[value])]);
    }
    // After the sample, in an inferred double column: a bad row, skipped with on_error: skip.
    let data = b"x\n1.5\n1e400\n2.5\n";
    let options = || CsvOptions { infer_sample_rows: 1, ..Default::default() };
    assert!(error(data, options()).starts_with("data.csv:3: column 'x' (#1): \"1e400\" is out of range for double;"));
    let (batches, r) = read_bytes(data, CsvOptions { on_error: OnError::Skip, ..options() }).unwrap();
    assert_eq!((rows(&batches), r.stats().rows_rejected.load(Ordering::Relaxed)), (vec![v(&["1.5"]), v(&["2.5"])], 1));
    // Spelled out, infinity and NaN stay values; a too small number rounds to 0.
    assert_eq!(
        read(b"x\ninf\n-Infinity\nNaN\n1e-400\n", float64("x")),
        vec![v(&["inf"]), v(&["-inf"]), v(&["NaN"]), v(&["0"])]
    );
}
