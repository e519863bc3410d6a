"""Load the bundled libdativo and check that it is the library this package was built for.

`ffi` holds the declarations generated from include/dativo.h at build time (setup.py);
`lib` is the library opened by path with ffi.dlopen (cffi ABI mode: no compiled extension).
cffi releases the GIL around every call into the library, so native work (parsing, encoding,
whole jobs) runs in parallel with other Python threads.
"""

from pathlib import Path

from . import _build_info
from ._ffi import ffi

LIBRARY_PATH = Path(__file__).resolve().parent / _build_info.LIBRARY


def _open():
    try:
        lib = ffi.dlopen(str(LIBRARY_PATH))
    except OSError as error:
        raise ImportError(f"dativo: cannot load the bundled library {LIBRARY_PATH}: {error}. "
                          "Reinstall the package (pip install ./bindings/python).") from error
    abi = lib.dativo_abi_version()
    version = ffi.string(lib.dativo_version()).decode()
    if abi != lib.DATIVO_ABI_VERSION or version != _build_info.VERSION:
        raise ImportError(
            f"dativo: library {LIBRARY_PATH} is version {version} (C ABI {abi}), but this "
            f"package {_build_info.VERSION} was built against include/dativo.h "
            f"{_build_info.HEADER_VERSION} (C ABI {lib.DATIVO_ABI_VERSION}). Reinstall the "
            "package so that it bundles the library it was built with.")
    return lib


lib = _open()
