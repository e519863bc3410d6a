//! The C API called exactly as C calls it: through the `extern "C"` functions, with raw
//! pointers, including misuse (NULLs, double takes, use after close), panics inside stream
//! callbacks, and errors in the middle of a stream.

use std::ffi::{c_char, CStr, CString};
use std::fs;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::Arc;

use arrow_array::ffi::FFI_ArrowArray;
use arrow_array::{Array, Int64Array, RecordBatch, RecordBatchReader, StringArray, StructArray};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

use super::csv::*;
use super::job::*;
use super::parquet::*;
use super::*;
use crate::status::dativo_status_from_stream;
use dativo_abi::stream::export;

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

/// The message of a filled error (released when `error` drops).
fn message(error: &DativoError) -> String {
    assert!(!error.message.is_null(), "the error has no message");
    unsafe { CStr::from_ptr(error.message) }.to_str().unwrap().to_string()
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

/// Open `paths` with `options`; the status, the reader (NULL on failure) and the error.
fn open(paths: &[&Path], options: Option<&str>) -> (DativoStatus, *mut DativoCsvReader, DativoError) {
    let paths: Vec<CString> = paths.iter().map(|p| c(p.to_str().unwrap())).collect();
    let pointers: Vec<*const c_char> = paths.iter().map(|p| p.as_ptr()).collect();
    let options = options.map(c);
    let mut reader = ptr::null_mut();
    let mut error = DativoError::default();
    let status = unsafe {
        dativo_csv_reader_open(
            pointers.as_ptr(),
            pointers.len(),
            options.as_ref().map_or(ptr::null(), |o| o.as_ptr()),
            &mut reader,
            &mut error,
        )
    };
    (status, reader, error)
}

fn take_stream(reader: *mut DativoCsvReader) -> ArrowArrayStream {
    let mut stream = ArrowArrayStream::empty();
    let mut error = DativoError::default();
    assert_eq!(unsafe { dativo_csv_reader_stream(reader, &mut stream, &mut error) }, DATIVO_STATUS_OK);
    stream
}

/// get_next once: Ok(None) at the end, Ok(Some(rows)), or Err(errno code).
fn next_rows(stream: &mut ArrowArrayStream) -> Result<Option<usize>, i32> {
    let mut array = FFI_ArrowArray::empty();
    let code = unsafe { (stream.get_next.unwrap())(stream, &mut array) };
    if code != 0 {
        return Err(code);
    }
    Ok((!array.is_released()).then(|| array.len()))
}

fn sample_csv(dir: &Path) -> PathBuf {
    write_file(dir, "people.csv", "id,name\n1,ann\n2,bob\n3,cy\n")
}

#[test]
fn reads_csv_through_the_c_stream() {
    let dir = tempfile::tempdir().unwrap();
    let csv = sample_csv(dir.path());
    let (status, reader, _) = open(&[&csv, &csv], None);
    assert_eq!(status, DATIVO_STATUS_OK);

    let mut schema = FFI_ArrowSchema::empty();
    let mut error = DativoError::default();
    assert_eq!(unsafe { dativo_csv_reader_schema(reader, &mut schema, &mut error) }, DATIVO_STATUS_OK);
    let schema = Schema::try_from(&schema).unwrap();
    assert_eq!(schema.field(0).name(), "id");
    assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    assert_eq!(schema.field(1).data_type(), &DataType::Utf8);

    let mut stream = take_stream(reader);
    let mut rows = 0;
    while let Some(n) = next_rows(&mut stream).unwrap() {
        rows += n;
    }
    assert_eq!(rows, 6, "two files of three rows");
    assert_eq!(unsafe { dativo_csv_reader_rows_read(reader) }, 6);
    assert_eq!(unsafe { dativo_csv_reader_rows_rejected(reader) }, 0);
    // The stream outlives the reader handle.
    unsafe { dativo_csv_reader_free(reader) };
    assert_eq!(next_rows(&mut stream), Ok(None));
}

#[test]
fn stream_can_be_taken_once_and_outlives_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    let (_, reader, _) = open(&[&sample_csv(dir.path())], None);
    let mut stream = take_stream(reader);
    unsafe { dativo_csv_reader_free(reader) };
    assert_eq!(next_rows(&mut stream), Ok(Some(3)));

    let (_, reader, _) = open(&[&sample_csv(dir.path())], None);
    let _first = take_stream(reader);
    let mut second = ArrowArrayStream::empty();
    let mut error = DativoError::default();
    let status = unsafe { dativo_csv_reader_stream(reader, &mut second, &mut error) };
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
    assert_eq!(message(&error), "dativo_csv_reader_stream: the stream was already taken from this reader");
    assert!(second.is_released(), "out-parameters are written only on success");
    unsafe { dativo_csv_reader_free(reader) };
}

