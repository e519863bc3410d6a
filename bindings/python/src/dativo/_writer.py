"""ParquetWriter: Arrow data from any PyCapsule producer into committed Parquet files."""

import threading

from . import _capsule
from ._arrow import options_json, path_bytes
from ._errors import InvalidArgumentError, check, new_error
from ._files import committed_files
from ._lib import ffi, lib
from ._stream import Stream


def _schema_capsule(schema):
    if hasattr(schema, "__arrow_c_schema__"):
        return schema.__arrow_c_schema__()
    raise TypeError(f"dativo.ParquetWriter: schema must implement __arrow_c_schema__ "
                    f"(a pyarrow.Schema, a dativo stream, ...), not {type(schema).__name__}")


class ParquetWriter:
    """Parquet files written into `path`, a local directory or `s3://bucket/prefix`, for record
    batches of `schema`.

    `schema` is anything with `__arrow_c_schema__` (a pyarrow.Schema, `read_csv(...)`).
    `options` are the keys of a job's `target.engine.options` (compression, row_group_size,
    max_rows_per_file, ...), `partitioning` (Hive partition columns, e.g.
    `["ingest_date", "country"]`) and, for `s3://`, the keys of a job's
    `target.connection.s3` (endpoint, region, access_key_id, secret_access_key, session_token,
    path_style_access, secure); all go to the library as they are (docs/python.md).
    Files stay invisible until `close()`, which commits them and
    returns them (also kept in `.files`, so a `with` block that commits on exit can be read
    afterwards); leaving a `with` block by an exception, or a failed write, discards them.
    One thread at a time (a lock enforces it).
    """

    def __init__(self, path, schema, **options):
        out = ffi.new("DativoParquetWriter **")
        error = new_error()
        capsule = _schema_capsule(schema)  # borrowed by the call, released by the capsule
        check(lib.dativo_parquet_writer_open(path_bytes(path), _capsule.pointer(_capsule.SCHEMA, capsule),
                                             options_json(options), out, error), error)
        self._writer = ffi.gc(out[0], lib.dativo_parquet_writer_free)
        self._lock = threading.Lock()
        self._closed = False
        self.files = None  # the committed files, once close() succeeded

    def write(self, data) -> None:
        """Write `data`: a record batch (`__arrow_c_array__`, moved in together with its schema,
        which is checked against the writer's) or a stream or table (`__arrow_c_stream__`,
        written to its end). pyarrow batches, tables and readers, polars DataFrames, DuckDB
        relations and dativo streams all qualify; nothing is copied.
        """
        if isinstance(data, Stream):
            # dativo's own stream goes in as the C stream itself, so a failure in it keeps
            # its exact status (a capsule round trip through pyarrow would blur SCHEMA or IO
            # into the status derived from an errno).
            self._call(lib.dativo_parquet_writer_write_stream, data.take_c_stream())
        elif hasattr(data, "__arrow_c_array__"):
            schema_capsule, array_capsule = data.__arrow_c_array__()
            self._call(lib.dativo_parquet_writer_write_array,
                       _capsule.pointer(_capsule.ARRAY, array_capsule),
                       _capsule.pointer(_capsule.SCHEMA, schema_capsule))
        elif hasattr(data, "__arrow_c_stream__"):
            stream_capsule = data.__arrow_c_stream__()
            self._call(lib.dativo_parquet_writer_write_stream,
                       _capsule.pointer(_capsule.STREAM, stream_capsule))
        else:
            raise TypeError(f"dativo.ParquetWriter.write: expected Arrow data "
                            f"(__arrow_c_array__ or __arrow_c_stream__), not {type(data).__name__}")

    def close(self) -> list:
        """Commit the files (local: fsync, rename, fsync the directory; s3://: complete the
        objects, then write the `_manifest.json` object naming them) and return them as
        CommittedFile(path, rows, bytes) objects (paths of objects are s3:// URLs). Success or failure, the writer is closed
        afterwards; on failure nothing is committed."""
        out = ffi.new("DativoFileList **")
        try:
            self._call(lib.dativo_parquet_writer_close, out)
        finally:
            self._closed = True
        files = ffi.gc(out[0], lib.dativo_file_list_free)
        try:
            self.files = committed_files(files)
        finally:
            ffi.release(files)
        return self.files

    def discard(self) -> None:
        """Drop everything written so far; nothing becomes visible. Idempotent."""
        with self._lock:
            if self._writer is not None:
                ffi.release(self._writer)  # dativo_parquet_writer_free discards unclosed files
                self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None and not self._closed and self._writer is not None:
            self.close()
        else:
            self.discard()
        return False

    def _call(self, function, *args):
        with self._lock:
            if self._writer is None:
                raise InvalidArgumentError("dativo: the Parquet writer was discarded")
            error = new_error()
            check(function(self._writer, *args, error), error)
