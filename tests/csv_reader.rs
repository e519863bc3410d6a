//! Behaviour of the CSV reader as a user sees it: types, options, encodings, bad rows.

mod common;

use std::path::{Path, PathBuf};

use arrow_schema::{DataType, Field, Schema};
use common::{error, read, read_bytes, rows, v, Pieces};
use dativo_engine::csv::{CsvOptions, CsvReader, Encoding, OnError};
use dativo_engine::schema::timestamp_type;
use dativo_engine::Error;

fn types(data: &[u8], o: CsvOptions) -> Vec<DataType> {
    let r = CsvReader::from_reader("data.csv", Box::new(std::io::Cursor::new(data.to_vec())), o).unwrap();
    r.schema().fields().iter().map(|f| f.data_type().clone()).collect()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn infers_every_type_and_reads_nulls() {
    let data = b"id,price,ok,day,at,name,zip\n\
1,1.5,true,2024-01-31,2024-01-31T10:00:00,anna,007\n\
2,,FALSE,2024-02-01,2024-02-01 10:00:00.25+02:00,,010\n";
    assert_eq!(
        types(data, CsvOptions::default()),
        vec![
            DataType::Int64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Date32,
            timestamp_type(),
            DataType::Utf8,
            DataType::Utf8
        ]
    );
    assert_eq!(
        read(data, CsvOptions::default()),
        vec![
            v(&["1", "1.5", "true", "d19753", "t1706695200000000", "anna", "007"]),
            v(&["2", "null", "false", "d19754", "t1706774400250000", "null", "010"]),
        ]
    );
}

#[test]
fn an_all_empty_column_is_string_and_ints_mixed_with_floats_are_double() {
    let data = b"a,b\n1,\n2.5,\n";
    assert_eq!(types(data, CsvOptions::default()), vec![DataType::Float64, DataType::Utf8]);
}

#[test]
fn quoted_fields_keep_delimiters_quotes_and_line_breaks() {
    let data = b"id,note\n1,\"late, damaged\"\n2,\"say \"\"hi\"\"\nthere\"\n3,\"\"\n4,\n";
    assert_eq!(
        read(data, CsvOptions::default()),
        vec![v(&["1", "late, damaged"]), v(&["2", "say \"hi\"\nthere"]), v(&["3", ""]), v(&["4", "null"])]
    );
}

#[test]
fn dialect_options_delimiter_comment_skip_nulls_escape() {
    let data = b"exported by tool\nid|name\n# a comment\n1|NA\n2|\"a\\\"b\"\n";
    let o = CsvOptions {
        delimiter: Some(b"|".to_vec()),
        comment: Some(b'#'),
        skip_rows: 1,
        null_values: vec!["NA".into()],
        escape: Some(Some(b'\\')),
        ..Default::default()
    };
    assert_eq!(read(data, o), vec![v(&["1", "null"]), v(&["2", "a\"b"])]);
}

#[test]
fn without_header_columns_are_numbered_or_named() {
    let data = b"1,x\n2,y\n";
    let r = CsvReader::from_reader(
        "d",
        Box::new(std::io::Cursor::new(data.to_vec())),
        CsvOptions { has_header: Some(false), ..Default::default() },
    )
    .unwrap();
    let names: Vec<String> = r.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, vec!["column_1", "column_2"]);
    let o = CsvOptions {
        has_header: Some(false),
        column_names: Some(vec!["id".into(), "tag".into()]),
        ..Default::default()
    };
    let (batches, _) = read_bytes(data, o).unwrap();
    assert_eq!(batches[0].schema().field(1).name(), "tag");
    assert_eq!(rows(&batches), vec![v(&["1", "x"]), v(&["2", "y"])]);
}

