"""PluginLoader: every kind of spec, and a clear PluginError for every way one can be wrong."""

import hashlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dativo
from dativo.plugins import BaseReader, BaseWriter, NativeReader, NativeWriter, PluginLoader
from conftest import REPO

PLUGINS = REPO / "bindings/python/tests/plugins"
NATIVE_DIR = Path(os.environ.get("DATIVO_TEST_PLUGIN_DIR", REPO / "target/debug"))
CSV_READER = NATIVE_DIR / "libcsv_reader_plugin.so"
PARQUET_WRITER = NATIVE_DIR / "libparquet_writer_plugin.so"
native = pytest.mark.skipif(not (CSV_READER.is_file() and PARQUET_WRITER.is_file()),
                            reason="example native plugins not built (run-tests.sh builds them)")


def test_a_python_spec_loads_the_class():
    cls = PluginLoader.load_reader(f"{PLUGINS}/readers.py:DictReader")
    assert issubclass(cls, BaseReader) and cls.__name__ == "DictReader"
    assert PluginLoader.load_writer("writers.py:JsonLinesWriter", base_dir=PLUGINS).__name__ == \
        "JsonLinesWriter"
    assert PluginLoader.load(f"{PLUGINS}/readers.py:DictReader") is cls  # module loaded once


@pytest.mark.parametrize("spec, kind", [("readers.py:DictReader", "python"),
                                        ("x.so", "native"), ("x.dylib:init", "native"),
                                        ("x.dll", "native")])
def test_the_kind_comes_from_the_extension(tmp_path, spec, kind):
    for name in ("readers.py", "x.so", "x.dylib", "x.dll"):
        (tmp_path / name).touch()
    assert PluginLoader.detect_kind(tmp_path / spec) == kind


@pytest.mark.parametrize("spec, message", [
    ("readers.py", "expected 'path/to/module.py:ClassName'"),
    ("readers.py:", "the name after ':' is empty"),  # the library's messages
    ("readers.py:1Bad", "'1Bad' is not a valid symbol or class name"),
    ("readers.txt:DictReader", "cannot tell the plugin's kind"),
    ("missing.py:Reader", "no such file"),
    ("missing.so:init", "no such file"),
    ("readers.py:Nope", r"has no class 'Nope' \(classes there: Abstract, ArrowReader"),
    ("readers.py:NotAPlugin", "must be a class deriving from dativo.plugins.BaseReader"),
    ("readers.py:not_a_class", "must be a class deriving from"),
    ("readers.py:Abstract", "does not implement extract"),
    ("broken.py:Reader", "importing .*broken.py failed: ImportError: a dependency"),
])
def test_a_bad_spec_is_a_clear_plugin_error(spec, message):
    with pytest.raises(dativo.PluginError, match=message):
        PluginLoader.load_reader(spec, base_dir=PLUGINS)


def test_a_reader_class_is_not_a_writer():
    with pytest.raises(dativo.PluginError, match="BaseWriter"):
        PluginLoader.load_writer(f"{PLUGINS}/readers.py:DictReader")


@native
def test_a_native_reader_loads_through_libdativo_and_yields_arrow(typed_csv):
    cls = PluginLoader.load_reader(f"{CSV_READER}")  # default entry symbol
    assert issubclass(cls, NativeReader) and cls.plugin.kind == "reader"
    assert cls.plugin.abi_version == 1 and cls.plugin.name
    reader = cls({"files": [{"path": str(typed_csv)}]})
    batches = list(reader.extract())
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert pa.Table.from_batches(batches).column("id").to_pylist() == [1, 2, 3]
    # The stream form goes straight to the Rust writer or any Arrow consumer.
    assert pa.table(reader.open_stream()).num_rows == 3


@native
def test_a_native_writer_commits_parquet(tmp_path, typed_csv):
    cls = PluginLoader.load_writer(f"{PARQUET_WRITER}:dativo_plugin_init")
    assert issubclass(cls, NativeWriter) and cls.plugin.kind == "writer"
    writer = cls({"name": "typed"}, {}, str(tmp_path / "out"))
    files = writer.write_stream(dativo.read_csv(typed_csv))  # a Rust reader into the plugin
    assert [f.rows for f in files] == [3]
    assert pq.read_table(files[0].path).column("name").to_pylist()[0] == "Ada"
    meta = writer.write_batch([{"id": 9, "name": "x"}], 0)  # Dativo style, one commit per batch
    assert meta[0]["rows"] == 1 and meta[0]["size_bytes"] > 0


@native
@pytest.mark.parametrize("spec, options, message", [
    (f"{CSV_READER}:no_such_symbol", {}, "no_such_symbol"),
    (f"{CSV_READER}", {"allow_dir": "/nonexistent-plugins"}, "nonexistent-plugins"),
])
def test_native_load_failures_are_plugin_errors(spec, options, message):
    with pytest.raises(dativo.PluginError, match=message):
        PluginLoader.load_reader(spec, **options)


def test_a_library_whose_sha256_differs_is_refused(tmp_path):
    # A small stand-in: the digest is checked before the library is opened (hashing the
    # 140 MB debug plugin in a debug libdativo would take half a minute).
    library = tmp_path / "plugin.so"
    library.write_bytes(b"not really a library")
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(dativo.PluginError, match="sha256"):
        PluginLoader.load_reader(str(library), sha256=wrong)


@native
def test_a_native_reader_is_not_a_writer():
    with pytest.raises(dativo.PluginError, match="native reader, not a BaseWriter"):
        PluginLoader.load_writer(str(CSV_READER))


@native
def test_the_platforms_legacy_spec_loads_through_libdativo(typed_csv):
    # `lib.so:create_reader` names the legacy JSON ABI; the library hosts it through its
    # adapter (one implementation in Rust), so Python gets Arrow batches as for the new ABI.
    cls = PluginLoader.load_reader(f"{CSV_READER}:create_reader")
    assert cls.plugin.kind == "reader" and cls.plugin.abi_version == 0
    reader = cls({"files": [{"path": str(typed_csv)}]})
    table = pa.Table.from_batches(list(reader.extract()))
    # As the platform's own reader gave them: the original text.
    assert table.column("id").to_pylist() == ["1", "2", "3"]


@native
def test_a_legacy_reader_error_is_an_error_not_the_end_of_the_data(tmp_path):
    cls = PluginLoader.load_reader(f"{CSV_READER}:create_reader")
    reader = cls({"files": [{"path": str(tmp_path / "missing.csv")}]})
    with pytest.raises(dativo.DativoError, match="missing.csv"):
        list(reader.extract())
