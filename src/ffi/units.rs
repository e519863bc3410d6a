//! Distributed job runs (the engine's `job::run::distributed`): a driver runs a job whose units
//! an executor runs elsewhere, e.g. as Ray tasks (`dativo run --engine ray`). The driver calls
//! `dativo_job_run_units` with its executor; the executor runs every task it is given with
//! `dativo_job_unit_run` (in any process that sees the job file, its inputs and the output
//! folder) and hands back each task's result JSON or error with `dativo_unit_results_set`.
//! The driver's call then commits exactly as a local run commits.

use std::ffi::{c_char, c_void};
use std::ptr;

use serde::{Deserialize, Serialize};

use super::args;
use super::job::DativoJobReport;
use super::plugin::DativoPluginResolver;
use dativo_abi::error::{boundary, c_text, take_message, DativoError, Failure};
use dativo_abi::status::{error_of_status, *};
use dativo_engine::job::{self, Job, UnitOutcome, UnitResult, UnitTask};
use dativo_engine::Error;

/// Where an executor puts the outcomes of the tasks it ran (`dativo_unit_results_set`).
/// Owned by the library; valid during the executor call only.
pub struct DativoUnitResults {
    json: Option<String>,
}

/// Runs the tasks of a distributed job run (see `dativo_job_run_units`). `tasks_json` is a
/// JSON array of task objects; run each with `dativo_job_unit_run` (anywhere, in parallel, and
/// again if an attempt was lost), then call `dativo_unit_results_set(results, ...)` once with
/// one outcome per task and return DATIVO_STATUS_OK. Returning another status (with a message
/// in `error`) fails the run: nothing is committed. Called once, on the thread that runs the job.
pub type DativoUnitExecutor = Option<
    unsafe extern "C" fn(
        context: *mut c_void,
        tasks_json: *const c_char,
        results: *mut DativoUnitResults,
        error: *mut DativoError,
    ) -> DativoStatus,
>;

/// `options` of `dativo_job_run_units`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunOptions {
    #[serde(default)]
    full_refresh: bool,
    #[serde(default)]
    reset_state: bool,
}

/// One element of the executor's results: a task's result, or its failure.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Outcome {
    index: usize,
    #[serde(default)]
    result: Option<UnitResult>,
    #[serde(default)]
    error: Option<TaskError>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskError {
    status: DativoStatus,
    message: String,
}

/// Run the job file at `path` distributed: plan its units (as `dativo_job_run` would, with
/// `source.incremental` honoured), call `executor` once with every task, then commit the
/// results in unit order, exactly as a local run commits: on success `*out` is the run's
/// report (free it with `dativo_job_report_free`). Supported jobs: CSV files or `s3://`
/// objects, or a reader plugin's rows, into Parquet in a folder or a bucket (Hive-partitioned
/// or not), plain or incremental, or into an Iceberg table, without a writer plugin; others
/// fail with CONFIG
/// saying so. A plain run has one task per input file; an incremental run one per new or
/// changed input (none when nothing changed: the executor is then not called).
///
/// `options` is NULL, "" or a JSON object: `{"full_refresh": bool, "reset_state": bool}`
/// (`dativo run --full-refresh`, `--reset-state`).
///
/// The executor's results: a JSON array with one object per task, `{"index": <the task's
/// index>, "result": <what dativo_job_unit_run returned>}` or `{"index": N, "error":
/// {"status": <DativoStatus>, "message": "..."}}` for a task that failed. A failed task fails
/// the run with its status and message: a plain run commits nothing, an incremental run keeps
/// the units before it (as a local run does).
/// Errors: INVALID_ARGUMENT (NULL, no executor), CONFIG, DATA, SCHEMA, IO, PARQUET, and the
/// statuses of failed tasks or of the executor.
///
/// # Safety
/// `path` and `options` are NULL or C strings; `executor` follows `DativoUnitExecutor` and may
/// be called with `context`; `out` is writable; `error` is NULL or a zero-initialised
/// `DativoError`.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_run_units(
    path: *const c_char,
    options: *const c_char,
    executor: DativoUnitExecutor,
    context: *mut c_void,
    out: *mut *mut DativoJobReport,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_job_run_units", error, || {
        let out = args::required(out, "out")?;
        let path = args::path(path, "path")?;
        let Some(execute) = executor else { return Err(Failure::invalid("executor is NULL")) };
        let options = parse_json::<RunOptions>(args::optional_text(options, "options")?, "run options")?;
        let mut job = job::load(&path)?;
        job.full_refresh = options.full_refresh;
        job.reset_state = options.reset_state;
        let mut call = |tasks: &[UnitTask]| -> dativo_engine::Result<Vec<UnitOutcome>> {
            let json =
                serde_json::to_string(tasks).map_err(|e| Error::Internal(format!("cannot encode tasks: {e}")))?;
            let text = c_text(&json);
            let mut results = DativoUnitResults { json: None };
            let mut failure = DativoError::default();
            // SAFETY: the executor follows the DativoUnitExecutor contract.
            let status = unsafe { execute(context, text.as_ptr(), &mut results, &mut failure) };
            if status != DATIVO_STATUS_OK {
                let message = take_message(&mut failure, "the executor failed without a message");
                return Err(error_of_status(status, format!("the executor: {message}")));
            }
            let json = results.json.ok_or_else(|| {
                Error::Config("the executor returned OK without calling dativo_unit_results_set".into())
            })?;
            outcomes(&json)
        };
        let report = job.run_distributed(&mut call)?;
        ptr::write(out, DativoJobReport::new(report));
        Ok(())
    })
}

