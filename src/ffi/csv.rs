//! `DativoCsvReader`: CSV files as an Arrow schema and an Arrow C stream.

use std::ffi::c_char;
use std::path::PathBuf;
use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::SchemaRef;

use super::args;
use dativo_abi::arrow_c::ArrowArrayStream;
use dativo_abi::error::{boundary, no_panic, DativoError, Failure};
use dativo_abi::status::DativoStatus;
use dativo_abi::stream;
use dativo_engine::csv::{CsvReader, ReadStats};
use dativo_engine::job::open_csv_reader;
use dativo_engine::Error;

/// An open CSV reader over one or several files that share their columns. Opaque.
///
/// Threading: a reader may be moved between threads but must not be used by two threads at
/// once. The stream it hands out is independent of it.
pub struct DativoCsvReader {
    schema: SchemaRef,
    stats: Arc<ReadStats>,
    /// The data, until `dativo_csv_reader_stream` moves it into a stream.
    reader: Option<CsvReader>,
}

/// Open CSV files for reading.
///
/// `paths` holds `num_paths` (at least 1) file paths or `s3://bucket/key` object URLs; every
/// file must have the same columns. `options` is NULL, "" or a JSON object with the keys of a
/// job's `source.engine.options` (README, "C API options"), e.g. `{"delimiter": ";",
/// "null_values": ["", "NA"]}`, and for objects the connection keys of `target.connection.s3`
/// (`endpoint`, `region`, `access_key_id`, `secret_access_key`, `session_token`,
/// `path_style_access`, `secure`). An object read changes fails the read rather than mixing
/// versions.
/// Opening reads the header and infers the column types from the first rows of the first file
/// (unless the options fix them), so a missing file, an empty file or a bad option fails here.
/// Reading then runs on background threads as the stream is consumed.
///
/// On success `*out` is a new reader; free it with `dativo_csv_reader_free`.
/// Errors: INVALID_ARGUMENT (NULL, non-UTF-8 options), CONFIG (bad option), IO, DATA, SCHEMA.
///
/// # Safety
/// `paths` points to `num_paths` valid C strings; `options` is NULL or a C string; `out` is
/// writable; `error` is NULL or a zero-initialised `DativoError`.
#[no_mangle]
pub unsafe extern "C" fn dativo_csv_reader_open(
    paths: *const *const c_char,
    num_paths: usize,
    options: *const c_char,
    out: *mut *mut DativoCsvReader,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_csv_reader_open", error, || {
        let out = args::required(out, "out")?;
        if num_paths == 0 {
            return Err(Failure::invalid("num_paths is 0: give at least one file"));
        }
        if paths.is_null() {
            return Err(Failure::invalid("paths is NULL"));
        }
        let files = (0..num_paths)
            .map(|i| args::path(*paths.add(i), &format!("paths[{i}]")))
            .collect::<Result<Vec<PathBuf>, _>>()?;
        let reader = open_csv_reader(&files, args::optional_text(options, "options")?, "reader options")?;
        let handle = DativoCsvReader { schema: reader.schema(), stats: reader.stats(), reader: Some(reader) };
        ptr::write(out, Box::into_raw(Box::new(handle)));
        Ok(())
    })
}

/// The schema of the rows the reader produces: a struct schema with one field per column.
///
/// Writes `*out`, which the caller owns and must release (`out->release(out)`). Can be called
/// any number of times, before or after taking the stream.
/// Errors: INVALID_ARGUMENT (NULL), ARROW (a type without a C Data Interface form).
///
/// # Safety
/// `reader` is NULL or a live reader; `out` is writable; `error` as everywhere.
#[no_mangle]
pub unsafe extern "C" fn dativo_csv_reader_schema(
    reader: *const DativoCsvReader,
    out: *mut FFI_ArrowSchema,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_csv_reader_schema", error, || {
        let reader = args::handle(reader.cast_mut(), "reader")?;
        let out = args::required(out, "out")?;
        let schema = FFI_ArrowSchema::try_from(reader.schema.as_ref()).map_err(|e| Failure::from(Error::Arrow(e)))?;
        ptr::write(out, schema);
        Ok(())
    })
}

/// Move the reader's data into an Arrow C stream of record batches (struct arrays).
///
/// Writes `*out`, which the caller owns and must release (`out->release(out)`); the stream
/// stays valid after `dativo_csv_reader_free`. Can be called once per reader; the second call
/// fails with INVALID_ARGUMENT. A bad row makes `get_next` return EINVAL (EIO for I/O
/// failures) and `get_last_error` the full message (file, line, column, value);
/// `dativo_status_from_stream` gives the status. After an error every `get_next` fails again,
/// so an error never looks like the end of the data. The stream may be moved between threads
/// but used by one thread at a time.
///
/// # Safety
/// `reader` is NULL or a live reader; `out` is writable; `error` as everywhere.
#[no_mangle]
pub unsafe extern "C" fn dativo_csv_reader_stream(
    reader: *mut DativoCsvReader,
    out: *mut ArrowArrayStream,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_csv_reader_stream", error, || {
        let reader = args::handle(reader, "reader")?;
        let out = args::required(out, "out")?;
        let data =
            reader.reader.take().ok_or_else(|| Failure::invalid("the stream was already taken from this reader"))?;
        stream::export(Box::new(data.into_record_batch_reader()), out);
        Ok(())
    })
}

/// Good rows delivered by the reader's stream so far. 0 for NULL. May be called while another
/// thread consumes the stream.
///
/// # Safety
/// `reader` is NULL or a live reader.
#[no_mangle]
pub unsafe extern "C" fn dativo_csv_reader_rows_read(reader: *const DativoCsvReader) -> u64 {
    no_panic(0, || reader.as_ref().map_or(0, |r| r.stats.rows_read.load(Ordering::Relaxed)))
}

/// Bad rows skipped or rejected so far (options `on_error: skip | reject`). 0 for NULL.
///
/// # Safety
/// `reader` is NULL or a live reader.
#[no_mangle]
pub unsafe extern "C" fn dativo_csv_reader_rows_rejected(reader: *const DativoCsvReader) -> u64 {
    no_panic(0, || reader.as_ref().map_or(0, |r| r.stats.rows_rejected.load(Ordering::Relaxed)))
}

/// Free a reader (NULL is allowed). A stream already taken from it keeps working.
///
/// # Safety
/// `reader` is NULL or a live reader, not used again after this call.
#[no_mangle]
pub unsafe extern "C" fn dativo_csv_reader_free(reader: *mut DativoCsvReader) {
    if !reader.is_null() {
        no_panic((), || drop(Box::from_raw(reader)));
    }
}
