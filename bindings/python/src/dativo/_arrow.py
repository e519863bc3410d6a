"""Conversions between the Arrow C structs libdativo speaks and pyarrow objects.

pyarrow is optional: it is imported on first use, and its absence is reported with what
still works without it (the PyCapsule protocol).
"""

import json
import os

from ._lib import ffi


def pyarrow():
    try:
        import pyarrow as pa
    except ImportError as error:
        raise ImportError("dativo: this needs pyarrow (pip install pyarrow); without it, hand the "
                          "object to any Arrow PyCapsule consumer (polars.DataFrame(obj), "
                          "duckdb, nanoarrow) through __arrow_c_stream__") from error
    return pa


def address(struct) -> int:
    """The address of a cffi struct pointer, as pyarrow's _import_from_c/_export_to_c take it."""
    return int(ffi.cast("uintptr_t", struct))


def options_json(options: dict):
    """Keyword options as the C API's JSON text (NULL when there are none)."""
    if not options:
        return ffi.NULL
    return json.dumps(options).encode("utf-8")


def path_bytes(path) -> bytes:
    """A path argument (str, bytes, os.PathLike) as the C API's bytes (any bytes on Unix)."""
    return os.fsencode(path)
