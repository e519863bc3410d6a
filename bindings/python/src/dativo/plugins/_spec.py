"""Plugin specs (`path/to/module.py:ClassName`, `path/to/lib.so[:symbol]`): parsing and kind."""

from dataclasses import dataclass
from pathlib import Path

from .._errors import PluginError

NATIVE_SUFFIXES = (".so", ".dylib", ".dll")
PYTHON_SUFFIXES = (".py",)


@dataclass(frozen=True)
class PluginSpec:
    path: Path
    name: str  # the class (Python) or entry symbol (native; "" for the default)
    kind: str  # "python" or "native"

    def __str__(self):
        return f"{self.path}:{self.name}" if self.name else str(self.path)


def parse(spec: str, base_dir=None) -> PluginSpec:
    """Split and check a spec; a relative path is relative to `base_dir` (default: cwd).

    The split is at the last ':' that follows the file's suffix, so Windows drive letters
    (C:\\plugins\\r.py:Reader) keep their colon.
    """
    text = str(spec)
    path_text, name = text, ""
    for suffix in PYTHON_SUFFIXES + NATIVE_SUFFIXES:
        at = text.rfind(suffix + ":")
        if at != -1:
            path_text, name = text[: at + len(suffix)], text[at + len(suffix) + 1:]
            break
    path = Path(path_text)
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    if path.suffix in PYTHON_SUFFIXES:
        if not name.isidentifier():
            raise PluginError(f"plugin spec {text!r}: expected 'path/to/module.py:ClassName' "
                              f"(a Python plugin names its class after the colon)")
        kind = "python"
    elif path.suffix in NATIVE_SUFFIXES:
        if name and not name.isidentifier():
            raise PluginError(f"plugin spec {text!r}: expected 'path/to/lib{path.suffix}' or "
                              f"'path/to/lib{path.suffix}:symbol'")
        kind = "native"
    else:
        raise PluginError(f"plugin spec {text!r}: cannot tell the plugin's kind from its file: "
                          f"expected a Python module (.py) or a native library "
                          f"({', '.join(NATIVE_SUFFIXES)})")
    if not path.is_file():
        raise PluginError(f"plugin spec {text!r}: no such file {path}")
    return PluginSpec(path, name, kind)