fn utf16le(s: &str, bom: bool) -> Vec<u8> {
    let mut out = if bom { vec![0xFF, 0xFE] } else { vec![] };
    for u in s.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

#[test]
fn sql_server_export_utf16le_tab_delimited_without_header() {
    let text = "1\tJosé\t2024-01-01 00:00:00.0000000\r\n2\tZoë\t2024-01-02 00:00:00.1234567\r\n";
    let o = CsvOptions {
        delimiter: Some(b"\t".to_vec()),
        has_header: Some(false),
        encoding: Encoding::Utf16Le,
        ..Default::default()
    };
    let expect = vec![v(&["1", "José", "t1704067200000000"]), v(&["2", "Zoë", "t1704153600123456"])];
    assert_eq!(read(&utf16le(text, false), o.clone()), expect);
    // Detected without being named, with or without a BOM.
    let auto = CsvOptions { encoding: Encoding::Auto, ..o };
    assert_eq!(read(&utf16le(text, true), auto.clone()), expect);
    assert_eq!(read(&utf16le(text, false), auto), expect);
}

#[test]
fn utf8_bom_latin1_and_utf16be() {
    assert_eq!(read(b"\xEF\xBB\xBFname\nx\n", CsvOptions::default()), vec![v(&["x"])]);
    let latin = CsvOptions { encoding: Encoding::Latin1, ..Default::default() };
    assert_eq!(read(b"name\ncaf\xE9\n", latin), vec![v(&["café"])]);
    let mut be = vec![0xFE, 0xFF];
    for u in "a\n\u{e9}\n".encode_utf16() {
        be.extend_from_slice(&u.to_be_bytes());
    }
    assert_eq!(read(&be, CsvOptions::default()), vec![v(&["é"])]);
}

#[test]
fn a_bad_value_names_file_line_column_value_and_the_fix() {
    let mut data = b"id,amount\n".to_vec();
    for i in 0..50 {
        data.extend_from_slice(format!("{i},{i}.5\n").as_bytes());
    }
    data.extend_from_slice(b"50,12x\n");
    let o = CsvOptions { infer_sample_rows: 10, batch_size: 7, ..Default::default() };
    let e = error(&data, o);
    assert!(e.starts_with("data.csv:52: column 'amount' (#2): cannot parse \"12x\" as double"), "{e}");
    assert!(e.contains("inferred from the first 10 rows") && e.contains("infer_sample_rows"), "{e}");
}

#[test]
fn a_value_out_of_range_is_a_bad_row() {
    let o = CsvOptions { column_types: vec![Field::new("n", DataType::Int64, true)], ..Default::default() };
    let e = error(b"n\n99999999999999999999\n", o);
    assert!(e.contains("data.csv:2: column 'n' (#1): \"99999999999999999999\" is out of range for integer"), "{e}");
    assert!(e.contains("declares 'n' as integer"), "{e}");
}

#[test]
fn ragged_rows_unterminated_quotes_and_invalid_utf8_are_errors_with_their_line() {
    assert!(error(b"a,b\n1,2\n3\n", CsvOptions::default()).starts_with("data.csv:3: expected 2 fields, found 1"));
    assert!(error(b"a,b\n1,2\n3,\"open\n4,5\n", CsvOptions::default())
        .starts_with("data.csv:3: a quoted field starting on this line is never closed"));
    let utf8 = CsvOptions { encoding: Encoding::Utf8, ..Default::default() };
    assert!(error(b"a,b\n1,\xFF\xFE\n", utf8).starts_with("data.csv:2: text is not valid UTF-8"));
    // Left to detection, text that is not UTF-8 is read as Windows-1252 (with a warning).
    assert_eq!(read(b"a,b\n1,\xFF\xFE\n", CsvOptions::default()), vec![v(&["1", "\u{FF}\u{FE}"])]);
    let long = CsvOptions { max_line_bytes: 8, ..Default::default() };
    assert!(error(b"a,b\n1,2\n123456,789\n", long)
        .starts_with("data.csv:3: record is longer than max_line_bytes (8 bytes)"));
}

#[test]
fn invalid_utf16_is_a_bad_row_not_a_replacement_character() {
    let mut data = utf16le("a\nok\n", true);
    data.extend_from_slice(&0xDC00u16.to_le_bytes());
    data.extend_from_slice(&utf16le("x\n", false));
    assert!(error(&data, CsvOptions::default()).starts_with("data.csv:3: text is not valid UTF-16LE"));
}

#[test]
fn skip_drops_and_counts_bad_rows_and_never_ends_early() {
    let data = b"id,v\n1,a\n2\n3,c\n4,\"x\n";
    let o = CsvOptions {
        on_error: OnError::Skip,
        column_types: vec![Field::new("id", DataType::Int64, true)],
        ..Default::default()
    };
    let (batches, r) = read_bytes(data, o).unwrap();
    assert_eq!(rows(&batches), vec![v(&["1", "a"]), v(&["3", "c"])]);
    assert_eq!(r.stats().rows_rejected.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[test]
fn reject_writes_file_line_offset_column_reason_and_raw_line() {
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.csv");
    let data = b"id,v\n1,a\nx,b\n3,\"c,d\"\n4\n";
    let o = CsvOptions {
        on_error: OnError::Reject,
        rejects_path: Some(rejects.clone()),
        column_types: vec![Field::new("id", DataType::Int64, true)],
        ..Default::default()
    };
    let (batches, _) = read_bytes(data, o).unwrap();
    assert_eq!(rows(&batches), vec![v(&["1", "a"]), v(&["3", "c,d"])]);
    let text = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(
        text,
        "file,line,byte_offset,column,reason,raw_line\n\
         data.csv,3,9,id,\"cannot parse \"\"x\"\" as integer\",\"x,b\"\n\
         data.csv,5,21,,\"expected 2 fields, found 1\",4\n"
    );
}

#[test]
fn a_raw_line_kept_in_part_says_so_and_how_long_the_record_was() {
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.csv");
    // The dialect is given: a sniffed one is decided on the first 64 KiB, before the end of
    // the long record is read, and the marker then gives a lower bound (checked below).
    let reject = |max_line_bytes: usize| CsvOptions {
        on_error: OnError::Reject,
        rejects_path: Some(rejects.clone()),
        max_line_bytes,
        delimiter: Some(b",".to_vec()),
        quote: Some(Some(b'"')),
        has_header: Some(true),
        ..Default::default()
    };
    let raw_lines = || -> Vec<Vec<u8>> {
        let mut r = csv::Reader::from_path(&rejects).unwrap();
        r.byte_records().map(|rec| rec.unwrap().get(5).unwrap().to_vec()).collect()
    };
    // 70,000 bytes, past max_line_bytes: the first 64 KiB, then the marker with the length.
    let long = "y".repeat(70_000);
    let data = format!("id,v\n1,a\n2,{long}\n3,c\n");
    let (batches, _) = read_bytes(data.as_bytes(), reject(1000)).unwrap();
    assert_eq!(rows(&batches), vec![v(&["1", "a"]), v(&["3", "c"])]);
    let raw = raw_lines();
    assert_eq!(raw.len(), 1);
    let mut expected = format!("2,{long}").into_bytes();
    expected.truncate(64 * 1024);
    expected.extend_from_slice("…[truncated: 70002 bytes total]".as_bytes());
    // Lengths and ends first: a 64 KiB value in a failure message helps nobody.
    let tail = |b: &[u8]| String::from_utf8_lossy(&b[b.len().saturating_sub(60)..]).into_owned();
    assert_eq!((raw[0].len(), tail(&raw[0])), (expected.len(), tail(&expected)));
    assert!(raw[0] == expected, "the kept part differs from the record's first 64 KiB");
    // Sniffed: the record's end lies past the sample the dialect was decided on; the marker
    // says so rather than giving a length it does not know.
    let sniffed = CsvOptions { delimiter: None, quote: None, has_header: None, ..reject(1000) };
    read_bytes(data.as_bytes(), sniffed).unwrap();
    let raw = raw_lines();
    assert!(String::from_utf8_lossy(&raw[0]).ends_with("bytes total]"), "no marker");
    assert!(String::from_utf8_lossy(&raw[0][raw[0].len() - 60..]).contains("[truncated: "));

    // A line never read to its end (longer than what is buffered past max_line_bytes): a
    // lower bound.
    let huge = "z".repeat(2_000_000);
    let data = format!("id,v\n2,{huge}\n3,c\n");
    let (batches, _) = read_bytes(data.as_bytes(), reject(100_000)).unwrap();
    assert_eq!(rows(&batches), vec![v(&["3", "c"])]);
    let raw = String::from_utf8(raw_lines().remove(0)).unwrap();
    let marker = &raw[64 * 1024..];
    assert!(marker.starts_with("…[truncated: at least ") && marker.ends_with(" bytes total]"), "{marker}");
    let bound: u64 = marker["…[truncated: at least ".len()..marker.len() - " bytes total]".len()].parse().unwrap();
    assert!(bound > 100_000 && bound <= 2_000_002, "{marker}");

    // Past max_line_bytes but kept whole: no marker; the other columns are unchanged.
    let (_, _) = read_bytes(b"id,v\n1,abcdefghij\n", reject(8)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap(),
        "file,line,byte_offset,column,reason,raw_line\n\
         data.csv,2,5,,record is longer than max_line_bytes (8 bytes),\"1,abcdefghij\"\n"
    );
}

#[test]
fn max_rejects_fails_past_the_limit() {
    let o = CsvOptions { on_error: OnError::Skip, max_rejects: Some(1), ..Default::default() };
    let e = error(b"a,b\n1\n2\n3,4\n", o);
    assert!(e.starts_with("more than max_rejects (1) bad rows; the last one: data.csv:3: expected 2 fields"), "{e}");
}

#[test]
fn a_required_column_turns_nulls_into_bad_rows() {
    let o = CsvOptions { column_types: vec![Field::new("id", DataType::Int64, false)], ..Default::default() };
    let e = error(b"id,v\n1,a\n,b\n", o);
    assert!(e.starts_with("data.csv:3: column 'id' (#1): null value in a required column"), "{e}");
}

#[test]
fn empty_header_only_and_duplicate_columns() {
    assert_eq!(error(b"", CsvOptions::default()), "data.csv: the file is empty (no header and no rows)");
    let (batches, r) = read_bytes(b"a,b\n", CsvOptions::default()).unwrap();
    assert!(batches.is_empty());
    assert_eq!(r.schema().fields().len(), 2);
    let e = error(b"a,b,a\n1,2,3\n", CsvOptions::default());
    assert!(e.contains("duplicate column name 'a' (columns 1 and 3)"), "{e}");
}

#[test]
fn explicit_schema_overrides_inference() {
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("a", DataType::Utf8, true),
        Field::new("b", DataType::Float64, true),
    ]));
    let o = CsvOptions { schema: Some(schema), ..Default::default() };
    let (batches, _) = read_bytes(b"a,b\n1,2\n", o).unwrap();
    assert_eq!(batches[0].schema().field(0).data_type(), &DataType::Utf8);
    assert_eq!(rows(&batches), vec![v(&["1", "2"])]);
}

