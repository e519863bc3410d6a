"""read_csv through pyarrow, polars and DuckDB: types, nulls, timestamps, options."""

import datetime as dt

import duckdb
import polars as pl
import pyarrow as pa
import pytest

import dativo
from conftest import EXPECTED, naive, write_numbers_csv


def test_schema_types_every_column(typed_csv):
    schema = dativo.read_csv(typed_csv).schema
    assert schema.names == list(EXPECTED)
    assert schema.field("id").type == pa.int64()
    assert schema.field("name").type == pa.string()
    assert schema.field("amount").type == pa.float64()
    assert pa.types.is_timestamp(schema.field("created_at").type)
    assert schema.field("day").type == pa.date32()
    assert schema.field("is_active").type == pa.bool_()


def test_infer_schema_equals_the_stream_schema(typed_csv):
    assert dativo.infer_schema(typed_csv) == dativo.read_csv(typed_csv).schema


def test_read_all_gives_values_nulls_and_timestamps(typed_csv):
    table = dativo.read_csv(typed_csv).read_all()
    assert {name: naive(values) for name, values in table.to_pydict().items()} == EXPECTED


def test_iteration_yields_record_batches(numbers_csv):
    batches = list(dativo.read_csv(numbers_csv, batch_size=5000))
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert sum(b.num_rows for b in batches) == 20_000
    assert len(batches) >= 4


def test_pyarrow_consumes_the_capsule_stream(typed_csv):
    via_reader = pa.RecordBatchReader.from_stream(dativo.read_csv(typed_csv)).read_all()
    via_table = pa.table(dativo.read_csv(typed_csv))
    assert via_reader.equals(via_table)
    assert naive(via_table.column("created_at").to_pylist()) == EXPECTED["created_at"]


def test_polars_consumes_the_stream(typed_csv):
    frame = pl.DataFrame(dativo.read_csv(typed_csv))
    assert frame.columns == list(EXPECTED)
    assert frame["amount"].to_list() == EXPECTED["amount"]
    assert frame["note"].to_list() == EXPECTED["note"]
    assert frame["is_active"].to_list() == EXPECTED["is_active"]
    assert naive(frame["created_at"].to_list()) == EXPECTED["created_at"]
    assert frame["day"].to_list() == EXPECTED["day"]


def test_duckdb_queries_the_stream_directly(typed_csv):
    stream = dativo.read_csv(typed_csv)  # noqa: F841 - DuckDB finds it by its variable name
    rows = duckdb.sql("select id, amount, created_at, note from stream order by id").fetchall()
    assert [r[0] for r in rows] == EXPECTED["id"]
    assert [r[1] for r in rows] == EXPECTED["amount"]
    assert [r[3] for r in rows] == EXPECTED["note"]
    assert naive([r[2] for r in rows]) == EXPECTED["created_at"]


def test_duckdb_queries_through_pyarrow(numbers_csv):
    reader = pa.RecordBatchReader.from_stream(dativo.read_csv(numbers_csv))  # noqa: F841
    assert duckdb.sql("select count(*), sum(id) from reader").fetchall() == [(20_000, 19_999 * 10_000)]


def test_several_files_are_one_stream(tmp_path):
    a = write_numbers_csv(tmp_path / "a.csv", 10)
    b = write_numbers_csv(tmp_path / "b.csv", 5)
    assert dativo.read_csv([a, str(b)]).read_all().num_rows == 15


def test_options_are_the_job_keys(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("id;when;flag\n1;2024-01-02;NA\n2;NA;yes\n")
    table = dativo.read_csv(path, delimiter=";", null_values=["NA"],
                            column_types={"id": "string"}).read_all()
    assert table.schema.field("id").type == pa.string()
    assert table.column("when").to_pylist() == [dt.date(2024, 1, 2), None]
    assert table.column("flag").to_pylist() == [None, "yes"]


def test_counters_follow_the_stream(numbers_csv):
    stream = dativo.read_csv(numbers_csv)
    stream.read_all()
    assert stream.rows_read == 20_000 and stream.rows_rejected == 0


def test_skipped_rows_are_counted(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,n\n1,2\n2,x\n3,4\n")
    stream = dativo.read_csv(path, column_types={"n": "integer"}, on_error="skip")
    assert stream.read_all().column("id").to_pylist() == [1, 3]
    assert stream.rows_rejected == 1
