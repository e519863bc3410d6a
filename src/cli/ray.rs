//! `dativo run --engine ray[=ADDRESS]`: the job runs on a Ray cluster through the Python
//! package's driver (`python -m dativo.ray run`), which calls the library's distributed run
//! (plan and commit in the driver, one Ray task per unit). Ray is a Python system, so this
//! command only starts the driver, waits for it and prints its report as a local run's.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use dativo_engine::job::RunReport;
use dativo_engine::{Error, Result};

/// The Python that has the dativo package with Ray (`DATIVO_PYTHON`, else `python3`).
fn python() -> String {
    std::env::var("DATIVO_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into())
}

/// What the driver writes to `--result`: the report, or the error the run failed with.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DriverResult {
    report: Option<RunReport>,
    error: Option<DriverError>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DriverError {
    status: i32,
    message: String,
}

/// Run `config` on Ray (`address`: the cluster; None: Ray's default) and return its report.
pub fn run(config: &Path, address: Option<&str>, full_refresh: bool, reset_state: bool) -> Result<RunReport> {
    let config = fs::canonicalize(config).map_err(|e| Error::io("cannot read job file", config, e))?;
    // A private folder for the driver's result, removed on drop.
    let folder = tempfile::Builder::new()
        .prefix("dativo-ray-")
        .tempdir()
        .map_err(|e| Error::io("cannot create directory", &std::env::temp_dir(), e))?;
    let result_path = folder.path().join("result.json");
    let python = python();
    let mut command = Command::new(&python);
    command.args(["-m", "dativo.ray", "run", "--config"]).arg(&config).arg("--result").arg(&result_path);
    if let Some(address) = address {
        command.args(["--address", address]);
    }
    if full_refresh {
        command.arg("--full-refresh");
    }
    if reset_state {
        command.arg("--reset-state");
    }
    let status = command.stdin(Stdio::null()).status().map_err(|e| {
        Error::Config(format!(
            "--engine ray: cannot start {python} ({e}); set DATIVO_PYTHON to the Python that has the dativo package \
             with Ray (pip install 'dativo[ray]' from bindings/python)"
        ))
    });
    let status = status?;
    let text = fs::read_to_string(&result_path);
    let text = match text {
        Ok(t) => t,
        Err(_) => {
            return Err(Error::Config(format!(
                "--engine ray: the driver ({python} -m dativo.ray) ended ({status}) without a result; see its messages \
                 above. It needs the dativo Python package with Ray: pip install 'dativo[ray]' from bindings/python, \
                 or set DATIVO_PYTHON to the Python that has them"
            )))
        }
    };
    let result: DriverResult = serde_json::from_str(&text).map_err(|e| {
        Error::Internal(format!("--engine ray: the driver's result is not what this dativo reads ({e}); are the CLI and the Python package the same version?"))
    })?;
    match (result.report, result.error) {
        (Some(report), None) => Ok(report),
        (None, Some(e)) => Err(dativo_abi::status::error_of_status(e.status, e.message)),
        _ => Err(Error::Internal("--engine ray: the driver's result has neither or both of report and error".into())),
    }
}