#[test]
fn open_errors_carry_status_and_full_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.csv");
    let (status, reader, error) = open(&[&missing], None);
    assert_eq!(status, DATIVO_STATUS_IO);
    assert!(reader.is_null(), "out-parameters are written only on success");
    assert!(message(&error).contains(&missing.display().to_string()), "{}", message(&error));

    let csv = sample_csv(dir.path());
    let (status, reader, error) = open(&[&csv], Some(r#"{"delimeter": ";"}"#));
    assert_eq!(status, DATIVO_STATUS_CONFIG);
    assert!(reader.is_null());
    assert_eq!(
        message(&error),
        "reader options: unknown key 'delimeter' (line 1, column 2); did you mean 'delimiter'?"
    );

    let (status, _, error) = open(&[&csv], Some(r#"{"on_error": "reject"}"#));
    assert_eq!(status, DATIVO_STATUS_CONFIG);
    assert!(message(&error).contains("rejects_path"), "{}", message(&error));

    let empty = write_file(dir.path(), "empty.csv", "");
    let (status, _, error) = open(&[&empty], None);
    assert_eq!(status, DATIVO_STATUS_DATA);
    assert!(message(&error).contains("empty.csv"), "{}", message(&error));

    let other = write_file(dir.path(), "other.csv", "id,title\n1,x\n");
    let (status, _, error) = open(&[&csv, &other], None);
    assert_eq!(status, DATIVO_STATUS_SCHEMA);
    assert!(message(&error).contains("other.csv"), "{}", message(&error));
}

#[test]
fn a_thread_count_out_of_range_is_a_config_error_not_internal() {
    let dir = tempfile::tempdir().unwrap();
    let csv = sample_csv(dir.path());
    let (status, reader, error) = open(&[&csv], Some(r#"{"threads": 30000}"#));
    assert_eq!(status, DATIVO_STATUS_CONFIG, "{}", message(&error));
    assert!(reader.is_null());
    assert_eq!(message(&error), "reader options: threads must be 0 (one per core) or between 1 and 256, got 30000");
    let (status, writer, error) = try_open_writer(dir.path(), &ids_schema(), Some(r#"{"threads": 30000}"#));
    assert_eq!(status, DATIVO_STATUS_CONFIG, "{}", message(&error));
    assert!(writer.is_null());
    assert_eq!(message(&error), "writer options: threads must be 0 (one per core) or between 1 and 256, got 30000");
}

#[test]
fn options_are_json_with_the_job_keys() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_file(dir.path(), "semi.csv", "a;b\n1;NA\n2;x\n");
    let (status, reader, _) = open(&[&csv], Some(r#"{"delimiter": ";", "null_values": ["NA"], "batch_size": 1}"#));
    assert_eq!(status, DATIVO_STATUS_OK);
    let mut stream = take_stream(reader);
    assert_eq!(next_rows(&mut stream), Ok(Some(1)), "batch_size 1");
    assert_eq!(next_rows(&mut stream), Ok(Some(1)));
    assert_eq!(next_rows(&mut stream), Ok(None));
    unsafe { dativo_csv_reader_free(reader) };
}

#[test]
fn a_bad_row_mid_stream_is_an_error_never_the_end_of_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_file(dir.path(), "ints.csv", "n\n1\n2\n3\nthree\n5\n");
    let (status, reader, _) = open(&[&csv], Some(r#"{"infer_sample_rows": 1, "batch_size": 1}"#));
    assert_eq!(status, DATIVO_STATUS_OK);
    let mut stream = take_stream(reader);
    let mut rows = 0;
    let code = loop {
        match next_rows(&mut stream) {
            Ok(Some(n)) => rows += n,
            Ok(None) => panic!("the bad row must not end the stream"),
            Err(code) => break code,
        }
    };
    assert_eq!(rows, 3);
    assert_eq!(code, libc::EINVAL);
    let last = unsafe { CStr::from_ptr((stream.get_last_error.unwrap())(&mut stream)) }.to_str().unwrap().to_string();
    assert!(last.contains("ints.csv:5: column 'n'") && last.contains("\"three\""), "{last}");

    let mut error = DativoError::default();
    assert_eq!(unsafe { dativo_status_from_stream(&mut stream, code, &mut error) }, DATIVO_STATUS_DATA);
    assert_eq!(message(&error), last);
    // Sticky: asking again gives the same error, not the rows after it.
    assert_eq!(next_rows(&mut stream), Err(libc::EINVAL));
    assert_eq!(unsafe { dativo_status_from_stream(&mut stream, 0, &mut error) }, DATIVO_STATUS_OK);
    unsafe { dativo_csv_reader_free(reader) };
}

#[test]
fn error_text_never_contains_nul() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_file(dir.path(), "nul.csv", "n\n1\nx\0y\n");
    let (_, reader, _) = open(&[&csv], Some(r#"{"infer_sample_rows": 1}"#));
    let mut stream = take_stream(reader);
    let code = next_rows(&mut stream).unwrap_err();
    let mut error = DativoError::default();
    assert_eq!(unsafe { dativo_status_from_stream(&mut stream, code, &mut error) }, DATIVO_STATUS_DATA);
    assert!(message(&error).contains("x\\0y"), "{}", message(&error));
    unsafe { dativo_csv_reader_free(reader) };
}

/// A reader whose `next` panics: the panic must come out of `get_next` as an error.
struct Panicking(SchemaRef);

impl Iterator for Panicking {
    type Item = Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        panic!("reader exploded")
    }
}

impl RecordBatchReader for Panicking {
    fn schema(&self) -> SchemaRef {
        self.0.clone()
    }
}

fn ids_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true), Field::new("name", DataType::Utf8, true)]))
}

#[test]
fn a_panicking_stream_callback_is_an_internal_error_not_an_abort() {
    let mut stream = ArrowArrayStream::empty();
    unsafe { export(Box::new(Panicking(ids_schema())), &mut stream) };
    let code = next_rows(&mut stream).unwrap_err();
    assert_eq!(code, libc::EIO);
    let mut error = DativoError::default();
    assert_eq!(unsafe { dativo_status_from_stream(&mut stream, code, &mut error) }, DATIVO_STATUS_INTERNAL);
    assert!(message(&error).contains("reader exploded"), "{}", message(&error));
    assert_eq!(next_rows(&mut stream), Err(libc::EIO), "the stream stays failed");

    // A writer consuming that stream fails the same way and commits nothing.
    let dir = tempfile::tempdir().unwrap();
    let writer = open_writer(dir.path(), &ids_schema(), None);
    let mut stream = ArrowArrayStream::empty();
    unsafe { export(Box::new(Panicking(ids_schema())), &mut stream) };
    let mut error = DativoError::default();
    let status = unsafe { dativo_parquet_writer_write_stream(writer, &mut stream, &mut error) };
    assert_eq!(status, DATIVO_STATUS_INTERNAL);
    assert!(message(&error).contains("reader exploded"));
    assert!(stream.is_released(), "moved even on failure");
    unsafe { dativo_parquet_writer_free(writer) };
    assert_eq!(parquet_files(dir.path()), Vec::<PathBuf>::new());
}

fn open_writer(dir: &Path, schema: &Schema, options: Option<&str>) -> *mut DativoParquetWriter {
    let (status, writer, error) = try_open_writer(dir, schema, options);
    assert_eq!(status, DATIVO_STATUS_OK, "{}", if status == 0 { String::new() } else { message(&error) });
    writer
}

fn try_open_writer(
    dir: &Path,
    schema: &Schema,
    options: Option<&str>,
) -> (DativoStatus, *mut DativoParquetWriter, DativoError) {
    let schema = FFI_ArrowSchema::try_from(schema).unwrap();
    let dir = c(dir.to_str().unwrap());
    let options = options.map(c);
    let mut writer = ptr::null_mut();
    let mut error = DativoError::default();
    let status = unsafe {
        dativo_parquet_writer_open(
            dir.as_ptr(),
            &schema,
            options.as_ref().map_or(ptr::null(), |o| o.as_ptr()),
            &mut writer,
            &mut error,
        )
    };
    (status, writer, error)
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

fn parquet_rows(path: &Path) -> i64 {
    let file = fs::File::open(path).unwrap();
    let reader = ::parquet::file::reader::SerializedFileReader::new(file).unwrap();
    ::parquet::file::reader::FileReader::metadata(&reader).file_metadata().num_rows()
}

fn batch_array(ids: &[i64]) -> FFI_ArrowArray {
    let names: Vec<String> = ids.iter().map(|i| format!("n{i}")).collect();
    let batch = RecordBatch::try_new(
        ids_schema(),
        vec![Arc::new(Int64Array::from(ids.to_vec())), Arc::new(StringArray::from(names))],
    )
    .unwrap();
    FFI_ArrowArray::new(&StructArray::from(batch).into_data())
}

fn close(writer: *mut DativoParquetWriter) -> (DativoStatus, *mut DativoFileList, DativoError) {
    let mut list = ptr::null_mut();
    let mut error = DativoError::default();
    let status = unsafe { dativo_parquet_writer_close(writer, &mut list, &mut error) };
    (status, list, error)
}

#[test]
fn writes_arrays_and_commits_files_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let writer = open_writer(&out, &ids_schema(), Some(r#"{"compression": "zstd", "max_rows_per_file": 3}"#));
    for ids in [&[1, 2][..], &[3, 4, 5]] {
        let mut array = batch_array(ids);
        let mut error = DativoError::default();
        let schema = FFI_ArrowSchema::try_from(ids_schema().as_ref()).unwrap();
        let status = unsafe { dativo_parquet_writer_write_array(writer, &mut array, &schema, &mut error) };
        assert_eq!(status, DATIVO_STATUS_OK);
        assert!(array.is_released(), "the array was moved");
    }
    assert!(parquet_files(&out).is_empty(), "nothing is visible before close");
    let (status, list, _) = close(writer);
    assert_eq!(status, DATIVO_STATUS_OK);
    let count = unsafe { dativo_file_list_count(list) };
    assert_eq!(count, 2, "rolled at 3 rows");
    let mut rows = 0;
    for i in 0..count {
        let path = PathBuf::from(unsafe { CStr::from_ptr(dativo_file_list_path(list, i)) }.to_str().unwrap());
        assert_eq!(parquet_rows(&path) as u64, unsafe { dativo_file_list_rows(list, i) });
        assert_eq!(fs::metadata(&path).unwrap().len(), unsafe { dativo_file_list_bytes(list, i) });
        rows += unsafe { dativo_file_list_rows(list, i) };
    }
    assert_eq!(rows, 5);
    assert!(unsafe { dativo_file_list_path(list, count) }.is_null(), "out of range");
    assert_eq!(unsafe { dativo_file_list_rows(list, count) }, 0);
    unsafe { dativo_file_list_free(list) };

    // After close only free is valid.
    let mut array = batch_array(&[6]);
    let mut error = DativoError::default();
    let status = unsafe { dativo_parquet_writer_write_array(writer, &mut array, ptr::null(), &mut error) };
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
    assert_eq!(message(&error), "dativo_parquet_writer_write_array: the writer is closed");
    assert!(array.is_released(), "moved even on failure");
    let (status, list, _) = close(writer);
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
    assert!(list.is_null());
    unsafe { dativo_parquet_writer_free(writer) };
}

#[test]
fn an_array_of_other_columns_is_a_schema_error_with_or_without_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let floats = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Float64, true),
            Field::new("name", DataType::Utf8, true),
        ])),
        vec![Arc::new(arrow_array::Float64Array::from(vec![1.5])), Arc::new(StringArray::from(vec!["a"]))],
    )
    .unwrap();
    let writer = open_writer(dir.path(), &ids_schema(), None);
    let mut array = FFI_ArrowArray::new(&StructArray::from(floats.clone()).into_data());
    let schema = FFI_ArrowSchema::try_from(floats.schema().as_ref()).unwrap();
    let mut error = DativoError::default();
    let status = unsafe { dativo_parquet_writer_write_array(writer, &mut array, &schema, &mut error) };
    assert_eq!(status, DATIVO_STATUS_SCHEMA);
    assert_eq!(
        message(&error),
        "array does not match the Parquet output schema: column 1 is `id` Float64 (nullable) in the array but `id` Int64 (nullable) in the output"
    );
    unsafe { dativo_parquet_writer_free(writer) };

    // Without a schema the types cannot be checked, but a different shape is still caught
    // (arrow-rs would panic on it).
    let one_column = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![1]))],
    )
    .unwrap();
    let writer = open_writer(dir.path(), &ids_schema(), None);
    let mut array = FFI_ArrowArray::new(&StructArray::from(one_column).into_data());
    let status = unsafe { dativo_parquet_writer_write_array(writer, &mut array, ptr::null(), &mut error) };
    assert_eq!(status, DATIVO_STATUS_SCHEMA);
    assert_eq!(
        message(&error),
        "the array does not match the writer's schema: the batch has 1 children, its type Struct(\"id\": Int64, \"name\": Utf8) needs 2"
    );
    unsafe { dativo_parquet_writer_free(writer) };
    assert!(parquet_files(dir.path()).is_empty());
}

