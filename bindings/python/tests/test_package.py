"""The installed package: bundled library, generated declarations, import-time version check."""

import hashlib
import shutil
import subprocess
import sys
import textwrap
from importlib import resources

import dativo
from dativo import _build_info, _header
from dativo._lib import ffi, lib

from conftest import REPO

HEADERS = [REPO / "include" / "dativo_arrow.h", REPO / "include" / "dativo.h"]


def test_bundled_declarations_are_generated_from_the_current_header():
    texts = [p.read_text() for p in HEADERS]
    bundled = resources.files("dativo").joinpath("_cdef.h").read_text()
    assert bundled == _header.declarations(*texts)
    assert _build_info.HEADERS_SHA256 == hashlib.sha256("".join(texts).encode()).hexdigest()


def test_declarations_keep_integer_constants_and_drop_the_preprocessor():
    cdef = _header.declarations("#ifndef G\n#define G\n#define A 7\n#define S \"x\"\n"
                                "#ifdef __cplusplus\nextern \"C\" {\n#endif\nint f(void);\n"
                                "#ifdef __cplusplus\n}\n#endif\n#endif\n")
    assert cdef == "#define A 7\nint f(void);\n"


def test_version_matches_library_and_header():
    assert dativo.__version__ == ffi.string(lib.dativo_version()).decode()
    assert dativo.__version__ == _header.string_defines(HEADERS[1].read_text())["DATIVO_VERSION"]
    assert lib.dativo_abi_version() == lib.DATIVO_ABI_VERSION
    assert lib.dativo_version_number() == lib.DATIVO_VERSION_NUMBER


def test_import_fails_clearly_when_library_and_package_versions_differ(tmp_path):
    copy = tmp_path / "dativo"
    shutil.copytree(resources.files("dativo"), copy)
    (copy / "_build_info.py").write_text(
        (copy / "_build_info.py").read_text().replace(f"VERSION = {dativo.__version__!r}",
                                                      "VERSION = '9.9.9'"))
    script = textwrap.dedent("""
        try:
            import dativo
        except ImportError as e:
            print(e)
        else:
            print("imported")
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout
    assert "9.9.9" in out and f"version {dativo.__version__}" in out, out
