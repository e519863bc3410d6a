"""Jobs whose reader or writer is a Python plugin, run by the engine (dativo.run_job and
`python -m dativo run`): Python readers feeding the Rust writer, the Rust reader feeding
Python writers, and every failure in a plugin coming back as an error, never a crash."""

import json
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dativo
from dativo.plugins._bridge import _live, _messages
from dativo.plugins._convert import record_batch_reader
from dativo.plugins import PluginLoader
from conftest import REPO

PLUGINS = REPO / "bindings/python/tests/plugins"


@pytest.fixture
def job_dir(tmp_path):
    for name in ("readers.py", "writers.py"):
        shutil.copy(PLUGINS / name, tmp_path / name)
    return tmp_path


def write_job(directory, source: str, target: str, extra: str = ""):
    job = directory / "job.yaml"
    job.write_text(f"source:\n{source}\ntarget:\n{target}\n{extra}")
    return job


CSV_SOURCE = f"  type: csv\n  files:\n    - {{path: {REPO / 'examples/data/orders.csv'}}}"
PARQUET_TARGET = "  type: local\n  output_base: out"


def test_a_python_reader_of_dicts_feeds_the_rust_parquet_writer(job_dir):
    report = dativo.run_job(write_job(job_dir, "  custom_reader: readers.py:DictReader",
                                      PARQUET_TARGET))
    assert report.rows_written == 3
    table = pq.read_table(job_dir / "out")
    assert table.column("name").to_pylist() == ["Ada", "Grace", None]
    assert table.column("score").to_pylist() == [1.5, None, 3.0]


def test_a_python_reader_of_arrow_batches_gets_its_config_and_is_validated(job_dir):
    asset = ("asset:\n  name: people\n  schema:\n    - {name: id, type: integer, required: true}\n"
             "    - {name: name, type: string}\n")
    source = "  custom_reader: readers.py:ArrowReader\n  connection: {rows: 1000}"
    report = dativo.run_job(write_job(job_dir, source, PARQUET_TARGET, asset))
    assert report.rows_written == 1001
    assert pq.read_table(job_dir / "out").column("id").to_pylist() == list(range(1001))


def test_the_rust_csv_reader_feeds_a_python_writer_of_dicts(job_dir):
    target = "  custom_writer: writers.py:JsonLinesWriter\n  output_base: out"
    report = dativo.run_job(write_job(job_dir, CSV_SOURCE, target))
    assert report.rows_written == 30
    [committed] = report.files
    assert committed.rows == 30 and committed.path.endswith("part-0.jsonl")
    lines = (job_dir / "out/part-0.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["customer_name"] == "Maria Garcia"
    assert not list((job_dir / "out").glob(".part-*"))


def test_a_python_writer_can_take_arrow_batches_and_sees_the_asset(job_dir):
    target = "  custom_writer: writers.py:ArrowCountingWriter\n  output_base: out"
    asset = f"asset_path: {REPO / 'examples/data/orders_asset.yaml'}\n"
    report = dativo.run_job(write_job(job_dir, CSV_SOURCE, target, asset))
    summary = json.loads((job_dir / "out/summary.json").read_text())
    assert summary == {"rows": 30, "columns": summary["columns"], "asset": "orders"}
    assert summary["columns"][0] == "order_id" and report.files[0].rows == 30


def test_a_python_reader_feeds_a_python_writer(job_dir):
    target = "  custom_writer: writers.py:ArrowCountingWriter\n  output_base: out"
    dativo.run_job(write_job(job_dir, "  custom_reader: readers.py:DictReader", target))
    assert json.loads((job_dir / "out/summary.json").read_text())["rows"] == 3


@pytest.mark.parametrize("reader, message", [
    ("FailingReader", r"(?s)readers\.py.*in extract.*RuntimeError: the source went away"),
    ("FailingOpen", r"ConnectionError: cannot reach the source"),
    ("BadItems", r"extract\(\) yielded str"),
    ("Nope", r"has no class 'Nope'"),
])
def test_a_failing_python_reader_fails_the_job_with_its_message(job_dir, reader, message):
    job = write_job(job_dir, f"  custom_reader: readers.py:{reader}", PARQUET_TARGET)
    with pytest.raises(dativo.DativoError, match=message):
        dativo.run_job(job)
    assert not (job_dir / "out").exists() or not list((job_dir / "out").glob("*.parquet"))


@pytest.mark.parametrize("writer, error, message", [
    ("FailingWriter", dativo.PluginError, r"ValueError: disk quota exceeded"),
    ("NoPathWriter", dativo.PluginError, r"without a 'path'"),
])
def test_a_failing_python_writer_fails_the_job_with_its_message(job_dir, writer, error, message):
    target = f"  custom_writer: writers.py:{writer}\n  output_base: out"
    with pytest.raises(error, match=message):
        dativo.run_job(write_job(job_dir, CSV_SOURCE, target))


def test_a_bad_row_reaching_a_python_writer_stays_a_data_error(job_dir):
    source = (f"  type: csv\n  files:\n    - {{path: {REPO / 'examples/data/bad_quantity.csv'}}}\n"
              "  engine:\n    options:\n      column_types: {quantity: integer}")
    target = "  custom_writer: writers.py:JsonLinesWriter\n  output_base: out"
    with pytest.raises(dativo.DataError, match=r"bad_quantity\.csv:5"):
        dativo.run_job(write_job(job_dir, source, target))


def test_plugins_and_error_messages_are_released_after_the_job(job_dir):
    dativo.run_job(write_job(job_dir, "  custom_reader: readers.py:DictReader", PARQUET_TARGET))
    with pytest.raises(dativo.DativoError):
        dativo.run_job(write_job(job_dir, "  custom_reader: readers.py:FailingReader",
                                 PARQUET_TARGET))
    assert _live == {} and _messages == {}


def test_a_python_reader_feeds_the_parquet_writer_without_a_job(tmp_path):
    reader = PluginLoader.load_reader(f"{PLUGINS}/readers.py:ArrowReader")({})
    batches = record_batch_reader(reader.extract())
    with dativo.ParquetWriter(tmp_path / "out", batches.schema) as writer:
        writer.write(batches)
    assert writer.files[0].rows == 5


def test_python_m_dativo_runs_a_job_and_prints_the_report(job_dir):
    job = write_job(job_dir, "  custom_reader: readers.py:DictReader", PARQUET_TARGET)
    done = subprocess.run([sys.executable, "-m", "dativo", "run", "--config", str(job)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows_written"] == 3


def test_python_m_dativo_reports_a_failure_on_stderr(job_dir):
    job = write_job(job_dir, "  custom_reader: readers.py:FailingReader", PARQUET_TARGET)
    done = subprocess.run([sys.executable, "-m", "dativo", "run", "--config", str(job)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert "the source went away" in done.stderr and done.stdout == ""
