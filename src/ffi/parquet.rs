//! `DativoParquetWriter` (Arrow data in, committed Parquet files out) and `DativoFileList`.

use std::ffi::{c_char, CString};
use std::ptr;

use arrow_array::ffi::FFI_ArrowArray;
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{Schema, SchemaRef};

use super::args;
use dativo_abi::arrow_c::ArrowArrayStream;
use dativo_abi::error::{boundary, no_panic, DativoError, Failure};
use dativo_abi::status::DativoStatus;
use dativo_abi::stream::{import_batch, ImportedStream};
use dativo_engine::job::output::{output_options_from_text, Output};
use dativo_engine::parquet::writer::check_input_schema;
use dativo_engine::parquet::CommittedFile;

/// A Parquet writer into one directory or one `s3://bucket/prefix`. Opaque.
///
/// Local files are written under temporary names and appear under their final names
/// (`part-NNNNN.parquet`) only at `dativo_parquet_writer_close`; objects get names of their
/// own (`part-<run id>-NNNNN.parquet`) and become part of the table only when the close writes
/// the `_manifest.json` object that names them. Until then, and if the writer fails or is
/// freed without closing, nothing a reader sees changes. Threading: may be moved between
/// threads, used by one thread at a time.
pub struct DativoParquetWriter {
    schema: SchemaRef,
    state: WriterState,
}

enum WriterState {
    Open(Box<Output>),
    /// A write failed: the temp files are gone and every later call repeats why.
    Failed(String),
    Closed,
}

impl DativoParquetWriter {
    /// The open sink, or why there is none.
    fn sink(&mut self) -> Result<&mut Output, Failure> {
        match &mut self.state {
            WriterState::Open(sink) => Ok(sink),
            WriterState::Failed(why) => Err(Failure::invalid(format!(
                "the writer failed earlier and wrote nothing; the first error was: {why}"
            ))),
            WriterState::Closed => Err(Failure::invalid("the writer is closed")),
        }
    }

    /// A writer over an open output (for `dativo_parquet_writer_open_staged`, src/ffi/staged.rs).
    pub(crate) fn from_output(schema: SchemaRef, output: Output) -> Self {
        DativoParquetWriter { schema, state: WriterState::Open(Box::new(output)) }
    }

    /// The open output, taken out: the writer is closed afterwards (for
    /// `dativo_parquet_writer_stage`, src/ffi/staged.rs).
    pub(crate) fn take_output(&mut self) -> Result<Box<Output>, Failure> {
        self.sink()?;
        match std::mem::replace(&mut self.state, WriterState::Closed) {
            WriterState::Open(output) => Ok(output),
            _ => unreachable!("sink() checked the writer is open"),
        }
    }

    /// Run `write` on the sink; a failure discards the files written so far.
    fn write_with(
        &mut self,
        write: impl FnOnce(&mut Output, &SchemaRef) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        let schema = self.schema.clone();
        let result = write(self.sink()?, &schema);
        if let Err(failure) = &result {
            if let WriterState::Open(sink) =
                std::mem::replace(&mut self.state, WriterState::Failed(failure.message.clone()))
            {
                sink.abort();
            }
        }
        result
    }
}

/// Open a writer of Parquet files for record batches of `schema`, a struct schema whose fields
/// are the columns, into `dir`: a local directory (created if missing), `s3://bucket/prefix`
/// on S3 or an S3-compatible store, or an Iceberg table `iceberg:<namespace>.<table>`.
///
/// `schema` is borrowed: the caller still owns and releases it. `options` is NULL, "" or a JSON
/// object with the keys of a job's `target.engine.options`, e.g. `{"compression": "zstd"}`,
/// plus `partitioning` (Hive partition columns in folder order, such as
/// `["ingest_date", "country"]`; `ingest_date` is today's local date, or the option
/// `ingest_date`, `YYYY-MM-DD`) and, for `s3://`, the keys of a
/// job's `target.connection.s3`: `endpoint`, `region`, `access_key_id`, `secret_access_key`,
/// `session_token`, `path_style_access`, `secure` (without keys, the AWS environment's
/// credentials). Opening an `s3://` writer reads the table's manifest and deletes the objects
/// of failed writers that it does not name. An Iceberg table takes `catalog` (a job's
/// `target.catalog` keys without `namespace` and `table`: `{"type": "sql", "uri": "cat.db",
/// "warehouse": "lake"}` or `{"type": "rest", "uri": "http://host:8181", ...}`), `branch`,
/// `partitioning` (its identity partition columns) and the connection keys for files on S3;
/// opening creates the table (empty) from `schema` if it does not exist and checks that
/// `schema` fits it, and each close commits one snapshot (appended, unless `write_mode` is
/// `overwrite`). On success `*out` is a new writer; free it with
/// `dativo_parquet_writer_free`. Messages never contain the credentials.
/// Errors: INVALID_ARGUMENT (NULL, released schema), CONFIG (bad option, connection keys with a
/// local `dir`, Iceberg keys with another place, a schema or partitioning the table does not
/// take, or another writer of this process writes into `dir`), ARROW (schema not importable),
/// IO (directory not writable, store or catalog unreachable or refusing the credentials),
/// DATA (the manifest object is not a dativo manifest, the catalog refused a request).
///
/// # Safety
/// `dir` and `options` are NULL or C strings; `schema` is NULL or a valid ArrowSchema; `out` is
/// writable; `error` is NULL or a zero-initialised `DativoError`.
#[no_mangle]
pub unsafe extern "C" fn dativo_parquet_writer_open(
    dir: *const c_char,
    schema: *const FFI_ArrowSchema,
    options: *const c_char,
    out: *mut *mut DativoParquetWriter,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_parquet_writer_open", error, || {
        let out = args::required(out, "out")?;
        let dir = args::path(dir, "dir")?;
        let schema = writer_schema(schema)?;
        let label = "writer options";
        let options = output_options_from_text(args::optional_text(options, "options")?, label)?;
        let sink = Output::open(&dir, schema.clone(), options, label)?;
        let handle = DativoParquetWriter { schema, state: WriterState::Open(Box::new(sink)) };
        ptr::write(out, Box::into_raw(Box::new(handle)));
        Ok(())
    })
}

