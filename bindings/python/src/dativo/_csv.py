"""read_csv: CSV files as a stream of Arrow record batches read by libdativo."""

import os

from ._arrow import options_json, path_bytes
from ._errors import InvalidArgumentError, check, new_error
from ._lib import ffi, lib
from ._stream import Stream, new_c_stream


class CsvStream(Stream):
    """The record batches of one or several CSV files, parsed on libdativo's threads (see
    Stream for how to consume it). The schema is known before any row is read."""

    def __init__(self, reader):
        super().__init__()
        self._reader = ffi.gc(reader, lib.dativo_csv_reader_free)

    @property
    def rows_read(self) -> int:
        """Good rows delivered so far (may be read while another thread consumes)."""
        return lib.dativo_csv_reader_rows_read(self._reader) if self._reader is not None else 0

    @property
    def rows_rejected(self) -> int:
        """Bad rows skipped or rejected so far (on_error: skip | reject)."""
        return lib.dativo_csv_reader_rows_rejected(self._reader) if self._reader is not None else 0

    def _fill_schema(self, out):
        # From the reader, not the stream: works before and after the stream is taken.
        self._check_open()
        error = new_error()
        check(lib.dativo_csv_reader_schema(self._reader, out, error), error)

    def _open_stream(self):
        stream = new_c_stream()
        error = new_error()
        check(lib.dativo_csv_reader_stream(self._reader, stream, error), error)
        return stream

    def _release_handles(self):
        super()._release_handles()
        if self._reader is not None:
            ffi.release(self._reader)
            self._reader = None


def _paths(path_or_paths):
    if isinstance(path_or_paths, (str, bytes, os.PathLike)):
        return [path_bytes(path_or_paths)]
    paths = [path_bytes(p) for p in path_or_paths]
    if not paths:
        raise InvalidArgumentError("dativo.read_csv: no path given")
    return paths


def read_csv(path_or_paths, **options) -> CsvStream:
    """Open CSV files (one path or a list of paths with the same columns) for reading.

    `options` are the keys of a job's `source.engine.options` (delimiter, null_values,
    column_types, on_error, batch_size, threads, ...). Opening reads the header and infers the
    column types, so a missing file or a bad option raises here.
    """
    c_paths = [ffi.new("char[]", p) for p in _paths(path_or_paths)]  # alive for the call
    out = ffi.new("DativoCsvReader **")
    error = new_error()
    check(lib.dativo_csv_reader_open(ffi.new("const char *[]", c_paths), len(c_paths),
                                     options_json(options), out, error), error)
    return CsvStream(out[0])


def infer_schema(path_or_paths, **options):
    """The pyarrow.Schema read_csv would give these files with these options."""
    with read_csv(path_or_paths, **options) as stream:
        return stream.schema
