"""The PyCapsule protocol: capsules consumed, never consumed, garbage-collected.

With pyarrow installed the package's capsules are made by pyarrow (see dativo/_capsule.py);
the `_tracked_stream` tests exercise the fallback capsules made without it."""

import gc
import os
from pathlib import Path

import pyarrow as pa
import pytest

import dativo
from dativo import _capsule
from dativo._lib import ffi


def _tracked_stream():
    """A capsule over a stub C stream whose release callback records that it ran."""
    released = []

    @ffi.callback("void(struct ArrowArrayStream *)")
    def release(stream):
        released.append(True)
        stream.release = ffi.NULL

    struct = _capsule.new_struct(_capsule.STREAM)
    struct.release = release
    return _capsule.export(_capsule.STREAM, struct), released, release


def test_a_capsule_never_consumed_releases_its_stream():
    capsule, released, _keep = _tracked_stream()
    del capsule
    assert released == [True]


def test_a_capsule_in_a_reference_cycle_is_released_by_the_garbage_collector():
    capsule, released, _keep = _tracked_stream()
    cycle = [capsule]
    cycle.append(cycle)
    del capsule, cycle
    gc.collect()
    assert released == [True]


def test_a_consumed_capsule_is_not_released_twice():
    capsule, released, _keep = _tracked_stream()
    struct = _capsule.pointer(_capsule.STREAM, capsule)
    moved = ffi.new("struct ArrowArrayStream *")
    moved[0] = struct[0]  # what a consumer does: move the struct out...
    struct.release = ffi.NULL  # ...and mark the original released
    del capsule
    assert released == []
    moved.release(moved)
    assert released == [True]


def _open_descriptors(path) -> int:
    """How many of this process's file descriptors are open on `path` (Linux)."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path))


def _started_stream(path):
    """A dativo stream read up to its first batch (so it holds the file open)."""
    stream = dativo.read_csv(path, batch_size=1000)
    next(stream)
    return stream


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_dativo_capsules_dropped_or_collected_release_their_stream(numbers_csv):
    capsule = _started_stream(numbers_csv).__arrow_c_stream__()
    gc.collect()
    assert _open_descriptors(numbers_csv) == 1
    del capsule  # never consumed
    assert _open_descriptors(numbers_csv) == 0

    cycle = [_started_stream(numbers_csv).__arrow_c_stream__()]
    cycle.append(cycle)
    del cycle
    gc.collect()  # collected
    assert _open_descriptors(numbers_csv) == 0

    stream = _started_stream(numbers_csv)
    assert pa.RecordBatchReader.from_stream(stream).read_all().num_rows == 19_000  # consumed
    del stream
    gc.collect()
    assert _open_descriptors(numbers_csv) == 0


def test_fallback_capsules_free_their_struct_memory():
    baseline = len(_capsule._owned)
    capsule, _, _keep = _tracked_stream()
    assert len(_capsule._owned) == baseline + 1
    del capsule
    assert len(_capsule._owned) == baseline


def test_a_half_read_stream_hands_over_the_rest(numbers_csv):
    stream = dativo.read_csv(numbers_csv, batch_size=1000)
    first = next(stream)
    rest = pa.table(stream)
    assert first.num_rows + rest.num_rows == 20_000


def test_the_stream_can_be_handed_out_once(typed_csv):
    stream = dativo.read_csv(typed_csv)
    pa.table(stream)
    with pytest.raises(dativo.InvalidArgumentError, match="already handed"):
        stream.__arrow_c_stream__()
    with pytest.raises(dativo.InvalidArgumentError):
        next(stream)


def test_schema_capsule_is_readable_by_pyarrow_and_repeatable(typed_csv):
    stream = dativo.read_csv(typed_csv)
    first = pa.Schema._import_from_c_capsule(stream.__arrow_c_schema__())
    assert first == pa.Schema._import_from_c_capsule(stream.__arrow_c_schema__()) == stream.schema


def test_a_closed_stream_refuses_use(typed_csv):
    stream = dativo.read_csv(typed_csv)
    with stream:
        next(stream)
    with pytest.raises(dativo.InvalidArgumentError, match="closed"):
        next(stream)
    assert stream.rows_read == 0


def test_capsules_of_the_wrong_kind_are_refused(typed_csv):
    schema_capsule = dativo.read_csv(typed_csv).__arrow_c_schema__()
    with pytest.raises(TypeError, match="arrow_array_stream"):
        _capsule.pointer(_capsule.STREAM, schema_capsule)
