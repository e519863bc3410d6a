"""Python plugin classes as DativoPluginVTables, so the engine runs them inside a job.

The engine calls the vtable's functions (cffi callbacks, which take the GIL) from its own
threads. Everything a vtable points at (the plugin's name and version strings, the handle of
the Python object) stays alive in `_live` until the engine calls `release`; the callbacks
themselves are module-level and live as long as the process. No exception ever crosses into
the engine: each one becomes a filled DativoError and a status (the DativoError's own status,
DATA/IO/ARROW for a failing input stream, PLUGIN for an error in the plugin's code).
"""

import json
import os
import traceback

from .._arrow import address, pyarrow
from .._errors import DativoError, error_for
from .._lib import ffi, lib
from .._stream import release_stream
from ._base import BaseReader, BaseWriter, Config
from ._convert import record_batch_reader

PLUGIN_ABI_VERSION = 1  # the vtable layout this module fills

_live = {}  # private_data address -> _PythonPlugin, from fill_vtable until release
_messages = {}  # message address -> its buffer, until the engine releases the error


# --- errors the engine receives ---------------------------------------------------------

@ffi.callback("void(DativoError *)")
def _release_error(error):
    _messages.pop(address(error.message), None)
    error.message = ffi.NULL
    error.release = ffi.NULL
    error.private_data = ffi.NULL


def set_error(error, text: str) -> None:
    """Fill a caller-zeroed `DativoError *` with a message this module owns."""
    if error == ffi.NULL:
        return
    if error.release != ffi.NULL:
        error.release(error)
    buffer = ffi.new("char[]", text.encode("utf-8", "replace").replace(b"\0", b" "))
    _messages[address(buffer)] = buffer
    error.message = buffer
    error.release = _release_error


