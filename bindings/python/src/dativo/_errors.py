"""The exception hierarchy: one class per DativoStatus, mapped in one table.

Every failure of a dativo call raises a DativoError subclass whose `.status` is the C API's
status and whose `.message` is the library's complete text (file, line, column, value).
"""

from ._lib import ffi, lib


class DativoError(Exception):
    """A failed dativo call. `.status`: the DativoStatus; `.message`: the library's text."""

    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidArgumentError(DativoError, ValueError):
    """The call itself is wrong: a closed writer, a stream taken twice, a wrong object."""
    status = lib.DATIVO_STATUS_INVALID_ARGUMENT


class ConfigError(DativoError):
    """A job file or an option is invalid; the message names the key."""
    status = lib.DATIVO_STATUS_CONFIG


class DataError(DativoError):
    """A bad row or value (parse error); the message names file, line, column and value."""
    status = lib.DATIVO_STATUS_DATA


ParseError = DataError


class SchemaError(DativoError):
    """Data does not match the declared schema, or inputs disagree on their columns."""
    status = lib.DATIVO_STATUS_SCHEMA


class IoError(DativoError, OSError):
    """The operating system refused an operation; the message names the path."""
    status = lib.DATIVO_STATUS_IO


class ArrowError(DativoError):
    """Arrow data handed to dativo is invalid, or Arrow could not process it."""
    status = lib.DATIVO_STATUS_ARROW


class ParquetError(DativoError):
    """The Parquet encoder failed."""
    status = lib.DATIVO_STATUS_PARQUET


class PluginError(DativoError):
    """A plugin could not be loaded or failed."""
    status = lib.DATIVO_STATUS_PLUGIN


class InternalError(DativoError):
    """A bug in dativo; the message says where. Please report it."""
    status = lib.DATIVO_STATUS_INTERNAL


# The one status -> class table. A status a newer library adds raises a plain DativoError.
_CLASS_OF_STATUS = {cls.status: cls for cls in (
    InvalidArgumentError, ConfigError, DataError, SchemaError, IoError, ArrowError,
    ParquetError, PluginError, InternalError)}


def error_for(status: int, message: str) -> DativoError:
    """The exception for `status` with `message`."""
    cls = _CLASS_OF_STATUS.get(status)
    return cls(message) if cls is not None else DativoError(message, status)


def take_message(status: int, error) -> str:
    """Copy and release the message of a filled `DativoError *`."""
    if error.message != ffi.NULL:
        message = ffi.string(error.message).decode("utf-8", "replace")
    else:
        message = ffi.string(lib.dativo_status_string(status)).decode()
    if error.release != ffi.NULL:
        error.release(error)
    return message


def new_error():
    """A zero-initialised `DativoError *` (cffi zeroes what it allocates)."""
    return ffi.new("DativoError *")


def check(status: int, error) -> None:
    """Raise the exception of a failed call; do nothing on DATIVO_STATUS_OK."""
    if status != lib.DATIVO_STATUS_OK:
        raise error_for(status, take_message(status, error))
