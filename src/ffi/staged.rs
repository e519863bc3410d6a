//! Staged writes for distributed engines: writers stage sealed files, one committer publishes
//! them (the engine's `parquet::staged`). A Ray Datasink's tasks open their writer with
//! `dativo_parquet_writer_open_staged` (a file prefix per task), call
//! `dativo_parquet_writer_stage` instead of `dativo_parquet_writer_close` and send the JSON it
//! returns to the driver, which calls `dativo_parquet_commit_staged` once with every task's
//! files, or `dativo_parquet_discard_staged` when the write failed.

use std::ffi::c_char;
use std::ptr;

use arrow_schema::ffi::FFI_ArrowSchema;

use super::args;
use super::parquet::{writer_schema, DativoFileList, DativoParquetWriter};
use dativo_abi::error::{boundary, c_text, DativoError, Failure};
use dativo_abi::status::DativoStatus;
use dativo_engine::job::output::{commit_staged, discard_staged_at, output_options_from_text, Output};
use dativo_engine::parquet::StagedFile;

/// Open a writer whose files will be staged (`dativo_parquet_writer_stage`), not committed:
/// as `dativo_parquet_writer_open`, with the files named `<file_prefix>-NNNNN.parquet` (in an
/// Iceberg table `<file_prefix>-<attempt id>-NNNNN.parquet`, in the table's partition folders;
/// the table is created if it does not exist, so every writer may open it first). With
/// `partitioning` in `options`, each file is staged in its `key=value/` partition folder and
/// its final name is its path under `dir` (`country=FR/<file_prefix>-NNNNN.parquet`). Give
/// every writer of one distributed write its own prefix that starts with the write's prefix
/// and a `-`, e.g. `part-<write id>-<task>` for a write committed with `file_prefix` `part`,
/// so that final names are unique across writers. Nothing is ever visible from this writer
/// alone; `dativo_parquet_writer_close` on it commits as usual.
/// Errors: as `dativo_parquet_writer_open`; CONFIG for a `file_prefix` that is not a plain,
/// non-hidden file name.
///
/// # Safety
/// `dir`, `file_prefix` and `options` are NULL or C strings; `schema` is NULL or a valid
/// ArrowSchema; `out` is writable; `error` is NULL or a zero-initialised `DativoError`.
#[no_mangle]
pub unsafe extern "C" fn dativo_parquet_writer_open_staged(
    dir: *const c_char,
    schema: *const FFI_ArrowSchema,
    file_prefix: *const c_char,
    options: *const c_char,
    out: *mut *mut DativoParquetWriter,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_parquet_writer_open_staged", error, || {
        let out = args::required(out, "out")?;
        let dir = args::path(dir, "dir")?;
        let prefix = args::text(file_prefix, "file_prefix")?;
        let schema = writer_schema(schema)?;
        let label = "writer options";
        let mut options = output_options_from_text(args::optional_text(options, "options")?, label)?;
        options.parquet.file_prefix = prefix.to_string();
        options
            .parquet
            .validate()
            .map_err(|m| Failure::new(dativo_abi::DATIVO_STATUS_CONFIG, format!("{label}: {m}")))?;
        let output = Output::open_staged(&dir, schema.clone(), options, label)?;
        ptr::write(out, Box::into_raw(Box::new(DativoParquetWriter::from_output(schema, output))));
        Ok(())
    })
}

/// Finish the writer's files and stage them instead of committing: each is complete and
/// fsynced under a hidden, attempt-unique name (`.<final name>.<pid>-<nonce>.staged`) in the
/// writer's directory, which no reader lists and which outlives the writer and the process.
///
/// On success `*staged_json` is a new NUL-terminated JSON array, one object per file:
/// `{"temp_path": "/abs/dir/.part-…staged", "final_name": "part-….parquet", "rows": N,
/// "bytes": N}`; free it with `dativo_string_free`. Hand it (or several writers' arrays,
/// concatenated) to `dativo_parquet_commit_staged`. Give each writer of one write its own
/// `file_prefix` (e.g. `part-<write id>-<task>`) so final names are unique. Success or
/// failure, the writer is closed afterwards; on failure nothing is left staged.
/// Errors: INVALID_ARGUMENT (NULL, writer closed or failed), IO, PARQUET.
///
/// # Safety
/// `writer` is NULL or a live writer; `staged_json` is writable; `error` as everywhere.
#[no_mangle]
pub unsafe extern "C" fn dativo_parquet_writer_stage(
    writer: *mut DativoParquetWriter,
    staged_json: *mut *mut c_char,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_parquet_writer_stage", error, || {
        let out = args::required(staged_json, "staged_json")?;
        let writer = args::handle(writer, "writer")?;
        let files = writer.take_output()?.stage()?;
        let json = serde_json::to_string(&files).map_err(|e| {
            Failure::new(dativo_abi::DATIVO_STATUS_INTERNAL, format!("cannot encode staged files: {e}"))
        })?;
        ptr::write(out, c_text(&json).into_raw());
        Ok(())
    })
}