def _where(exception: BaseException) -> str:
    """The innermost frame of a traceback, for messages: 'file.py:12 in extract'."""
    frames = traceback.extract_tb(exception.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    return f" ({os.path.basename(frame.filename)}:{frame.lineno} in {frame.name})"


def guarded(error, label: str, action) -> int:
    """Run `action`; turn any exception into `error` + a status, never a crash."""
    try:
        action()
        return lib.DATIVO_STATUS_OK
    except DativoError as exception:
        set_error(error, f"{label}: {exception.message}")
        return exception.status or lib.DATIVO_STATUS_PLUGIN
    except BaseException as exception:  # noqa: B902 - nothing may unwind into the engine
        set_error(error, f"{label}: {type(exception).__name__}: {exception}{_where(exception)}")
        return lib.DATIVO_STATUS_PLUGIN


# --- one Python plugin behind a vtable --------------------------------------------------

class _PythonPlugin:
    def __init__(self, cls, spec: str):
        self.cls = cls
        self.spec = spec
        self.handle = ffi.new_handle(self)
        self.name = ffi.new("char[]", cls.__name__.encode())
        self.version = ffi.new("char[]", str(getattr(cls, "__version__", "") or "").encode())

    def open_reader(self, config: dict, out) -> None:
        instance = self.cls(config)
        reader = record_batch_reader(instance.extract(None), getattr(instance, "schema", None))
        reader._export_to_c(address(out))  # the engine now owns the stream

    def write(self, config: dict, stream, files) -> None:
        pa = pyarrow()
        try:
            reader = pa.RecordBatchReader._import_from_c(address(stream))  # moves the stream
        finally:
            release_stream(stream)  # only if the import failed: it is moved in either way
        asset = {"name": config.get("asset_name"), "schema": config.get("schema")}
        instance = self.cls(asset, config, config.get("output_base"))
        written = []  # every file's metadata, as write_batch returned it
        batch_rows = {}  # id(metadata) -> rows of its batch, when it is its batch's only file
        for counter, batch in enumerate(_input_batches(reader)):
            records = batch if self.cls.accepts_arrow else batch.to_pylist()
            metadata = instance.write_batch(records, counter) or []
            if isinstance(metadata, dict):
                metadata = [metadata]
            if len(metadata) == 1:
                batch_rows[id(metadata[0])] = batch.num_rows
            written.extend(metadata)
        # commit_files may update the list in place (final paths after a rename, files it
        # wrote itself): what it holds afterwards is what was committed.
        instance.commit_files(written)
        for meta in written:
            _report_file(files, meta, batch_rows.get(id(meta), 0))


def _input_batches(reader):
    """The batches of the engine's stream; its failures keep their kind (a bad row upstream
    is DATA, not a plugin error)."""
    pa = pyarrow()
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exception:
            raise error_for(lib.DATIVO_STATUS_DATA, str(exception)) from exception
        except (pa.ArrowIOError, OSError) as exception:
            raise error_for(lib.DATIVO_STATUS_IO, str(exception)) from exception
        except pa.ArrowException as exception:
            raise error_for(lib.DATIVO_STATUS_ARROW, str(exception)) from exception
        yield batch


def _report_file(files, meta: dict, default_rows: int) -> None:
    if "path" not in meta:
        raise ValueError(f"write_batch returned file metadata without a 'path': {meta!r}")
    path = str(meta["path"])
    rows = meta.get("rows", meta.get("record_count", default_rows)) or 0
    size = meta.get("size_bytes", meta.get("bytes"))
    if size is None:
        size = os.path.getsize(path) if os.path.isfile(path) else 0
    status = files.add(files, os.fsencode(path), int(rows), int(size))
    if status != lib.DATIVO_STATUS_OK:
        raise error_for(status, f"the engine refused the committed file {path!r}")


def _plugin(vtable) -> _PythonPlugin:
    return ffi.from_handle(vtable.private_data)


def _config(config_json) -> Config:
    return Config.wrap(json.loads(ffi.string(config_json).decode("utf-8")) if config_json != ffi.NULL else {})


@ffi.callback("DativoStatus(DativoPluginVTable *, const char *, struct ArrowArrayStream *, "
              "DativoError *)", error=lib.DATIVO_STATUS_INTERNAL)
def _open_reader(vtable, config_json, out, error):
    plugin = _plugin(vtable)
    return guarded(error, plugin.spec, lambda: plugin.open_reader(_config(config_json), out))


@ffi.callback("DativoStatus(DativoPluginVTable *, const char *, struct ArrowArrayStream *, "
              "DativoFileSink *, DativoError *)", error=lib.DATIVO_STATUS_INTERNAL)
def _write(vtable, config_json, stream, files, error):
    def action():
        try:
            plugin.write(_config(config_json), stream, files)
        finally:
            release_stream(stream)  # moved in: released on failure too (no-op once imported)

    plugin = _plugin(vtable)
    return guarded(error, plugin.spec, action)


@ffi.callback("void(DativoPluginVTable *)")
def _release(vtable):
    _live.pop(address(vtable.private_data), None)


def fill_vtable(cls, spec: str, abi_version: int, vtable) -> None:
    """Fill the engine's zeroed `*vtable` for the Python plugin class `cls`."""
    if abi_version != PLUGIN_ABI_VERSION:
        raise error_for(lib.DATIVO_STATUS_PLUGIN, f"Python plugins speak plugin ABI "
                                                  f"{PLUGIN_ABI_VERSION}, not {abi_version}")
    plugin = _PythonPlugin(cls, spec)
    reader = issubclass(cls, BaseReader)
    vtable.size = ffi.sizeof("DativoPluginVTable")
    vtable.kind = lib.DATIVO_PLUGIN_READER if reader else lib.DATIVO_PLUGIN_WRITER
    vtable.name = plugin.name
    vtable.version = plugin.version
    vtable.open_reader = _open_reader if reader else ffi.NULL
    vtable.write = _write if issubclass(cls, BaseWriter) else ffi.NULL
    vtable.release = _release
    vtable.private_data = plugin.handle
    _live[address(plugin.handle)] = plugin


@ffi.callback("DativoStatus(void *, const char *, uint32_t, DativoPluginVTable *, DativoError *)",
              error=lib.DATIVO_STATUS_INTERNAL)
def resolve(context, spec, abi_version, vtable, error):
    """The DativoPluginResolver given to dativo_job_run_with_resolver: `module.py:Class`."""
    from ._loader import PluginLoader  # imported here: the loader imports this module's users

    text = ffi.string(spec).decode("utf-8", "surrogateescape")
    return guarded(error, text, lambda: fill_vtable(PluginLoader.load(text), text, abi_version,
                                                    vtable))