#[test]
fn several_files_are_read_in_order_and_must_share_columns() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.csv", b"id,name\n1,x\n");
    let b = write(dir.path(), "b.csv", b"id,name\n2,y\n3,z\n");
    let c = write(dir.path(), "c.csv", b"id,title\n4,w\n");
    let r = CsvReader::open(&[a.clone(), b.clone()], CsvOptions::default()).unwrap();
    let got = rows(&r.collect::<dativo_engine::Result<Vec<_>>>().unwrap());
    assert_eq!(got, vec![v(&["1", "x"]), v(&["2", "y"]), v(&["3", "z"])]);
    let e = CsvReader::open(&[a, c.clone()], CsvOptions::default()).err().unwrap().to_string();
    assert!(
        e.starts_with(&format!("{}: columns differ from", c.display()))
            && e.contains("missing: [name], extra: [title]"),
        "{e}"
    );
    let e = CsvReader::open(&[dir.path().join("nope.csv")], CsvOptions::default()).err().unwrap();
    assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("nope.csv"), "{e}");
}

/// The same table whatever the batch size and however the input is cut into reads:
/// inside quotes, between CR and LF, inside the BOM.
#[test]
fn results_do_not_depend_on_batch_size_or_read_boundaries() {
    let mut data = b"\xEF\xBB\xBFid,note,at\r\n".to_vec();
    for i in 0..300 {
        let note = match i % 4 {
            0 => "\"multi\r\nline, \"\"quoted\"\"\"".to_string(),
            1 => String::new(),
            2 => format!("plain {i}"),
            _ => "\"a,b\"".into(),
        };
        data.extend_from_slice(format!("{i},{note},2024-01-01T00:00:{:02}\r\n", i % 60).as_bytes());
    }
    let reference = read(&data, CsvOptions::default());
    assert_eq!(reference.len(), 300);
    assert_eq!(reference[0], v(&["0", "multi\r\nline, \"quoted\"", "t1704067200000000"]));
    for batch_size in [1, 7, 64, 100_000] {
        for sizes in [&[1usize][..], &[2, 3], &[5, 1, 11], &[4096]] {
            for threads in [1, 3] {
                let o = CsvOptions { batch_size, threads, infer_sample_rows: 50, ..Default::default() };
                let r = CsvReader::from_reader("d", Box::new(Pieces::new(&data, sizes)), o).unwrap();
                let batches = r.collect::<dativo_engine::Result<Vec<_>>>().unwrap();
                assert!(batches.iter().all(|b| b.num_rows() <= batch_size));
                assert_eq!(rows(&batches), reference, "batch_size {batch_size}, pieces {sizes:?}, threads {threads}");
            }
        }
    }
}

