//! Running a job file through the C API, and its `DativoJobReport`.

use std::ffi::c_char;
use std::ptr;

use super::args;
use super::parquet::DativoFileList;
use dativo_abi::error::{boundary, no_panic, DativoError};
use dativo_abi::status::DativoStatus;
use dativo_engine::job::{self, RunReport};

/// The outcome of a successful job run. Opaque; read-only, so it may be shared between
/// threads.
pub struct DativoJobReport {
    report: RunReport,
    files: DativoFileList,
}

/// Run the job file at `path` (the same YAML as `dativo run --config`), blocking until it ends.
///
/// `${VAR}` references are read from the process environment; relative paths in the job are
/// relative to the job file. Nothing is logged. On success `*out` is a new report; free it with
/// `dativo_job_report_free`. On failure no Parquet file of this run is visible, and the message
/// never contains the value of a substituted variable.
/// Errors: INVALID_ARGUMENT (NULL), CONFIG, IO, DATA, SCHEMA, PARQUET.
/// Thread-safe: several jobs may run at once (on different output directories).
///
/// # Safety
/// `path` is NULL or a C string; `out` is writable; `error` is NULL or a zero-initialised
/// `DativoError`.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_run(
    path: *const c_char,
    out: *mut *mut DativoJobReport,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_job_run", error, || {
        let out = args::required(out, "out")?;
        let path = args::path(path, "path")?;
        let mut job = job::load(&path)?;
        if job.uses_plugins() {
            job.set_plugin_loader(dativo_plugin::Loader::from_env()?.shared());
        }
        let report = job.run(&|_| {})?;
        ptr::write(out, DativoJobReport::new(report));
        Ok(())
    })
}

impl DativoJobReport {
    pub(crate) fn report(&self) -> &RunReport {
        &self.report
    }

    /// A new handle for `report`.
    pub(crate) fn new(report: RunReport) -> *mut DativoJobReport {
        let files = DativoFileList::new(&report.files);
        Box::into_raw(Box::new(DativoJobReport { report, files }))
    }
}

/// A counter of a report; 0 for NULL.
unsafe fn counter(report: *const DativoJobReport, get: impl Fn(&RunReport) -> u64) -> u64 {
    no_panic(0, || report.as_ref().map_or(0, |r| get(&r.report)))
}

/// Good rows read from the input files. 0 for NULL.
///
/// # Safety
/// `report` is NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_report_rows_read(report: *const DativoJobReport) -> u64 {
    counter(report, |r| r.rows_read)
}

/// Rows written to Parquet. 0 for NULL.
///
/// # Safety
/// `report` is NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_report_rows_written(report: *const DativoJobReport) -> u64 {
    counter(report, |r| r.rows_written)
}

/// Bad rows skipped or sent to the rejects file. 0 for NULL.
///
/// # Safety
/// `report` is NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_report_rows_rejected(report: *const DativoJobReport) -> u64 {
    counter(report, |r| r.rows_rejected)
}

/// Warnings (columns missing or dropped, nulls kept in required columns in warn mode).
/// 0 for NULL.
///
/// # Safety
/// `report` is NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_report_warnings(report: *const DativoJobReport) -> u64 {
    counter(report, |r| r.warnings)
}

/// Total size of the input files in bytes. 0 for NULL, and when a reader plugin read the
/// input (its size is unknown).
///
/// # Safety
/// `report` is NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_report_input_bytes(report: *const DativoJobReport) -> u64 {
    counter(report, |r| r.input_bytes)
}

/// Total size of the Parquet files written in bytes. 0 for NULL.
///
/// # Safety
/// `report` is NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_report_bytes_written(report: *const DativoJobReport) -> u64 {
    counter(report, |r| r.bytes_written)
}

/// Wall time of the run in seconds. 0 for NULL.
///
/// # Safety
/// `report` is NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_report_seconds(report: *const DativoJobReport) -> f64 {
    no_panic(0.0, || report.as_ref().map_or(0.0, |r| r.report.seconds))
}

/// The Parquet files committed, in order. Owned by the report: valid until
/// `dativo_job_report_free`, never freed by the caller. NULL for a NULL report.
///
/// # Safety
/// `report` is NULL or a live report.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_report_files(report: *const DativoJobReport) -> *const DativoFileList {
    no_panic(ptr::null(), || report.as_ref().map_or(ptr::null(), |r| &r.files as *const DativoFileList))
}

/// Free a report (NULL is allowed), with its file list.
///
/// # Safety
/// `report` is NULL or a live report, not used again after this call.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_report_free(report: *mut DativoJobReport) {
    if !report.is_null() {
        no_panic((), || drop(Box::from_raw(report)));
    }
}