/// The schema argument of the writer open functions: borrowed, live, convertible.
///
/// # Safety
/// `schema` is NULL or a valid ArrowSchema.
pub(crate) unsafe fn writer_schema(schema: *const FFI_ArrowSchema) -> Result<SchemaRef, Failure> {
    let schema = args::handle(schema.cast_mut(), "schema")?;
    if schema.release().is_none() {
        return Err(Failure::invalid("schema is released"));
    }
    Ok(Schema::try_from(&*schema)
        .map_err(|e| Failure::new(dativo_abi::DATIVO_STATUS_ARROW, format!("invalid Arrow schema: {e}")))?
        .into())
}

/// Write one record batch: a struct array whose children are the writer's columns.
///
/// `array` is moved: on return, success or failure, the caller's struct is released
/// (`release == NULL`) and must not be released again. `schema` (borrowed) describes `array`;
/// it is checked against the writer's schema (same names and types, else SCHEMA). A C array
/// does not carry its types: with `schema` NULL the array is read as if it had the writer's
/// schema, so an array of other types is misread (or rejected when its shape differs). Pass the
/// schema unless the array comes from the same source as the writer's schema.
/// A failure (a schema mismatch, an I/O error) discards every file of this writer: later calls
/// fail and nothing is committed.
/// Errors: INVALID_ARGUMENT (NULL, released array, closed writer), SCHEMA, ARROW, IO, PARQUET.
///
/// # Safety
/// `writer` is NULL or a live writer; `array` is NULL or a valid ArrowArray; `schema` is NULL
/// or a valid ArrowSchema; `error` as everywhere.
#[no_mangle]
pub unsafe extern "C" fn dativo_parquet_writer_write_array(
    writer: *mut DativoParquetWriter,
    array: *mut FFI_ArrowArray,
    schema: *const FFI_ArrowSchema,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_parquet_writer_write_array", error, || {
        // Take ownership first, so the array is moved whatever fails next.
        let array = (!array.is_null()).then(|| FFI_ArrowArray::from_raw(array));
        let writer = args::handle(writer, "writer")?;
        let array = array.ok_or_else(|| Failure::invalid("array is NULL"))?;
        if array.is_released() {
            return Err(Failure::invalid("array is released (already consumed or moved)"));
        }
        let given = match schema.as_ref() {
            None => None,
            Some(s) if s.release().is_none() => return Err(Failure::invalid("schema is released")),
            Some(s) => Some(
                Schema::try_from(s)
                    .map_err(|e| Failure::new(dativo_abi::DATIVO_STATUS_ARROW, format!("invalid Arrow schema: {e}")))?,
            ),
        };
        writer.write_with(|sink, schema| {
            if let Some(given) = &given {
                check_input_schema(schema, given, "array")?;
            }
            // The array is laid out as its own schema says (e.g. string views); the sink
            // converts what only differs in layout.
            let batch = match given {
                Some(given) => import_batch(array, &std::sync::Arc::new(given))?,
                None => import_batch(array, schema)?,
            };
            Ok(sink.write(&batch)?)
        })
    })
}