/// Publish exactly the staged files listed in `staged_json` in directory `dir`, once: every
/// file is checked first (in `dir`, or in the `key=value/` partition folder its final name
/// names, a staged name, its staged size, a final name unique and starting with
/// `<file_prefix>-`), then the old `_manifest.json` is removed, the files are renamed to their
/// final names and their folders fsynced, in overwrite mode the other `<file_prefix>-*.parquet`
/// files are deleted (of every partition folder too, when the files are partitioned), every
/// other staged file of the prefix (failed or retried attempts) and dead writers' temp files
/// are deleted, in partition folders too, and `_manifest.json` is written last (append mode:
/// the old manifest's files, then these).
///
/// `dir` may be `s3://bucket/prefix`: the writers' objects are complete already, so the
/// commit checks that each is a `<file_prefix>-….parquet` object under the prefix (directly,
/// or in `key=value/` partition folders),
/// writes the `_manifest.json` object naming them (one PUT, the commit point), then deletes
/// the prefix's objects it does not name (failed or retried attempts', an overwritten write's).
///
/// `dir` may be an Iceberg table `iceberg:<namespace>.<table>` (with `catalog` and the
/// writers' other Iceberg keys in `options`): the writers' data files are complete in the
/// table's location, and the commit checks each (a data file of the table, its staged size
/// when local), then commits one snapshot naming them (appended, unless `write_mode` is
/// `overwrite`; retried on a catalog conflict). Files of failed or retried attempts are in no
/// snapshot: readers never see them (orphan files, for a maintenance job).
///
/// `staged_json` is a JSON array of the objects `dativo_parquet_writer_stage` returns.
/// `options` is NULL, "" or a JSON object with `file_prefix` (default "part": the prefix the
/// writers' prefixes start with), `write_mode` ("overwrite", the default, or "append") and,
/// for a bucket, the connection keys (the writers' whole options object may be passed: writer
/// keys are checked and ignored). On success, if `out` is not NULL, `*out` is a new list of
/// the committed files (free it with `dativo_file_list_free`).
/// Errors: INVALID_ARGUMENT (NULL), CONFIG (bad JSON or option, a file not of this prefix or
/// directory, a final name listed twice, another write holds `dir`), DATA (a staged file
/// changed size), IO (a staged file is gone; a rename failed). A check failing changes nothing.
///
/// # Safety
/// `dir`, `staged_json` and `options` are NULL or C strings; `out` is NULL or writable; `error`
/// as everywhere.
#[no_mangle]
pub unsafe extern "C" fn dativo_parquet_commit_staged(
    dir: *const c_char,
    staged_json: *const c_char,
    options: *const c_char,
    out: *mut *mut DativoFileList,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_parquet_commit_staged", error, || {
        let dir = args::path(dir, "dir")?;
        let json = args::text(staged_json, "staged_json")?;
        let files: Vec<StagedFile> = serde_json::from_str(json).map_err(|e| {
            Failure::new(
                dativo_abi::DATIVO_STATUS_CONFIG,
                format!("staged_json: not a JSON array of staged files ({e}); pass what dativo_parquet_writer_stage returned"),
            )
        })?;
        let committed = commit_staged(&dir, &files, args::optional_text(options, "options")?, "commit options")?;
        if !out.is_null() {
            ptr::write(out, Box::into_raw(Box::new(DativoFileList::new(&committed))));
        }
        Ok(())
    })
}

/// Delete what a failed write left in `dir`: every staged file of `file_prefix` (from
/// `options`, a JSON object as for `dativo_parquet_commit_staged`; `write_mode` is ignored), and writers' temp files of
/// the prefix whose process is gone. Visible files and the manifest are untouched; a missing
/// `dir` is nothing to discard; an Iceberg table has nothing to discard (staged data files are
/// in no snapshot).
/// Errors: INVALID_ARGUMENT (NULL), CONFIG (bad option, another write holds `dir`), IO.
///
/// # Safety
/// `dir` and `options` are NULL or C strings; `error` as everywhere.
#[no_mangle]
pub unsafe extern "C" fn dativo_parquet_discard_staged(
    dir: *const c_char,
    options: *const c_char,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_parquet_discard_staged", error, || {
        let dir = args::path(dir, "dir")?;
        Ok(discard_staged_at(&dir, args::optional_text(options, "options")?, "discard options")?)
    })
}

#[cfg(test)]
#[path = "staged_tests.rs"]
mod tests;