/// Give the outcomes of the executor's tasks (a JSON array, see `dativo_job_run_units`); the
/// text is copied. Call once per executor call, before it returns.
/// Errors: INVALID_ARGUMENT (NULL).
///
/// # Safety
/// `results` is the pointer the executor was given; `json` is NULL or a C string; `error` as
/// everywhere.
#[no_mangle]
pub unsafe extern "C" fn dativo_unit_results_set(
    results: *mut DativoUnitResults,
    json: *const c_char,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_unit_results_set", error, || {
        let results = args::handle(results, "results")?;
        results.json = Some(args::text(json, "json")?.to_string());
        Ok(())
    })
}

/// Run one task of a distributed run (a worker's part): load the job file at `path`, read the
/// task's inputs and write its Parquet files and rejects as staged files, which nothing shows
/// until the driver commits them. On success `*result_json` is a new JSON object for the
/// driver's results (free it with `dativo_string_free`). A task run twice (a retry) stages
/// twice; the driver's commit keeps one attempt. The worker must see the same job, inputs,
/// output folder and environment variables as the driver: a job that resolves differently
/// here fails with CONFIG. A job's reader plugin runs here: native plugins load as in
/// `dativo_job_run`, others through `resolver` (and its `context`, passed back as is; NULL:
/// none), as in `dativo_job_run_with_resolver`.
/// Errors: INVALID_ARGUMENT (NULL), CONFIG (a bad task, another job), DATA, SCHEMA, IO, PARQUET,
/// PLUGIN.
///
/// # Safety
/// `path` and `task_json` are NULL or C strings; `resolver` is NULL or follows
/// `DativoPluginResolver`; `result_json` is writable; `error` as everywhere.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_unit_run(
    path: *const c_char,
    task_json: *const c_char,
    resolver: DativoPluginResolver,
    context: *mut c_void,
    result_json: *mut *mut c_char,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_job_unit_run", error, || {
        let out = args::required(result_json, "result_json")?;
        let path = args::path(path, "path")?;
        let task: UnitTask = serde_json::from_str(args::text(task_json, "task_json")?).map_err(|e| {
            Failure::new(
                DATIVO_STATUS_CONFIG,
                format!("task_json: {e} (pass a task dativo_job_run_units gave the executor)"),
            )
        })?;
        let mut job: Job = job::load(&path)?;
        crate::plugin::set_loader(&mut job, resolver, context)?;
        let result = job.run_task(&task)?;
        let json = serde_json::to_string(&result)
            .map_err(|e| Failure::new(DATIVO_STATUS_INTERNAL, format!("cannot encode the result: {e}")))?;
        ptr::write(out, c_text(&json).into_raw());
        Ok(())
    })
}

/// The report as a JSON object (the engine's RunReport: counts, files, incremental inputs,
/// dialect), e.g. for a process that prints it as `dativo run` does. `*json` is new; free it
/// with `dativo_string_free`.
/// Errors: INVALID_ARGUMENT (NULL).
///
/// # Safety
/// `report` is NULL or a live report; `json` is writable; `error` as everywhere.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_report_json(
    report: *const DativoJobReport,
    json: *mut *mut c_char,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_job_report_json", error, || {
        let out = args::required(json, "json")?;
        let report = args::handle(report.cast_mut(), "report")?;
        let text = serde_json::to_string(report.report())
            .map_err(|e| Failure::new(DATIVO_STATUS_INTERNAL, format!("cannot encode the report: {e}")))?;
        ptr::write(out, c_text(&text).into_raw());
        Ok(())
    })
}

fn parse_json<T: for<'de> Deserialize<'de> + Default>(text: &str, what: &str) -> Result<T, Failure> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(text).map_err(|e| Failure::new(DATIVO_STATUS_CONFIG, format!("{what}: {e}")))
}

/// The executor's results, as the engine takes them.
fn outcomes(json: &str) -> dativo_engine::Result<Vec<UnitOutcome>> {
    let list: Vec<Outcome> = serde_json::from_str(json).map_err(|e| {
        Error::Config(format!(
            "the executor's results: {e} (expected a JSON array of {{\"index\": N, \"result\": {{...}}}} or \
             {{\"index\": N, \"error\": {{\"status\": S, \"message\": \"...\"}}}})"
        ))
    })?;
    list.into_iter()
        .map(|o| {
            let result = match (o.result, o.error) {
                (Some(r), None) => Ok(r),
                (None, Some(e)) => Err(error_of_status(e.status, e.message)),
                _ => {
                    return Err(Error::Config(format!(
                        "the executor's result for unit {} has neither or both of `result` and `error`",
                        o.index
                    )))
                }
            };
            Ok(UnitOutcome { index: o.index, result })
        })
        .collect()
}

#[cfg(test)]
#[path = "units_tests.rs"]
mod tests;
