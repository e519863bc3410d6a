"""A job file run on Ray: the library plans and commits, Ray tasks run the units.

The driver (this process) calls dativo_job_run_units with an executor callback; the callback
submits one Ray task per unit, each running dativo_job_unit_run in a worker, waits for all
of them and hands their outcomes back. Planning, state and the commit are the library's, so
the report, the state and the guarantees are those of `dativo run` (docs/ray.md).
"""

import json
import os

import ray

from .._arrow import path_bytes
from .._errors import DativoError, check, error_for, new_error, take_message
from .._lib import ffi, lib
from ..plugins._bridge import guarded


def run_unit(config: str, task_json: str) -> dict:
    """One task (runs in a Ray worker): the unit's outcome, for the driver's results. A
    dativo error is an outcome (the driver fails the run with it); a worker that dies is
    Ray's to retry."""
    from ..plugins._bridge import resolve  # a Python reader plugin of the job runs here

    task = json.loads(task_json)
    out = ffi.new("char **")
    error = new_error()
    status = lib.dativo_job_unit_run(path_bytes(config), task_json.encode(), resolve, ffi.NULL, out, error)
    if status != lib.DATIVO_STATUS_OK:
        return {"index": task["index"], "error": {"status": status, "message": take_message(status, error)}}
    try:
        return {"index": task["index"], "result": json.loads(ffi.string(out[0]).decode())}
    finally:
        lib.dativo_string_free(out[0])


def run_job(config, *, address=None, full_refresh=False, reset_state=False, max_retries=3,
            ray_remote_args=None, unit_function=None) -> dict:
    """Run the job file `config` with its units as Ray tasks and return the run's report (the
    JSON object of `dativo_job_report_json`: rows_read, rows_written, files, incremental, ...).

    `address`: the cluster to connect to when Ray is not initialised yet (None: Ray's default,
    RAY_ADDRESS or a running local cluster). Workers must see the job file, its inputs and the
    output folder at the same paths, and resolve the job's `${VAR}`s themselves.
    `max_retries`: how often Ray reruns a task whose worker died. `ray_remote_args`: more
    options for the tasks (e.g. num_cpus). `unit_function`: the function a task runs, default
    `run_unit` (a wrapper must call it with the same arguments).
    """
    config = os.path.abspath(os.fspath(config))
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    remote = ray.remote(unit_function or run_unit).options(max_retries=max_retries, **(ray_remote_args or {}))

    @ffi.callback("DativoStatus(void *, const char *, DativoUnitResults *, DativoError *)",
                  error=lib.DATIVO_STATUS_INTERNAL)
    def execute(_context, tasks_json, results, error):
        def action():
            tasks = json.loads(ffi.string(tasks_json).decode())
            refs = [(task["index"], remote.remote(config, json.dumps(task))) for task in tasks]
            outcomes = []
            for index, ref in refs:
                try:
                    outcomes.append(ray.get(ref))
                except ray.exceptions.RayError as e:
                    # Retries used up, or the cluster failed: the unit failed.
                    outcomes.append({"index": index, "error": {"status": lib.DATIVO_STATUS_INTERNAL,
                                                               "message": f"unit {index}: the Ray task failed: {e}"}})
            status = lib.dativo_unit_results_set(results, json.dumps(outcomes).encode(), error)
            if status != lib.DATIVO_STATUS_OK:
                raise error_for(status, take_message(status, error))

        return guarded(error, "ray executor", action)

    options = json.dumps({"full_refresh": bool(full_refresh), "reset_state": bool(reset_state)}).encode()
    out = ffi.new("DativoJobReport **")
    error = new_error()
    check(lib.dativo_job_run_units(path_bytes(config), options, execute, ffi.NULL, out, error), error)
    report = ffi.gc(out[0], lib.dativo_job_report_free)
    text = ffi.new("char **")
    check(lib.dativo_job_report_json(report, text, error), error)
    try:
        return json.loads(ffi.string(text[0]).decode())
    finally:
        lib.dativo_string_free(text[0])


__all__ = ["run_job", "run_unit", "DativoError"]
