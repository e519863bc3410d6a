"""Streams of Arrow record batches produced by libdativo (a CSV reader, a native plugin)."""

import threading

from . import _capsule
from ._arrow import address, pyarrow
from ._errors import InvalidArgumentError, check, error_for, new_error, take_message
from ._lib import ffi, lib


def release_stream(stream):
    if stream.release != ffi.NULL:
        stream.release(stream)


def release_schema(schema):
    if schema.release != ffi.NULL:
        schema.release(schema)


def new_c_stream():
    """An empty `struct ArrowArrayStream *`, released when collected unless moved on."""
    return ffi.gc(ffi.new("struct ArrowArrayStream *"), release_stream)


class Stream:
    """A stream of record batches made by libdativo.

    Consume it once, in one of these ways: iterate (pyarrow RecordBatches), `read_all()`
    (a pyarrow Table), or hand it to any Arrow PyCapsule consumer through
    `__arrow_c_stream__` (pyarrow.table(s), polars.DataFrame(s), duckdb), which moves the
    data without copying it. A failure raises the DativoError of its status (a bad row: a
    DataError naming file, line and column); an error never looks like the end of the data.
    One thread at a time (a lock enforces it).
    """

    def __init__(self, c_stream=None):
        self._stream = c_stream  # None until `_open_stream` (subclasses open lazily)
        self._moved = False  # True once handed to a capsule consumer
        self._closed = False
        self._schema = None
        self._lock = threading.Lock()

    # --- schema ------------------------------------------------------------------------

    def __arrow_c_schema__(self):
        """The schema as a PyCapsule named "arrow_schema" (struct schema, one field per column)."""
        schema = ffi.gc(ffi.new("struct ArrowSchema *"), release_schema)
        self._fill_schema(schema)
        return _capsule.export_schema(schema)

    @property
    def schema(self):
        """The schema as a pyarrow.Schema."""
        if self._schema is None:
            self._schema = pyarrow().schema(self)
        return self._schema

    # --- consuming ---------------------------------------------------------------------

    def __iter__(self):
        return self

    def __next__(self):
        pa = pyarrow()
        schema = self.schema
        with self._lock:
            stream = self._live_stream()
            array = _capsule.new_struct(_capsule.ARRAY)
            code = stream.get_next(stream, array)  # cffi releases the GIL here
            if code != 0:
                error = new_error()
                status = lib.dativo_status_from_stream(stream, code, error)
                raise error_for(status, take_message(status, error))
            if array.release == ffi.NULL:
                raise StopIteration
            # Moves the array: pyarrow takes ownership of the buffers, no copy.
            return pa.RecordBatch._import_from_c(address(array), schema)

    def read_all(self):
        """Every remaining batch as one pyarrow.Table (the batches' buffers, not copies)."""
        return pyarrow().Table.from_batches(list(self), schema=self.schema)

    def __arrow_c_stream__(self, requested_schema=None):
        """Move the (remaining) data into a PyCapsule named "arrow_array_stream".

        `requested_schema` is passed to pyarrow, which casts where it can; without pyarrow it
        is ignored, as the protocol allows.
        """
        return _capsule.export_stream(self.take_c_stream(), requested_schema)

    def take_c_stream(self):
        """Move the (remaining) data out as a `struct ArrowArrayStream *` the caller owns
        (released when the cffi object is collected unless the caller moves it on)."""
        with self._lock:
            stream = self._live_stream()
            moved = new_c_stream()
            moved[0] = stream[0]  # a C stream moves by copying the struct...
            stream.release = ffi.NULL  # ...and marking the source released
            self._moved = True
            return moved

    def close(self):
        """Release the stream (and what it reads from) now instead of at garbage collection."""
        with self._lock:
            self._closed = True
            self._release_handles()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    # --- for subclasses ----------------------------------------------------------------

    def _fill_schema(self, out):
        with self._lock:
            stream = self._live_stream()
            code = stream.get_schema(stream, out)
            if code != 0:
                error = new_error()
                status = lib.dativo_status_from_stream(stream, code, error)
                raise error_for(status, take_message(status, error))

    def _open_stream(self):
        raise InvalidArgumentError("dativo: the stream is closed")

    def _release_handles(self):
        if self._stream is not None:
            ffi.release(self._stream)  # runs its ffi.gc destructor now
            self._stream = None

    def _check_open(self):
        if self._closed:
            raise InvalidArgumentError("dativo: the stream is closed")

    def _live_stream(self):
        self._check_open()
        if self._moved:
            raise InvalidArgumentError("dativo: the stream was already handed to a consumer "
                                       "(__arrow_c_stream__); read it there")
        if self._stream is None:
            self._stream = self._open_stream()
        return self._stream
