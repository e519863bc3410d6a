"""PluginLoader: a spec in, a plugin class out, whatever language the plugin is written in."""

import hashlib
import importlib.util
import inspect
import sys

from .._errors import PluginError
from . import _spec
from ._base import BaseReader, BaseWriter
from ._native import NativePlugin, NativeReader, NativeWriter

_modules = {}  # resolved module path -> module: a module is executed once per process


class PluginLoader:
    """Loads `path/to/module.py:ClassName` (a Python class) or `path/to/lib.so[:symbol]`
    (a native plugin, through libdativo) — the kind comes from the file's extension, as in
    Dativo. Every failure is a dativo.PluginError naming the spec and what is wrong."""

    @staticmethod
    def detect_kind(spec) -> str:
        """"python" or "native"."""
        return _spec.parse(spec).kind

    @staticmethod
    def load_reader(spec, base_dir=None, **native_options) -> type:
        """A BaseReader subclass: the Python class, or a NativeReader over the library."""
        return PluginLoader._load(spec, base_dir, BaseReader, native_options)

    @staticmethod
    def load_writer(spec, base_dir=None, **native_options) -> type:
        """A BaseWriter subclass: the Python class, or a NativeWriter over the library."""
        return PluginLoader._load(spec, base_dir, BaseWriter, native_options)

    @staticmethod
    def load(spec, base_dir=None, **native_options) -> type:
        """A reader or writer class, whichever the spec names."""
        return PluginLoader._load(spec, base_dir, (BaseReader, BaseWriter), native_options)

    @staticmethod
    def _load(spec, base_dir, base, native_options):
        parsed = _spec.parse(spec, base_dir)
        if parsed.kind == "python":
            return load_python_class(parsed, base)
        return native_class(parsed, base, native_options)


def _base_names(base):
    bases = base if isinstance(base, tuple) else (base,)
    return " or ".join(f"dativo.plugins.{b.__name__}" for b in bases)


def load_python_class(parsed, base):
    path = parsed.path.resolve()
    module = _modules.get(path)
    if module is None:
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        name = f"dativo_plugin_{path.stem}_{digest}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module  # dataclasses, pickling and typing look modules up here
        try:
            module_spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[name]
            raise PluginError(f"plugin {parsed}: importing {path} failed: "
                              f"{type(error).__name__}: {error}") from error
        _modules[path] = module
    cls = getattr(module, parsed.name, None)
    if cls is None:
        found = sorted(n for n, v in vars(module).items() if inspect.isclass(v) and
                       v.__module__ == module.__name__)
        raise PluginError(f"plugin {parsed}: {path} has no class {parsed.name!r}"
                          + (f" (classes there: {', '.join(found)})" if found else ""))
    if not inspect.isclass(cls) or not issubclass(cls, base):
        raise PluginError(f"plugin {parsed}: {parsed.name} must be a class deriving from "
                          f"{_base_names(base)}")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise PluginError(f"plugin {parsed}: {parsed.name} does not implement {missing}")
    return cls


def native_class(parsed, base, native_options):
    plugin = NativePlugin(str(parsed), **native_options)  # its errors name the spec
    adapters = {"reader": NativeReader, "writer": NativeWriter}
    adapter = adapters.get(plugin.kind)
    bases = base if isinstance(base, tuple) else (base,)
    if adapter is None or not issubclass(adapter, bases):
        raise PluginError(f"plugin {parsed}: {plugin.name} is a native {plugin.kind}, not a "
                          f"{' or '.join(b.__name__ for b in bases)}")
    return type(f"Native_{plugin.name}", (adapter,), {"plugin": plugin,
                                                      "__version__": plugin.version or ""})
