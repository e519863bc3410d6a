"""Statuses become exceptions from one table; messages keep file, line and column."""

import pyarrow as pa
import pytest

import dativo
from dativo._errors import error_for
from dativo._lib import lib
from conftest import write_numbers_csv

STATUS_CLASSES = {
    lib.DATIVO_STATUS_INVALID_ARGUMENT: dativo.InvalidArgumentError,
    lib.DATIVO_STATUS_CONFIG: dativo.ConfigError,
    lib.DATIVO_STATUS_DATA: dativo.DataError,
    lib.DATIVO_STATUS_SCHEMA: dativo.SchemaError,
    lib.DATIVO_STATUS_IO: dativo.IoError,
    lib.DATIVO_STATUS_ARROW: dativo.ArrowError,
    lib.DATIVO_STATUS_PARQUET: dativo.ParquetError,
    lib.DATIVO_STATUS_PLUGIN: dativo.PluginError,
    lib.DATIVO_STATUS_INTERNAL: dativo.InternalError,
}


@pytest.mark.parametrize("status", sorted(STATUS_CLASSES))
def test_every_status_has_its_class(status):
    error = error_for(status, "text")
    assert type(error) is STATUS_CLASSES[status]
    assert error.status == status and error.message == "text" and str(error) == "text"
    assert isinstance(error, dativo.DativoError)


def test_an_unknown_status_is_a_plain_dativo_error():
    error = error_for(77, "from a newer library")
    assert type(error) is dativo.DativoError and error.status == 77


def test_parse_error_is_the_data_error_and_io_error_is_an_os_error():
    assert dativo.ParseError is dativo.DataError
    assert issubclass(dativo.IoError, OSError)


@pytest.fixture
def bad_row_csv(tmp_path):
    """A bad value deep in the file, after several good batches."""
    path = write_numbers_csv(tmp_path / "bad.csv", 5000)
    with path.open("a") as f:
        f.write("5000,not-a-number,x\n")
    return path


def test_a_bad_row_raises_while_iterating_and_never_looks_like_the_end(bad_row_csv):
    stream = dativo.read_csv(bad_row_csv, batch_size=1000, column_types={"value": "double"})
    rows = 0
    with pytest.raises(dativo.DataError) as raised:
        for batch in stream:
            rows += batch.num_rows
    assert rows < 5001
    assert raised.value.status == lib.DATIVO_STATUS_DATA
    message = raised.value.message
    assert str(bad_row_csv) in message and ":5002" in message and "value" in message
    assert "not-a-number" in message
    with pytest.raises(dativo.DataError):  # it keeps failing
        next(stream)


def test_a_bad_row_reaches_pyarrow_consumers_as_an_error(bad_row_csv):
    stream = dativo.read_csv(bad_row_csv, column_types={"value": "double"})
    with pytest.raises(pa.ArrowInvalid, match="not-a-number"):
        pa.table(stream)


def test_a_bad_row_written_through_the_writer_keeps_its_status(tmp_path, bad_row_csv):
    stream = dativo.read_csv(bad_row_csv, column_types={"value": "double"})
    writer = dativo.ParquetWriter(tmp_path / "out", stream.schema)
    with pytest.raises(dativo.DataError, match=r"bad\.csv:5002"):
        writer.write(stream)
    assert not list((tmp_path / "out").glob("*.parquet"))


def test_a_bad_option_is_a_config_error_with_a_suggestion(typed_csv):
    with pytest.raises(dativo.ConfigError, match="did you mean 'delimiter'"):
        dativo.read_csv(typed_csv, delimeter=";")
    with pytest.raises(dativo.ConfigError, match="compression"):
        dativo.ParquetWriter(typed_csv.parent / "out", pa.schema([("a", pa.int64())]),
                             compression="zstdx")


def test_a_missing_file_is_an_io_error_naming_it(tmp_path):
    missing = tmp_path / "missing.csv"
    with pytest.raises(dativo.IoError, match="missing.csv") as raised:
        dativo.read_csv(missing)
    assert isinstance(raised.value, OSError)
    with pytest.raises(dativo.IoError):
        dativo.infer_schema(missing)


def test_files_with_different_columns_are_a_schema_error(tmp_path, typed_csv):
    other = write_numbers_csv(tmp_path / "other.csv", 3)
    with pytest.raises(dativo.SchemaError):
        dativo.read_csv([typed_csv, other]).read_all()


def test_a_non_struct_array_is_an_arrow_error(tmp_path):
    writer = dativo.ParquetWriter(tmp_path / "out", pa.schema([("a", pa.int64())]))
    with pytest.raises(dativo.ArrowError):
        writer.write(pa.array([1, 2]))


def test_two_writers_into_one_directory_is_a_config_error(tmp_path):
    schema = pa.schema([("a", pa.int64())])
    first = dativo.ParquetWriter(tmp_path / "out", schema)
    with pytest.raises(dativo.ConfigError, match="already writing"):
        dativo.ParquetWriter(tmp_path / "out", schema)
    first.discard()


def test_a_stream_taken_twice_is_an_invalid_argument(typed_csv):
    stream = dativo.read_csv(typed_csv)
    stream.__arrow_c_stream__()
    with pytest.raises(dativo.InvalidArgumentError):
        stream.read_all()


def test_a_failing_foreign_stream_fails_the_write(tmp_path):
    schema = pa.schema([("a", pa.int64())])

    def batches():
        yield pa.record_batch([pa.array([1])], schema=schema)
        raise ValueError("producer broke")

    writer = dativo.ParquetWriter(tmp_path / "out", schema)
    with pytest.raises(dativo.DativoError, match="producer broke"):
        writer.write(pa.RecordBatchReader.from_batches(schema, batches()))