#[test]
fn dropping_a_reader_midway_stops_its_threads_cleanly() {
    let mut data = b"id\n".to_vec();
    for i in 0..100_000 {
        data.extend_from_slice(format!("{i}\n").as_bytes());
    }
    let o = CsvOptions { batch_size: 100, ..Default::default() };
    let mut r = CsvReader::from_reader("d", Box::new(std::io::Cursor::new(data)), o).unwrap();
    assert_eq!(r.next().unwrap().unwrap().num_rows(), 100);
    drop(r); // must not hang or panic
}

#[test]
fn bad_options_are_config_errors() {
    let e = error(b"a\n1\n", CsvOptions { delimiter: Some(b"\"".to_vec()), ..Default::default() });
    assert!(e.contains("quote: '\"' is also the delimiter"), "{e}");
    let e = error(b"a\n1\n", CsvOptions { on_error: OnError::Reject, ..Default::default() });
    assert!(e.contains("rejects_path"), "{e}");
    let e = error(
        b"a\n1\n",
        CsvOptions { column_types: vec![Field::new("zz", DataType::Int64, true)], ..Default::default() },
    );
    assert!(e.contains("'zz'") && e.contains("columns: a"), "{e}");
}

#[test]
fn a_header_of_100_000_columns_is_read() {
    let n = 100_000;
    let header: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let data = format!("{}\n{}\n", header.join(","), row.join(","));
    let (batches, r) = read_bytes(data.as_bytes(), CsvOptions::default()).unwrap();
    assert_eq!(r.schema().fields().len(), n);
    assert_eq!(r.schema().field(n - 1).name(), "c99999");
    let got = rows(&batches);
    assert_eq!((got.len(), got[0][0].as_str(), got[0][n - 1].as_str()), (1, "0", "99999"));
    // A duplicate among them is still found, naming both positions.
    let dup = data.replacen("c99999", "c5", 1);
    assert!(error(dup.as_bytes(), CsvOptions::default()).contains("duplicate column name 'c5' (columns 6 and 100000)"));
}