#[test]
fn csv_stream_to_parquet_writer() {
    let dir = tempfile::tempdir().unwrap();
    let csv =
        write_file(dir.path(), "big.csv", &(0..1000).fold("id,name\n".to_string(), |s, i| s + &format!("{i},n{i}\n")));
    let (_, reader, _) = open(&[&csv], Some(r#"{"batch_size": 100}"#));
    let mut schema = FFI_ArrowSchema::empty();
    let mut error = DativoError::default();
    unsafe { dativo_csv_reader_schema(reader, &mut schema, &mut error) };
    let schema = Schema::try_from(&schema).unwrap();
    let writer = open_writer(dir.path(), &schema, None);
    let mut stream = take_stream(reader);
    assert_eq!(unsafe { dativo_parquet_writer_write_stream(writer, &mut stream, &mut error) }, DATIVO_STATUS_OK);
    assert!(stream.is_released());
    let (status, list, _) = close(writer);
    assert_eq!(status, DATIVO_STATUS_OK);
    assert_eq!(unsafe { dativo_file_list_rows(list, 0) }, 1000);
    unsafe {
        dativo_file_list_free(list);
        dativo_parquet_writer_free(writer);
        dativo_csv_reader_free(reader);
    }
}

#[test]
fn a_failing_stream_keeps_its_status_and_the_writer_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_file(dir.path(), "ints.csv", "id,name\n1,a\n2,b\nbad,c\n");
    let (_, reader, _) = open(&[&csv], Some(r#"{"infer_sample_rows": 1, "batch_size": 1}"#));
    let out = dir.path().join("out");
    let writer = open_writer(&out, &ids_schema(), None);
    let mut stream = take_stream(reader);
    let mut error = DativoError::default();
    let status = unsafe { dativo_parquet_writer_write_stream(writer, &mut stream, &mut error) };
    assert_eq!(status, DATIVO_STATUS_DATA);
    assert!(message(&error).contains("ints.csv:4: column 'id'"), "{}", message(&error));
    let (status, _, error) = close(writer);
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
    assert!(message(&error).contains("the writer failed earlier and wrote nothing"), "{}", message(&error));
    assert!(message(&error).contains("ints.csv:4:"), "{}", message(&error));
    unsafe { dativo_parquet_writer_free(writer) };
    unsafe { dativo_csv_reader_free(reader) };
    assert!(parquet_files(&out).is_empty());
    assert_eq!(fs::read_dir(&out).map(|d| d.count()).unwrap_or(0), 0, "no temp file left");
}

#[test]
fn a_stream_with_other_columns_is_a_schema_error() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_file(dir.path(), "other.csv", "id,title\n1,a\n");
    let (_, reader, _) = open(&[&csv], None);
    let writer = open_writer(dir.path(), &ids_schema(), None);
    let mut stream = take_stream(reader);
    let mut error = DativoError::default();
    let status = unsafe { dativo_parquet_writer_write_stream(writer, &mut stream, &mut error) };
    assert_eq!(status, DATIVO_STATUS_SCHEMA);
    assert_eq!(
        message(&error),
        "stream does not match the Parquet output schema: column 2 is `title` Utf8 (nullable) in the stream but `name` Utf8 (nullable) in the output"
    );
    unsafe {
        dativo_parquet_writer_free(writer);
        dativo_csv_reader_free(reader);
    }
}

#[test]
fn writer_open_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (status, writer, error) = try_open_writer(dir.path(), &ids_schema(), Some(r#"{"compression": "brotli"}"#));
    assert_eq!(status, DATIVO_STATUS_CONFIG);
    assert!(writer.is_null());
    assert!(message(&error).starts_with("writer options: compression: "), "{}", message(&error));

    let file = write_file(dir.path(), "a_file", "x");
    let (status, _, error) = try_open_writer(&file, &ids_schema(), None);
    assert_eq!(status, DATIVO_STATUS_IO, "{}", message(&error));

    let released = FFI_ArrowSchema::empty();
    let mut out = ptr::null_mut();
    let mut error = DativoError::default();
    let d = c(dir.path().to_str().unwrap());
    let status = unsafe { dativo_parquet_writer_open(d.as_ptr(), &released, ptr::null(), &mut out, &mut error) };
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
    assert_eq!(message(&error), "dativo_parquet_writer_open: schema is released");
}

#[test]
fn null_arguments_are_invalid_argument_errors_never_crashes() {
    let mut error = DativoError::default();
    let mut reader = ptr::null_mut();
    let path = c("x.csv");
    let paths = [path.as_ptr()];
    let status = unsafe { dativo_csv_reader_open(ptr::null(), 1, ptr::null(), &mut reader, &mut error) };
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
    assert_eq!(message(&error), "dativo_csv_reader_open: paths is NULL");
    // The same error struct can be reused: the old message is released first.
    let status = unsafe { dativo_csv_reader_open(paths.as_ptr(), 0, ptr::null(), &mut reader, &mut error) };
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
    assert_eq!(message(&error), "dativo_csv_reader_open: num_paths is 0: give at least one file");
    let null_path = [ptr::null()];
    let status = unsafe { dativo_csv_reader_open(null_path.as_ptr(), 1, ptr::null(), &mut reader, &mut error) };
    assert_eq!(message(&error), "dativo_csv_reader_open: paths[0] is NULL");
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
    let status = unsafe { dativo_csv_reader_open(paths.as_ptr(), 1, ptr::null(), ptr::null_mut(), &mut error) };
    assert_eq!(message(&error), "dativo_csv_reader_open: out is NULL");
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
    let bad_utf8 = [0xffu8, 0];
    let status =
        unsafe { dativo_csv_reader_open(paths.as_ptr(), 1, bad_utf8.as_ptr().cast(), &mut reader, &mut error) };
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
    assert_eq!(message(&error), "dativo_csv_reader_open: options is not valid UTF-8");
    assert!(reader.is_null());
    // A NULL error struct is allowed: the status alone is returned.
    let status = unsafe { dativo_csv_reader_open(ptr::null(), 1, ptr::null(), &mut reader, ptr::null_mut()) };
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);

    unsafe {
        let mut schema = FFI_ArrowSchema::empty();
        assert_eq!(dativo_csv_reader_schema(ptr::null(), &mut schema, &mut error), DATIVO_STATUS_INVALID_ARGUMENT);
        assert_eq!(message(&error), "dativo_csv_reader_schema: reader is NULL");
        let mut stream = ArrowArrayStream::empty();
        assert_eq!(dativo_csv_reader_stream(ptr::null_mut(), &mut stream, &mut error), DATIVO_STATUS_INVALID_ARGUMENT);
        assert_eq!(dativo_csv_reader_rows_read(ptr::null()), 0);
        assert_eq!(dativo_csv_reader_rows_rejected(ptr::null()), 0);
        dativo_csv_reader_free(ptr::null_mut());

        let mut writer = ptr::null_mut();
        let dir = c("/tmp");
        let status = dativo_parquet_writer_open(dir.as_ptr(), ptr::null(), ptr::null(), &mut writer, &mut error);
        assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
        assert_eq!(message(&error), "dativo_parquet_writer_open: schema is NULL");
        let status = dativo_parquet_writer_write_array(ptr::null_mut(), ptr::null_mut(), ptr::null(), &mut error);
        assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
        assert_eq!(message(&error), "dativo_parquet_writer_write_array: writer is NULL");
        let mut array = batch_array(&[1]);
        let status = dativo_parquet_writer_write_array(ptr::null_mut(), &mut array, ptr::null(), &mut error);
        assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
        assert!(array.is_released(), "moved even when the writer is NULL");
        let status = dativo_parquet_writer_write_stream(ptr::null_mut(), ptr::null_mut(), &mut error);
        assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
        let mut released = ArrowArrayStream::empty();
        let tmp = tempfile::tempdir().unwrap();
        let w = open_writer(tmp.path(), &ids_schema(), None);
        let status = dativo_parquet_writer_write_stream(w, &mut released, &mut error);
        assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
        assert_eq!(
            message(&error),
            "dativo_parquet_writer_write_stream: stream is released (already consumed or moved)"
        );
        dativo_parquet_writer_free(w);
        assert_eq!(dativo_parquet_writer_close(ptr::null_mut(), ptr::null_mut(), &mut error), 1);
        dativo_parquet_writer_free(ptr::null_mut());

        assert_eq!(dativo_file_list_count(ptr::null()), 0);
        assert!(dativo_file_list_path(ptr::null(), 0).is_null());
        assert_eq!(dativo_file_list_bytes(ptr::null(), 0), 0);
        dativo_file_list_free(ptr::null_mut());

        let mut report = ptr::null_mut();
        assert_eq!(dativo_job_run(ptr::null(), &mut report, &mut error), DATIVO_STATUS_INVALID_ARGUMENT);
        assert_eq!(message(&error), "dativo_job_run: path is NULL");
        assert_eq!(dativo_job_report_rows_read(ptr::null()), 0);
        assert_eq!(dativo_job_report_seconds(ptr::null()), 0.0);
        assert!(dativo_job_report_files(ptr::null()).is_null());
        dativo_job_report_free(ptr::null_mut());

        assert_eq!(dativo_status_from_stream(ptr::null_mut(), libc::EIO, &mut error), DATIVO_STATUS_INVALID_ARGUMENT);
    }
}

#[test]
fn runs_a_job_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "in.csv", "id,name\n1,a\n2,b\n3,c\n");
    let job = write_file(
        dir.path(),
        "job.yaml",
        "source:\n  type: csv\n  files:\n    - path: in.csv\ntarget:\n  type: local\n  output_base: out\n",
    );
    let path = c(job.to_str().unwrap());
    let mut report = ptr::null_mut();
    let mut error = DativoError::default();
    assert_eq!(unsafe { dativo_job_run(path.as_ptr(), &mut report, &mut error) }, DATIVO_STATUS_OK);
    unsafe {
        assert_eq!(dativo_job_report_rows_read(report), 3);
        assert_eq!(dativo_job_report_rows_written(report), 3);
        assert_eq!(dativo_job_report_rows_rejected(report), 0);
        assert_eq!(dativo_job_report_warnings(report), 0);
        assert_eq!(dativo_job_report_input_bytes(report), 20);
        let files = dativo_job_report_files(report);
        assert_eq!(dativo_file_list_count(files), 1);
        let written = PathBuf::from(CStr::from_ptr(dativo_file_list_path(files, 0)).to_str().unwrap());
        assert_eq!(written.parent().unwrap(), dir.path().join("out"));
        assert_eq!(parquet_rows(&written), 3);
        assert_eq!(dativo_job_report_bytes_written(report), fs::metadata(&written).unwrap().len());
        assert!(dativo_job_report_seconds(report) >= 0.0);
        dativo_job_report_free(report);
    }

    let bad = write_file(dir.path(), "bad.yaml", "source:\n  typo: csv\ntarget:\n  output_base: out\n");
    let path = c(bad.to_str().unwrap());
    let mut report = ptr::null_mut();
    assert_eq!(unsafe { dativo_job_run(path.as_ptr(), &mut report, &mut error) }, DATIVO_STATUS_CONFIG);
    assert!(report.is_null());
    assert!(message(&error).contains("unknown key 'source.typo'"), "{}", message(&error));
}

