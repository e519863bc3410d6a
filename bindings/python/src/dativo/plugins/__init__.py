"""Plugins: custom readers and writers, in Python or native code, compatible with Dativo.

    from dativo.plugins import BaseReader, BaseWriter, PluginLoader

    class Users(BaseReader):
        def extract(self, state_manager=None):
            yield [{"id": 1, "name": "Ada"}]       # or pyarrow batches / tables, no copy

    Reader = PluginLoader.load_reader("plugins/users.py:Users")      # a Python class
    Native = PluginLoader.load_reader("target/release/libcsv_reader_plugin.so")  # via libdativo

In a job (`source.custom_reader` / `target.custom_writer`), dativo.run_job and
`python -m dativo run --config job.yaml` run Python plugins inside the Rust engine.
"""

from ._base import BaseReader, BaseWriter, Config, ConnectionTestResult, DiscoveryResult
from ._loader import PluginLoader
from ._native import NativePlugin, NativeReader, NativeWriter

__all__ = ["BaseReader", "BaseWriter", "Config", "ConnectionTestResult", "DiscoveryResult",
           "PluginLoader", "NativePlugin", "NativeReader", "NativeWriter"]
