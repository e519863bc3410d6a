//! The C functions about statuses: a status's description, and the status behind a failed
//! call on an Arrow C stream. Their logic is in dativo-abi (the plugin host and SDK use it too);
//! every exported symbol of libdativo is defined in this crate.

use std::ffi::{c_char, c_int};

pub use dativo_abi::status::*;
use dativo_abi::{ArrowArrayStream, DativoError};

/// A short, static, English description of `status` ("data error", "I/O error", ...);
/// "unknown status" for a value this library does not know. Never NULL; do not free.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn dativo_status_string(status: DativoStatus) -> *const c_char {
    dativo_abi::status::status_text(status)
}

/// Turn a failed call on an Arrow C stream back into a status and message.
///
/// `stream` is the stream whose `get_schema` or `get_next` returned the nonzero `code`. For a
/// stream made by dativo the exact original status is returned and `error` gets the full
/// message (file, line, column). For any other producer's stream the status is derived from
/// `code` (EINVAL: data, EIO/ENOENT/EACCES/ENOSPC: I/O, other: Arrow) and the message is the
/// stream's `get_last_error` text. `code == 0` returns `DATIVO_STATUS_OK` and leaves `error`
/// untouched. Does not release the stream. Call it from the thread using the stream.
///
/// # Safety
/// `stream` is NULL or a valid, unreleased stream; `error` is NULL or a valid `DativoError`.
#[no_mangle]
pub unsafe extern "C" fn dativo_status_from_stream(
    stream: *mut ArrowArrayStream,
    code: c_int,
    error: *mut DativoError,
) -> DativoStatus {
    dativo_abi::stream::status_from_stream(stream, code, error)
}
