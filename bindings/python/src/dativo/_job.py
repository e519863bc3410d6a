"""run_job: a job file run by the engine, and its report."""

from dataclasses import dataclass

from ._arrow import path_bytes
from ._errors import check, new_error
from ._files import committed_files
from ._lib import ffi, lib


@dataclass(frozen=True)
class JobReport:
    """The outcome of a successful run (the C API's DativoJobReport, copied)."""

    rows_read: int
    rows_written: int
    rows_rejected: int
    warnings: int
    input_bytes: int
    bytes_written: int
    seconds: float
    files: list


def report_from_c(report) -> JobReport:
    """Copy a `DativoJobReport *` (not freed here)."""
    return JobReport(
        rows_read=lib.dativo_job_report_rows_read(report),
        rows_written=lib.dativo_job_report_rows_written(report),
        rows_rejected=lib.dativo_job_report_rows_rejected(report),
        warnings=lib.dativo_job_report_warnings(report),
        input_bytes=lib.dativo_job_report_input_bytes(report),
        bytes_written=lib.dativo_job_report_bytes_written(report),
        seconds=lib.dativo_job_report_seconds(report),
        files=committed_files(lib.dativo_job_report_files(report)),
    )


def take_report(out) -> JobReport:
    report = ffi.gc(out[0], lib.dativo_job_report_free)
    try:
        return report_from_c(report)
    finally:
        ffi.release(report)


def run_job(path) -> JobReport:
    """Run a job file (the YAML of `dativo run --config`) and return its report.

    A `source.custom_reader` or `target.custom_writer` may be a Python plugin
    (`module.py:ClassName`, relative to the job file): the engine calls back into this
    process for it, while validation, state and Parquet writing stay in the engine. Blocks
    until the job ends, with the GIL released, so other threads (and the plugin's callbacks,
    which take the GIL) keep running.
    """
    from .plugins._bridge import resolve  # the plugin layer needs pyarrow: import on use

    out = ffi.new("DativoJobReport **")
    error = new_error()
    check(lib.dativo_job_run_with_resolver(path_bytes(path), resolve, ffi.NULL, out, error),
          error)
    return take_report(out)
