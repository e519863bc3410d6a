"""Native plugins (.so/.dylib/.dll) loaded through libdativo, behind the Python base classes."""

import json
import threading

from .._arrow import address, path_bytes
from .._errors import check, new_error
from .._files import committed_files
from .._lib import ffi, lib
from .._stream import Stream, new_c_stream
from ._base import BaseReader, BaseWriter
from ._convert import to_reader

KINDS = {lib.DATIVO_PLUGIN_READER: "reader", lib.DATIVO_PLUGIN_WRITER: "writer"}


class NativePlugin:
    """A loaded native plugin (dativo_plugin_load): `kind` ("reader" or "writer"), `name`,
    `version`, `abi_version`. One call at a time (a lock enforces it)."""

    def __init__(self, spec, sha256=None, allow_dir=None):
        options = {k: v for k, v in (("sha256", sha256), ("allow_dir", allow_dir)) if v}
        out = ffi.new("DativoPlugin **")
        error = new_error()
        check(lib.dativo_plugin_load(path_bytes(spec), json.dumps(options).encode() if options
                                     else ffi.NULL, out, error), error)
        self._handle = ffi.gc(out[0], lib.dativo_plugin_free)
        self._lock = threading.Lock()
        self.spec = str(spec)
        self.kind = KINDS.get(lib.dativo_plugin_kind(self._handle), "unknown")
        self.name = _text(lib.dativo_plugin_name(self._handle))
        self.version = _text(lib.dativo_plugin_version(self._handle))
        self.abi_version = lib.dativo_plugin_abi_version(self._handle)

    def open_reader(self, config: dict) -> Stream:
        """The reader's data for `config` as a dativo Stream (iterate it, or hand it on)."""
        stream = new_c_stream()
        error = new_error()
        with self._lock:
            check(lib.dativo_plugin_open_reader(self._handle, json.dumps(config).encode(),
                                                stream, error), error)
        return Stream(stream)

    def write(self, config: dict, data) -> list:
        """Hand Arrow `data` (a stream, table, batch or list of dicts) to the writer; returns
        the committed files (CommittedFile)."""
        stream = data.take_c_stream() if isinstance(data, Stream) else None
        if stream is None:
            stream = new_c_stream()
            to_reader(data)._export_to_c(address(stream))
        out = ffi.new("DativoFileList **")
        error = new_error()
        with self._lock:
            check(lib.dativo_plugin_write(self._handle, json.dumps(config).encode(), stream,
                                          out, error), error)
        files = ffi.gc(out[0], lib.dativo_file_list_free)
        try:
            return committed_files(files)
        finally:
            ffi.release(files)

    def close(self):
        ffi.release(self._handle)


def _text(pointer):
    return ffi.string(pointer).decode("utf-8", "replace") if pointer != ffi.NULL else None


class NativeReader(BaseReader):
    """A native reader plugin as a BaseReader: extract() yields pyarrow RecordBatches."""

    plugin: NativePlugin = None  # set on the subclass PluginLoader makes

    def open_stream(self) -> Stream:
        return self.plugin.open_reader(dict(self.source_config))

    def extract(self, state_manager=None):
        yield from self.open_stream()


class NativeWriter(BaseWriter):
    """A native writer plugin as a BaseWriter: every write_batch is one plugin write."""

    plugin: NativePlugin = None
    accepts_arrow = True

    def config(self) -> dict:
        """The config the engine would give the plugin in a job."""
        config = dict(self.target_config)
        config.setdefault("output_base", str(self.output_base))
        config.setdefault("asset_name", (self.asset_definition or {}).get("name"))
        config.setdefault("schema", (self.asset_definition or {}).get("schema"))
        return config

    def write_stream(self, data) -> list:
        return self.plugin.write(self.config(), data)

    def write_batch(self, records, file_counter):
        return [{"path": f.path, "rows": f.rows, "size_bytes": f.bytes}
                for f in self.write_stream(records)]
