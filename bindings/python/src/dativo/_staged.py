"""Staged Parquet writes: writers stage sealed files, one committer publishes them.

The Python face of the C API's staged writes (src/ffi/staged.rs), for distributed writers
such as dativo.ray's datasink: each task writes with a StagedParquetWriter under its own file
prefix and returns `stage()`'s descriptions; the driver calls `commit_staged` once with all of
them, or `discard_staged` when the write failed. The protocol and its guarantees are the
engine's (src/engine/parquet/staged.rs, docs/ray.md).
"""

import json
import threading

from . import _capsule
from ._arrow import options_json, path_bytes
from ._errors import check, new_error
from ._files import committed_files
from ._lib import ffi, lib
from ._writer import ParquetWriter, _schema_capsule


class StagedParquetWriter(ParquetWriter):
    """A ParquetWriter whose files are named `<file_prefix>-NNNNN.parquet` and are staged by
    `stage()` (complete, fsynced, hidden) instead of being committed by `close()`."""

    def __init__(self, path, schema, file_prefix, **options):  # pylint: disable=super-init-not-called
        out = ffi.new("DativoParquetWriter **")
        error = new_error()
        capsule = _schema_capsule(schema)
        check(lib.dativo_parquet_writer_open_staged(
            path_bytes(path), _capsule.pointer(_capsule.SCHEMA, capsule), file_prefix.encode(),
            options_json(options), out, error), error)
        self._writer = ffi.gc(out[0], lib.dativo_parquet_writer_free)
        self._lock = threading.Lock()
        self._closed = False
        self.files = None

    def stage(self) -> list:
        """Seal every file under a staged name and return their descriptions (dicts with
        temp_path, final_name, rows, bytes: JSON-serialisable, for `commit_staged`). The
        writer is closed afterwards, success or failure."""
        out = ffi.new("char **")
        try:
            self._call(lib.dativo_parquet_writer_stage, out)
        finally:
            self._closed = True
        try:
            return json.loads(ffi.string(out[0]).decode("utf-8", "surrogateescape"))
        finally:
            lib.dativo_string_free(out[0])


def _commit_options(file_prefix, write_mode, options):
    return options_json({**options, "file_prefix": file_prefix, "write_mode": write_mode})


def commit_staged(path, staged, file_prefix="part", write_mode="overwrite", **options) -> list:
    """Publish exactly the `staged` files (descriptions from `stage()`) in `path` (a directory
    or `s3://bucket/prefix`), write `_manifest.json` last, and remove what other attempts left;
    returns the committed files (CommittedFile). A check failing first changes nothing.
    `options`: the writers' options (their connection keys serve a bucket; the rest are
    checked and ignored)."""
    out = ffi.new("DativoFileList **")
    error = new_error()
    check(lib.dativo_parquet_commit_staged(path_bytes(path), json.dumps(list(staged)).encode(),
                                           _commit_options(file_prefix, write_mode, options), out, error), error)
    files = ffi.gc(out[0], lib.dativo_file_list_free)
    try:
        return committed_files(files)
    finally:
        ffi.release(files)


def discard_staged(path, file_prefix="part", **options) -> None:
    """Remove every staged file of `file_prefix` in `path` (and dead writers' temps); in a
    bucket, every object of the prefix no manifest names. `options` as for commit_staged."""
    error = new_error()
    check(lib.dativo_parquet_discard_staged(path_bytes(path), _commit_options(file_prefix, "overwrite", options),
                                            error), error)
