"""Plugin specs (`path/to/module.py:ClassName`, `path/to/lib.so[:symbol]`): parsing and kind.

The library parses the spec (`dativo_plugin_spec_parse`), so a spec means here exactly what it
means in a job run by the Rust engine; this module only adds what a Python host needs: the
kind (a native library, or a Python module the package provides), the folder a relative path
is relative to, and that the file exists.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from .._errors import PluginError, new_error, take_message
from .._lib import ffi, lib

PYTHON_SUFFIXES = (".py",)


@dataclass(frozen=True)
class PluginSpec:
    path: Path
    name: str  # the class (Python) or entry symbol (native; "" for the default)
    kind: str  # "python" or "native"

    def __str__(self):
        return f"{self.path}:{self.name}" if self.name else str(self.path)


def _library_parse(text: str) -> dict:
    """`{"path", "name", "native"}` from the library; its message in a PluginError."""
    out = ffi.new("char **")
    error = new_error()
    status = lib.dativo_plugin_spec_parse(text.encode("utf-8"), out, error)
    if status != lib.DATIVO_STATUS_OK:
        raise PluginError(take_message(status, error))
    try:
        return json.loads(ffi.string(out[0]).decode("utf-8"))
    finally:
        lib.dativo_string_free(out[0])


def parse(spec, base_dir=None) -> PluginSpec:
    """Parse and check a spec; a relative path is relative to `base_dir` (default: cwd)."""
    text = str(spec)
    parsed = _library_parse(text)
    name = parsed["name"] or ""
    path = Path(parsed["path"])
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    if parsed["native"]:
        kind = "native"
    elif path.suffix in PYTHON_SUFFIXES:
        if not name:
            raise PluginError(f"plugin spec {text!r}: expected 'path/to/module.py:ClassName' "
                              f"(a Python plugin names its class after the colon)")
        kind = "python"
    else:
        raise PluginError(f"plugin spec {text!r}: cannot tell the plugin's kind from its file: "
                          f"expected a Python module (.py) or a native library "
                          f"(.so, .dylib, .dll)")
    if not path.is_file():
        raise PluginError(f"plugin spec {text!r}: no such file {path}")
    return PluginSpec(path, name, kind)