/// Write every batch of `stream` until its end.
///
/// `stream` is moved: on return, success or failure, the caller's struct is released and the
/// stream has been released by the library. Its schema must equal the writer's (same names and
/// types). A failing stream (get_next nonzero) fails the write with the stream's message and,
/// for a dativo stream, its original status; the writer then discards its files as after any
/// failed write.
/// Errors: INVALID_ARGUMENT, SCHEMA (schema differs), the stream's status, IO, PARQUET.
///
/// # Safety
/// `writer` is NULL or a live writer; `stream` is NULL or a valid ArrowArrayStream; `error` as
/// everywhere.
#[no_mangle]
pub unsafe extern "C" fn dativo_parquet_writer_write_stream(
    writer: *mut DativoParquetWriter,
    stream: *mut ArrowArrayStream,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_parquet_writer_write_stream", error, || {
        let taken = ImportedStream::take(stream, "stream");
        let writer = args::handle(writer, "writer")?;
        let mut stream = taken?;
        writer.write_with(|sink, schema| {
            // Checked before the first batch, so a stream of the wrong columns fails even when
            // it is empty; the sink checks each batch again.
            check_input_schema(schema, stream.schema(), "stream")?;
            while let Some(batch) = stream.next_batch() {
                sink.write(&batch?)?;
            }
            Ok(())
        })
    })
}

/// Finish the files and make them visible: local files under their final names (each fsynced,
/// then renamed, then the directory fsynced); objects completed, then the `_manifest.json`
/// object naming them written last (the commit point), then the objects of the previous
/// manifest that it no longer names deleted (overwrite mode). Paths of objects in the list are
/// `s3://bucket/prefix/...` URLs.
///
/// On success, if `out` is not NULL, `*out` is a new list of the committed files; free it with
/// `dativo_file_list_free`. Success or failure, the writer is closed afterwards: only
/// `dativo_parquet_writer_free` remains valid. On failure nothing is committed.
/// Errors: INVALID_ARGUMENT (NULL writer, already closed or failed), IO, PARQUET.
///
/// # Safety
/// `writer` is NULL or a live writer; `out` is NULL or writable; `error` as everywhere.
#[no_mangle]
pub unsafe extern "C" fn dativo_parquet_writer_close(
    writer: *mut DativoParquetWriter,
    out: *mut *mut DativoFileList,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_parquet_writer_close", error, || {
        let writer = args::handle(writer, "writer")?;
        writer.sink()?;
        let WriterState::Open(sink) = std::mem::replace(&mut writer.state, WriterState::Closed) else {
            unreachable!("sink() checked the writer is open")
        };
        let files = sink.finish()?;
        if !out.is_null() {
            ptr::write(out, Box::into_raw(Box::new(DativoFileList::new(&files))));
        }
        Ok(())
    })
}

/// Free a writer (NULL is allowed). A writer that was not closed is discarded: its temporary
/// files are deleted and nothing becomes visible.
///
/// # Safety
/// `writer` is NULL or a live writer, not used again after this call.
#[no_mangle]
pub unsafe extern "C" fn dativo_parquet_writer_free(writer: *mut DativoParquetWriter) {
    if !writer.is_null() {
        no_panic((), || {
            let writer = Box::from_raw(writer);
            if let WriterState::Open(sink) = writer.state {
                sink.abort();
            }
        });
    }
}

/// A list of committed Parquet files: path, rows and bytes of each. Opaque; read-only, so it
/// may be shared between threads.
pub struct DativoFileList {
    files: Vec<(CString, u64, u64)>,
}

impl DativoFileList {
    pub(crate) fn new(files: &[CommittedFile]) -> Self {
        DativoFileList { files: files.iter().map(|f| (args::path_text(&f.path), f.rows, f.bytes)).collect() }
    }
}

/// Number of files in the list; 0 for NULL.
///
/// # Safety
/// `list` is NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn dativo_file_list_count(list: *const DativoFileList) -> usize {
    no_panic(0, || list.as_ref().map_or(0, |l| l.files.len()))
}

/// Path of file `index`, NUL-terminated; owned by the list (valid until it is freed). NULL for
/// a NULL list or an index out of range.
///
/// # Safety
/// `list` is NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn dativo_file_list_path(list: *const DativoFileList, index: usize) -> *const c_char {
    no_panic(ptr::null(), || list.as_ref().and_then(|l| l.files.get(index)).map_or(ptr::null(), |f| f.0.as_ptr()))
}

/// Rows in file `index`; 0 for a NULL list or an index out of range.
///
/// # Safety
/// `list` is NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn dativo_file_list_rows(list: *const DativoFileList, index: usize) -> u64 {
    no_panic(0, || list.as_ref().and_then(|l| l.files.get(index)).map_or(0, |f| f.1))
}

/// Size in bytes of file `index`; 0 for a NULL list or an index out of range.
///
/// # Safety
/// `list` is NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn dativo_file_list_bytes(list: *const DativoFileList, index: usize) -> u64 {
    no_panic(0, || list.as_ref().and_then(|l| l.files.get(index)).map_or(0, |f| f.2))
}

/// Free a file list (NULL is allowed).
///
/// # Safety
/// `list` is NULL or a live list not owned by a report, not used again after this call.
#[no_mangle]
pub unsafe extern "C" fn dativo_file_list_free(list: *mut DativoFileList) {
    if !list.is_null() {
        no_panic((), || drop(Box::from_raw(list)));
    }
}