#[test]
fn as_an_arrow_record_batch_reader_errors_keep_their_kind_and_message() {
    use arrow_array::RecordBatchReader;
    let data = b"id\n1\nx\n".to_vec();
    let o =
        CsvOptions { column_types: vec![Field::new("id", DataType::Int64, true)], batch_size: 1, ..Default::default() };
    let mut r =
        CsvReader::from_reader("data.csv", Box::new(std::io::Cursor::new(data)), o).unwrap().into_record_batch_reader();
    assert_eq!(r.schema().field(0).name(), "id");
    assert_eq!(r.next().unwrap().unwrap().num_rows(), 1);
    let e = Error::from_arrow(r.next().unwrap().unwrap_err());
    assert!(matches!(e, Error::Data(_)), "{e:?}");
    assert!(e.to_string().starts_with("data.csv:3: column 'id' (#1): cannot parse \"x\" as integer"), "{e}");
    assert!(r.next().is_none(), "an error ends the stream");
}

#[test]
fn nulls_in_warn_columns_are_kept_and_counted() {
    let o = CsvOptions { warn_null_columns: vec!["email".into()], ..Default::default() };
    let (batches, r) = read_bytes(b"id,email\n1,a@x\n2,\n3,c@x\n4,\n", o).unwrap();
    assert_eq!(rows(&batches), vec![v(&["1", "a@x"]), v(&["2", "null"]), v(&["3", "c@x"]), v(&["4", "null"])]);
    assert_eq!(r.stats().warnings.load(std::sync::atomic::Ordering::Relaxed), 2);
    let e = error(b"id\n1\n", CsvOptions { warn_null_columns: vec!["nope".into()], ..Default::default() });
    assert!(e.contains("warn_null_columns names 'nope'"), "{e}");
}

