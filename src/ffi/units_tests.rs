//! The distributed-run C API called as a driver and its workers call it: an executor that runs
//! each task through `dativo_job_unit_run` and hands the outcomes back as JSON.

use std::ffi::{c_char, c_void, CStr, CString};
use std::fs;
use std::path::Path;
use std::ptr;

use super::*;
use crate::job::dativo_job_report_free;
use crate::plugin::dativo_string_free;
use dativo_abi::{DATIVO_STATUS_CONFIG, DATIVO_STATUS_DATA, DATIVO_STATUS_INVALID_ARGUMENT, DATIVO_STATUS_OK};

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

fn message(error: &DativoError) -> String {
    unsafe { CStr::from_ptr(error.message) }.to_str().unwrap().to_string()
}

/// A job over two CSV files in `dir`, the second with `bad` appended.
fn job(dir: &Path, bad: &str) -> CString {
    fs::write(dir.join("a.csv"), "id,name\n1,x\n2,y\n").unwrap();
    fs::write(dir.join("b.csv"), format!("id,name\n3,z\n{bad}")).unwrap();
    let path = dir.join("job.yaml");
    fs::write(
        &path,
        "source:\n  type: csv\n  files:\n    - path: a.csv\n    - path: b.csv\ntarget:\n  output_base: out\n",
    )
    .unwrap();
    c(path.to_str().unwrap())
}

/// The executor: every task through dativo_job_unit_run, as a worker process would run it.
/// `context` is the job path.
unsafe extern "C" fn run_each(
    context: *mut c_void,
    tasks_json: *const c_char,
    results: *mut DativoUnitResults,
    error: *mut DativoError,
) -> DativoStatus {
    let path = context as *const c_char;
    let tasks: Vec<serde_json::Value> = serde_json::from_str(CStr::from_ptr(tasks_json).to_str().unwrap()).unwrap();
    let mut outcomes = Vec::new();
    for task in tasks {
        let text = c(&task.to_string());
        let mut out = ptr::null_mut();
        let mut failure = DativoError::default();
        let status = dativo_job_unit_run(path, text.as_ptr(), None, ptr::null_mut(), &mut out, &mut failure);
        let index = task["index"].clone();
        outcomes.push(if status == DATIVO_STATUS_OK {
            let result: serde_json::Value = serde_json::from_str(CStr::from_ptr(out).to_str().unwrap()).unwrap();
            dativo_string_free(out);
            serde_json::json!({"index": index, "result": result})
        } else {
            serde_json::json!({"index": index, "error": {"status": status, "message": message(&failure)}})
        });
    }
    let json = c(&serde_json::Value::Array(outcomes).to_string());
    dativo_unit_results_set(results, json.as_ptr(), error)
}

unsafe extern "C" fn refuse(
    _: *mut c_void,
    _: *const c_char,
    _: *mut DativoUnitResults,
    error: *mut DativoError,
) -> DativoStatus {
    dativo_abi::error::fill(error, "no cluster");
    DATIVO_STATUS_CONFIG
}

#[test]
fn a_driver_and_its_workers_run_a_job_and_report_it_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = job(dir.path(), "");
    let mut report = ptr::null_mut();
    let mut error = DativoError::default();
    unsafe {
        let status = dativo_job_run_units(
            path.as_ptr(),
            ptr::null(),
            Some(run_each),
            path.as_ptr() as *mut c_void,
            &mut report,
            &mut error,
        );
        assert_eq!(status, DATIVO_STATUS_OK);
        assert_eq!(crate::job::dativo_job_report_rows_written(report), 3);
        let mut json = ptr::null_mut();
        assert_eq!(dativo_job_report_json(report, &mut json, &mut error), DATIVO_STATUS_OK);
        let value: serde_json::Value = serde_json::from_str(CStr::from_ptr(json).to_str().unwrap()).unwrap();
        dativo_string_free(json);
        assert_eq!(value["rows_written"], 3);
        assert_eq!(value["files"].as_array().unwrap().len(), 2);
        dativo_job_report_free(report);
    }
    assert!(dir.path().join("out/part-00001.parquet").exists());
}

#[test]
fn a_failed_task_fails_the_run_with_its_status_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = job(dir.path(), "x,y\n");
    let mut report = ptr::null_mut();
    let mut error = DativoError::default();
    unsafe {
        let status = dativo_job_run_units(
            path.as_ptr(),
            c("").as_ptr(),
            Some(run_each),
            path.as_ptr() as *mut c_void,
            &mut report,
            &mut error,
        );
        assert_eq!(status, DATIVO_STATUS_DATA, "{}", message(&error));
        assert!(message(&error).contains("b.csv"), "{}", message(&error));
        error.release.unwrap()(&mut error);
    }
    assert!(!dir.path().join("out/_manifest.json").exists());
}

#[test]
fn misuse_and_executor_failures_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = job(dir.path(), "");
    let mut report = ptr::null_mut();
    unsafe {
        let mut error = DativoError::default();
        let status = dativo_job_run_units(path.as_ptr(), ptr::null(), None, ptr::null_mut(), &mut report, &mut error);
        assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
        assert!(message(&error).contains("executor is NULL"));
        error.release.unwrap()(&mut error);

        let mut error = DativoError::default();
        let status =
            dativo_job_run_units(path.as_ptr(), ptr::null(), Some(refuse), ptr::null_mut(), &mut report, &mut error);
        assert_eq!(status, DATIVO_STATUS_CONFIG);
        assert!(message(&error).contains("the executor: no cluster"), "{}", message(&error));
        error.release.unwrap()(&mut error);

        let mut error = DativoError::default();
        let options = c(r#"{"full_refresh": "yes"}"#);
        let status = dativo_job_run_units(
            path.as_ptr(),
            options.as_ptr(),
            Some(run_each),
            ptr::null_mut(),
            &mut report,
            &mut error,
        );
        assert_eq!(status, DATIVO_STATUS_CONFIG);
        assert!(message(&error).contains("run options"), "{}", message(&error));
        error.release.unwrap()(&mut error);

        let mut error = DativoError::default();
        let mut out = ptr::null_mut();
        let status = dativo_job_unit_run(path.as_ptr(), c("{}").as_ptr(), None, ptr::null_mut(), &mut out, &mut error);
        assert_eq!(status, DATIVO_STATUS_CONFIG);
        assert!(message(&error).contains("task_json"), "{}", message(&error));
        error.release.unwrap()(&mut error);
    }
    assert!(!dir.path().join("out/_manifest.json").exists());
}
