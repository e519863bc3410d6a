"""Evidence that data crosses the boundary without copies: buffer addresses and pyarrow's
memory pool (buffers libdativo allocates never come from it)."""

import pyarrow as pa
import pyarrow.csv

import dativo
from dativo import _capsule
from dativo._lib import ffi


def _data_address(array_struct, column: int) -> int:
    """Address of the values buffer (buffers[1]) of child `column` of a C struct array."""
    return int(ffi.cast("uintptr_t", array_struct.children[column].buffers[1]))


def test_pyarrow_batches_point_at_the_buffers_libdativo_produced(numbers_csv):
    stream_capsule = dativo.read_csv(numbers_csv).__arrow_c_stream__()
    stream = _capsule.pointer(_capsule.STREAM, stream_capsule)
    schema = _capsule.new_struct(_capsule.SCHEMA)
    assert stream.get_schema(stream, schema) == 0
    pa_schema = pa.Schema._import_from_c(int(ffi.cast("uintptr_t", schema)))
    array = _capsule.new_struct(_capsule.ARRAY)
    assert stream.get_next(stream, array) == 0
    produced = [_data_address(array, i) for i in range(2)]  # id (int64), value (double)

    batch = pa.RecordBatch._import_from_c(int(ffi.cast("uintptr_t", array)), pa_schema)
    assert [batch.column(i).buffers()[1].address for i in range(2)] == produced

    # ...and what a writer receives from that batch (its export) is the same memory again.
    _, array_capsule = batch.__arrow_c_array__()
    assert [_data_address(_capsule.pointer(_capsule.ARRAY, array_capsule), i)
            for i in range(2)] == produced


def test_reading_allocates_nothing_from_the_pyarrow_pool(numbers_csv):
    before = pa.total_allocated_bytes()
    table = dativo.read_csv(numbers_csv).read_all()
    through_dativo = pa.total_allocated_bytes() - before
    assert table.num_rows == 20_000 and table.nbytes > 400_000
    assert through_dativo < 4096, through_dativo

    # The same file read by pyarrow's own reader lands in the pool: the measure works.
    before = pa.total_allocated_bytes()
    copy = pyarrow.csv.read_csv(numbers_csv)
    assert pa.total_allocated_bytes() - before > copy.nbytes // 2
