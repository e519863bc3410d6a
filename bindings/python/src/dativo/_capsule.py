"""Arrow PyCapsules (https://arrow.apache.org/docs/format/CDataInterface/PyCapsuleInterface.html)
made and opened without a compiled extension.

Opening someone else's capsule is PyCapsule_GetPointer through ctypes.pythonapi.

Making one needs a destructor that releases a struct nobody consumed. A destructor written in
Python (a cffi callback) is unsound in one case: when the capsule dies while an exception
propagates (a consumer failed half-way), CPython calls it with that exception still set, the
callback cannot save it, and the exception is replaced by a SystemError. So `export_schema` and
`export_stream` let pyarrow make the capsule when it is installed: they move the struct into a
pyarrow object (no copy: pyarrow wraps the C struct) and return pyarrow's capsule, whose C++
destructor is exception-safe. Without pyarrow they fall back to `export`, a capsule with the
Python destructor, which is correct except in that case (see docs/python-section.md).
"""

import ctypes

from ._lib import ffi

_pythonapi = ctypes.pythonapi
_pythonapi.PyCapsule_New.restype = ctypes.py_object
_pythonapi.PyCapsule_New.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
_pythonapi.PyCapsule_GetPointer.restype = ctypes.c_void_p
_pythonapi.PyCapsule_GetPointer.argtypes = (ctypes.py_object, ctypes.c_char_p)
# The destructor gets the capsule as a raw PyObject* while it is being deallocated.
_get_pointer_raw = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", _pythonapi))

# Structs owned by live capsules, by address: the capsule holds only a raw pointer, so the cffi
# object that owns the memory must be kept alive here until the capsule's destructor runs.
_owned = {}


class _Kind:
    def __init__(self, name: bytes, ctype: str):
        self.name = name
        self.ctype = ctype
        self.destructor = ffi.callback("void(void *)", self._destroy)
        self.destructor_address = int(ffi.cast("uintptr_t", self.destructor))

    def _destroy(self, capsule):
        address = _get_pointer_raw(int(ffi.cast("uintptr_t", capsule)), self.name)
        if not address:
            return
        struct = ffi.cast(self.ctype, address)
        if struct.release != ffi.NULL:  # never consumed: free the data it still owns
            struct.release(struct)
        _owned.pop(address, None)


SCHEMA = _Kind(b"arrow_schema", "struct ArrowSchema *")
ARRAY = _Kind(b"arrow_array", "struct ArrowArray *")
STREAM = _Kind(b"arrow_array_stream", "struct ArrowArrayStream *")

# Capsules can outlive this module during interpreter shutdown; their destructors and names
# must not be freed before them, so these few objects are deliberately never released.
for _kind in (SCHEMA, ARRAY, STREAM):
    _pythonapi.Py_IncRef(ctypes.py_object(_kind))


def new_struct(kind: _Kind):
    """A zeroed Arrow struct to fill and then hand to `export`."""
    return ffi.new(kind.ctype)


def export(kind: _Kind, struct):
    """Wrap a filled struct (from `new_struct`) in a capsule that now owns it."""
    address = int(ffi.cast("uintptr_t", struct))
    _owned[address] = struct
    try:
        return _pythonapi.PyCapsule_New(address, kind.name, kind.destructor_address)
    except BaseException:
        _owned.pop(address, None)
        raise


def export_schema(struct):
    """A capsule owning a filled `struct ArrowSchema *` (moved out of `struct`)."""
    try:
        import pyarrow as pa
    except ImportError:
        return _export_moved(SCHEMA, struct)
    return pa.Schema._import_from_c(int(ffi.cast("uintptr_t", struct))).__arrow_c_schema__()


def export_stream(struct, requested_schema=None):
    """A capsule owning a filled `struct ArrowArrayStream *` (moved out of `struct`).
    pyarrow (when installed) honours `requested_schema` where it can cast."""
    try:
        import pyarrow as pa
    except ImportError:
        return _export_moved(STREAM, struct)
    reader = pa.RecordBatchReader._import_from_c(int(ffi.cast("uintptr_t", struct)))
    return reader.__arrow_c_stream__(requested_schema)


def _export_moved(kind: _Kind, struct):
    owned = new_struct(kind)
    owned[0] = struct[0]  # an Arrow C struct moves by copying it...
    struct.release = ffi.NULL  # ...and marking the source released
    return export(kind, owned)


def pointer(kind: _Kind, capsule):
    """The struct inside someone's capsule, borrowed: valid while `capsule` is alive."""
    try:
        address = _pythonapi.PyCapsule_GetPointer(capsule, kind.name)
    except (ValueError, TypeError) as error:
        raise TypeError(f"expected a PyCapsule named {kind.name.decode()!r}: {error}") from None
    return ffi.cast(kind.ctype, address)
