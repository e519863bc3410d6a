"""Plugin specs are parsed by the library (dativo_plugin_spec_parse), not by Python code of
its own, so a spec means the same in Python as in a job the Rust engine runs."""

import pytest

import dativo
from dativo.plugins import PluginLoader
from dativo.plugins import _spec


def test_a_versioned_shared_library_is_native_and_a_module_is_not(tmp_path):
    (tmp_path / "lib.so.1").touch()
    (tmp_path / "module.py").touch()
    native = _spec.parse("lib.so.1:init", base_dir=tmp_path)
    assert (native.kind, native.name, native.path) == ("native", "init", tmp_path / "lib.so.1")
    python = _spec.parse("module.py:Class", base_dir=tmp_path)
    assert (python.kind, python.name, python.path) == ("python", "Class", tmp_path / "module.py")
    assert PluginLoader.detect_kind(tmp_path / "lib.so.1:init") == "native"
    assert PluginLoader.detect_kind(tmp_path / "module.py:Class") == "python"


def test_the_library_is_what_parses():
    assert _spec._library_parse("lib.so.1:init") == {"path": "lib.so.1", "name": "init",
                                                      "native": True}
    assert _spec._library_parse("module.py:Class") == {"path": "module.py", "name": "Class",
                                                        "native": False}
    assert _spec._library_parse("x.dylib")["name"] is None


@pytest.mark.parametrize("spec, message", [
    ("lib.so:", "plugin 'lib.so:': the name after ':' is empty (expected path/to/lib.so:symbol)"),
    (":init", "plugin ':init': the library path before ':' is empty"),
    ("module.py:a-b", "plugin 'module.py:a-b': 'a-b' is not a valid symbol or class name"),
])
def test_errors_carry_the_library_message(spec, message):
    with pytest.raises(dativo.PluginError) as caught:
        PluginLoader.detect_kind(spec)
    assert caught.value.message.startswith(message), caught.value.message
