"""run_job: job files run by the engine, with their report."""

import pyarrow.parquet as pq
import pytest

import dativo
from conftest import REPO


def write_job(tmp_path, source_path, extra=""):
    job = tmp_path / "job.yaml"
    job.write_text(f"""\
source:
  type: csv
  files:
    - {{path: {source_path}, id: orders}}
{extra}target:
  type: local
  output_base: out
""")
    return job


def test_a_job_runs_and_reports(tmp_path):
    job = write_job(tmp_path, REPO / "examples/data/orders.csv",
                    f"asset_path: {REPO / 'examples/data/orders_asset.yaml'}\n")
    report = dativo.run_job(job)
    assert report.rows_read == report.rows_written == 30
    assert report.rows_rejected == 0 and report.seconds > 0
    assert report.input_bytes > 0 and report.bytes_written == sum(f.bytes for f in report.files)
    [committed] = report.files
    assert committed.path == str(tmp_path / "out" / "part-00000.parquet")
    assert pq.read_table(committed.path).num_rows == 30


def test_a_failing_job_raises_with_file_and_line(tmp_path):
    job = write_job(tmp_path, REPO / "examples/data/bad_quantity.csv",
                    "  engine:\n    options:\n      column_types: {quantity: integer}\n")
    with pytest.raises(dativo.DataError, match=r"bad_quantity\.csv:5"):
        dativo.run_job(job)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.parquet"))


def test_a_bad_job_file_is_a_config_error(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text("source: {type: csv, files: [{path: a.csv}]}\ntarget: {output_bse: out}\n")
    with pytest.raises(dativo.ConfigError, match="output_bse"):
        dativo.run_job(job)