/// How many of this process's descriptors are open on `path`.
#[cfg(target_os = "linux")]
fn open_descriptors(path: &Path) -> usize {
    let target = path.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter(|fd| std::fs::read_link(fd.as_ref().unwrap().path()).is_ok_and(|t| t == target))
        .count()
}

/// Dropping a reader half-way closes its input files before the drop returns, so the caller
/// can delete, move or reopen them at once (on Windows an open file cannot be deleted).
#[cfg(target_os = "linux")]
#[test]
fn dropping_a_reader_mid_stream_closes_its_files_before_returning() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,name\n");
    for i in 0..20_000 {
        text.push_str(&format!("{i},name {i}\n"));
    }
    let a = write(dir.path(), "a.csv", text.as_bytes());
    let b = write(dir.path(), "b.csv", text.as_bytes());
    // Repeated: a splitter that closed its file shortly *after* the drop passed now and then.
    for round in 0..20 {
        let mut r =
            CsvReader::open(&[a.clone(), b.clone()], CsvOptions { batch_size: 100, ..Default::default() }).unwrap();
        r.next().unwrap().unwrap();
        assert_eq!(open_descriptors(&a), 1, "round {round}: the reader holds the first file open");
        drop(r);
        assert_eq!((open_descriptors(&a), open_descriptors(&b)), (0, 0), "round {round}");
    }
}

/// A pipe whose writer goes quiet without closing it (`tail -f | ...`, an idle producer) must
/// not hang the drop: only regular files are waited for.
#[cfg(target_os = "linux")]
#[test]
fn dropping_a_reader_of_an_idle_pipe_returns() {
    use std::io::Write;
    use std::sync::mpsc;
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("rows.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let (written_tx, written_rx) = mpsc::channel::<()>();
    let (close_tx, close_rx) = mpsc::channel::<()>();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            // More than the 256 KiB the reader looks at (for the encoding) before it starts.
            let mut text = String::from("id,name\n");
            for i in 0..40_000 {
                text.push_str(&format!("{i},n{i}\n"));
            }
            w.write_all(text.as_bytes()).unwrap();
            written_tx.send(()).unwrap();
            let _ = close_rx.recv(); // idle, the pipe still open, until the test ends
        })
    };
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    // 2 threads keep 5 chunks of 10,000 rows in flight: the splitter takes all 40,000 rows
    // and then waits in `read` for more.
    let options = CsvOptions { schema: Some(schema), batch_size: 10_000, threads: 2, ..Default::default() };
    let mut reader = CsvReader::open(&[fifo], options).unwrap();
    assert_eq!(reader.next().unwrap().unwrap().num_rows(), 10_000);
    written_rx.recv_timeout(Duration::from_secs(30)).expect("the reader took every row");
    let (dropped_tx, dropped_rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(reader);
        let _ = dropped_tx.send(());
    });
    // Not a speed check: a drop that waited for the pipe would never return.
    let returned = dropped_rx.recv_timeout(Duration::from_secs(30)).is_ok();
    close_tx.send(()).unwrap();
    writer.join().unwrap();
    assert!(returned, "dropping the reader waited for the idle pipe");
}
