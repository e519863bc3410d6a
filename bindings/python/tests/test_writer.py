"""ParquetWriter: whatever speaks the Arrow PyCapsule protocol goes in, committed files come out."""

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dativo
from conftest import EXPECTED, naive


@pytest.fixture
def table(typed_csv):
    return dativo.read_csv(typed_csv).read_all()


def parts(directory):
    return sorted(p.name for p in directory.glob("*.parquet"))


def test_a_table_round_trips_with_types_nulls_and_timestamps(tmp_path, table):
    with dativo.ParquetWriter(tmp_path / "out", table.schema) as writer:
        writer.write(table)
    [committed] = writer.files
    assert committed.rows == 3 and committed.bytes > 0
    back = pq.read_table(committed.path)
    assert back.schema.names == table.schema.names
    assert {k: naive(v) for k, v in back.to_pydict().items()} == EXPECTED


def test_batches_readers_and_dativo_streams_are_accepted(tmp_path, table, typed_csv):
    writer = dativo.ParquetWriter(tmp_path / "out", table.schema)
    writer.write(table.to_batches()[0])  # __arrow_c_array__: moved in, schema checked
    writer.write(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()))
    writer.write(dativo.read_csv(typed_csv))  # a dativo stream straight into the writer
    files = writer.close()
    assert sum(f.rows for f in files) == 9
    assert pq.read_table(tmp_path / "out").num_rows == 9


def test_a_polars_frame_is_written_with_its_own_schema(tmp_path, table):
    frame = pl.from_arrow(table)
    with dativo.ParquetWriter(tmp_path / "out", frame.schema) as writer:
        writer.write(frame)
    back = pl.read_parquet(tmp_path / "out")
    assert back["note"].to_list() == EXPECTED["note"]
    assert naive(back["created_at"].to_list()) == EXPECTED["created_at"]


def test_a_polars_frame_goes_into_a_writer_of_plain_string_columns(tmp_path, table):
    # polars hands out string views; the engine writes them as the writer's utf8 columns.
    frame = pl.from_arrow(table)
    with dativo.ParquetWriter(tmp_path / "out", table.schema) as writer:
        writer.write(frame)
    back = pq.read_table(tmp_path / "out")
    assert back.schema.field("note").type == pa.string()
    assert back.column("note").to_pylist() == EXPECTED["note"]


def test_a_duckdb_relation_is_written(tmp_path, table):
    source = table  # noqa: F841 - DuckDB finds it by its variable name
    relation = duckdb.sql("select id, amount, note from source order by id")
    schema = pa.schema([("id", pa.int64()), ("amount", pa.float64()), ("note", pa.string())])
    with dativo.ParquetWriter(tmp_path / "out", schema) as writer:
        writer.write(relation)
    assert pq.read_table(tmp_path / "out").column("amount").to_pylist() == EXPECTED["amount"]


def test_options_are_the_job_keys(tmp_path, table):
    with dativo.ParquetWriter(tmp_path / "out", table.schema, compression="zstd",
                              max_rows_per_file=2) as writer:
        writer.write(table)
    assert [f.rows for f in writer.files] == [2, 1]
    assert parts(tmp_path / "out") == ["part-00000.parquet", "part-00001.parquet"]
    assert pq.ParquetFile(writer.files[0].path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_a_column_the_codec_cannot_shrink_is_stored_uncompressed(tmp_path):
    import random
    rng = random.Random(7)
    data = pa.table({
        "noise": pa.array([rng.getrandbits(63) for _ in range(20_000)], pa.int64()),
        "email": pa.array([f"customer-{i:08}@example.com" for i in range(20_000)]),
    })
    codecs = {}
    for adaptive in (True, False):
        out = tmp_path / str(adaptive)
        with dativo.ParquetWriter(out, data.schema, compression="zstd", adaptive_compression=adaptive) as writer:
            writer.write(data)
        # pyarrow, not dativo, reads the file back and names each column's codec.
        assert pq.read_table(out).equals(data)
        meta = pq.ParquetFile(writer.files[0].path).metadata.row_group(0)
        codecs[adaptive] = [meta.column(i).compression for i in range(meta.num_columns)]
    assert codecs == {True: ["UNCOMPRESSED", "ZSTD"], False: ["ZSTD", "ZSTD"]}


def test_leaving_the_block_by_an_exception_commits_nothing(tmp_path, table):
    with pytest.raises(RuntimeError):
        with dativo.ParquetWriter(tmp_path / "out", table.schema) as writer:
            writer.write(table)
            raise RuntimeError("caller failed")
    assert parts(tmp_path / "out") == []
    assert list((tmp_path / "out").iterdir()) == []


def test_nothing_is_visible_before_close(tmp_path, table):
    writer = dativo.ParquetWriter(tmp_path / "out", table.schema)
    writer.write(table)
    assert parts(tmp_path / "out") == []
    assert [f.path for f in writer.close()] == [str(tmp_path / "out" / "part-00000.parquet")]


def test_a_schema_mismatch_discards_the_writer(tmp_path, table):
    writer = dativo.ParquetWriter(tmp_path / "out", table.schema)
    other = pa.record_batch({"x": [1]})
    with pytest.raises(dativo.SchemaError):
        writer.write(other)
    with pytest.raises(dativo.DativoError):
        writer.write(table)
    with pytest.raises(dativo.DativoError):
        writer.close()
    assert parts(tmp_path / "out") == []


def test_calls_after_close_or_discard_are_refused(tmp_path, table):
    writer = dativo.ParquetWriter(tmp_path / "out", table.schema)
    writer.close()
    with pytest.raises(dativo.InvalidArgumentError):
        writer.write(table)
    writer.discard()
    with pytest.raises(dativo.InvalidArgumentError, match="discarded"):
        writer.write(table)


def test_non_arrow_input_is_a_type_error(tmp_path, table):
    writer = dativo.ParquetWriter(tmp_path / "out", table.schema)
    with pytest.raises(TypeError, match="__arrow_c_stream__"):
        writer.write([1, 2, 3])
    with pytest.raises(TypeError, match="__arrow_c_schema__"):
        dativo.ParquetWriter(tmp_path / "other", ["id"])