#[test]
fn a_foreign_stream_error_keeps_its_text_and_maps_its_code() {
    // A minimal producer that is not dativo's: get_next fails with EIO and a message.
    unsafe extern "C" fn get_schema(_: *mut ArrowArrayStream, out: *mut FFI_ArrowSchema) -> i32 {
        ptr::write(out, FFI_ArrowSchema::try_from(ids_schema().as_ref()).unwrap());
        0
    }
    unsafe extern "C" fn get_next(_: *mut ArrowArrayStream, _: *mut FFI_ArrowArray) -> i32 {
        libc::EIO
    }
    unsafe extern "C" fn get_last_error(_: *mut ArrowArrayStream) -> *const c_char {
        c"disk on fire".as_ptr()
    }
    unsafe extern "C" fn release(s: *mut ArrowArrayStream) {
        (*s).release = None;
    }
    let foreign = || ArrowArrayStream {
        get_schema: Some(get_schema),
        get_next: Some(get_next),
        get_last_error: Some(get_last_error),
        release: Some(release),
        private_data: ptr::null_mut(),
    };
    let mut stream = foreign();
    let mut error = DativoError::default();
    assert_eq!(unsafe { dativo_status_from_stream(&mut stream, libc::EIO, &mut error) }, DATIVO_STATUS_IO);
    assert_eq!(message(&error), "disk on fire");
    assert_eq!(unsafe { dativo_status_from_stream(&mut stream, libc::EINVAL, &mut error) }, DATIVO_STATUS_DATA);

    let dir = tempfile::tempdir().unwrap();
    let writer = open_writer(dir.path(), &ids_schema(), None);
    let mut stream = foreign();
    let status = unsafe { dativo_parquet_writer_write_stream(writer, &mut stream, &mut error) };
    assert_eq!(status, DATIVO_STATUS_IO);
    assert_eq!(message(&error), "disk on fire");
    assert!(stream.is_released());
    unsafe { dativo_parquet_writer_free(writer) };
}

#[test]
fn status_strings_and_versions() {
    let text = |s| unsafe { CStr::from_ptr(dativo_status_string(s)) }.to_str().unwrap();
    assert_eq!(text(DATIVO_STATUS_OK), "ok");
    assert_eq!(text(DATIVO_STATUS_IO), "I/O error");
    assert_eq!(unsafe { CStr::from_ptr(version::dativo_version()) }.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn options_that_are_not_an_object_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let csv = sample_csv(dir.path());
    for text in ["[1, 2]", "null", "42"] {
        let (status, _, error) = open(&[&csv], Some(text));
        assert_eq!(status, DATIVO_STATUS_CONFIG);
        assert_eq!(
            message(&error),
            format!("reader options: must be a JSON object such as {{\"key\": value}}, got '{text}'")
        );
    }
}

#[test]
fn a_released_stream_is_an_invalid_argument() {
    let mut stream = ArrowArrayStream::empty();
    let mut error = DativoError::default();
    assert_eq!(
        unsafe { dativo_status_from_stream(&mut stream, libc::EINVAL, &mut error) },
        DATIVO_STATUS_INVALID_ARGUMENT
    );
    assert_eq!(message(&error), "dativo_status_from_stream: stream is released");
}

#[test]
fn independent_handles_work_in_parallel_threads() {
    // Four threads, each with its own reader, stream and writer, all at once; plus a job run.
    let dir = tempfile::tempdir().unwrap();
    let text = (0..5000).fold("id,name\n".to_string(), |s, i| s + &format!("{i},n{i}\n"));
    let csv = write_file(dir.path(), "shared.csv", &text);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let csv = csv.clone();
            let out = dir.path().join(format!("out{t}"));
            std::thread::spawn(move || {
                let (status, reader, _) = open(&[&csv], Some(r#"{"batch_size": 500}"#));
                assert_eq!(status, DATIVO_STATUS_OK);
                let mut schema = FFI_ArrowSchema::empty();
                let mut error = DativoError::default();
                unsafe { dativo_csv_reader_schema(reader, &mut schema, &mut error) };
                let writer = open_writer(&out, &Schema::try_from(&schema).unwrap(), None);
                let mut stream = take_stream(reader);
                let status = unsafe { dativo_parquet_writer_write_stream(writer, &mut stream, &mut error) };
                assert_eq!(status, DATIVO_STATUS_OK);
                let (status, list, _) = close(writer);
                assert_eq!(status, DATIVO_STATUS_OK);
                let rows = unsafe { dativo_file_list_rows(list, 0) };
                unsafe {
                    dativo_file_list_free(list);
                    dativo_parquet_writer_free(writer);
                    dativo_csv_reader_free(reader);
                }
                rows
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 5000);
    }
    for t in 0..4 {
        let files = parquet_files(&dir.path().join(format!("out{t}")));
        assert_eq!(files.len(), 1);
        assert_eq!(parquet_rows(&files[0]), 5000);
    }
}

#[test]
fn a_stream_may_be_consumed_on_another_thread_than_the_one_that_opened_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_, reader, _) = open(&[&sample_csv(dir.path())], None);
    let mut stream = take_stream(reader);
    unsafe { dativo_csv_reader_free(reader) };
    let rows = std::thread::spawn(move || {
        let mut rows = 0;
        while let Some(n) = next_rows(&mut stream).unwrap() {
            rows += n;
        }
        rows
    })
    .join()
    .unwrap();
    assert_eq!(rows, 3);
}

#[test]
fn column_types_pin_types_by_name_and_name_the_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_file(dir.path(), "codes.csv", "code,amount\n007,1\n008,2\n");
    let (status, reader, _) = open(&[&csv], Some(r#"{"column_types": {"amount": "double"}}"#));
    assert_eq!(status, DATIVO_STATUS_OK);
    let mut schema = FFI_ArrowSchema::empty();
    let mut error = DativoError::default();
    unsafe { dativo_csv_reader_schema(reader, &mut schema, &mut error) };
    let schema = Schema::try_from(&schema).unwrap();
    assert_eq!(schema.field(0).data_type(), &DataType::Utf8, "inferred (leading zeros stay text)");
    assert_eq!(schema.field(1).data_type(), &DataType::Float64, "pinned");
    unsafe { dativo_csv_reader_free(reader) };

    let (status, _, error) = open(&[&csv], Some(r#"{"column_types": {"amount": "dobule"}}"#));
    assert_eq!(status, DATIVO_STATUS_CONFIG);
    assert!(
        message(&error)
            .starts_with("reader options: column_types.amount: unknown type 'dobule' (valid types: integer,"),
        "{}",
        message(&error)
    );
    assert!(message(&error).ends_with("; did you mean 'double'?"), "{}", message(&error));
    let (status, _, error) = open(&[&csv], Some(r#"{"column_types": {"amout": "double"}}"#));
    assert_eq!(status, DATIVO_STATUS_CONFIG);
    assert!(message(&error).contains("a type is given for column 'amout'"), "{}", message(&error));
}
