//! Status codes: what kind of failure happened, as a stable integer.
//!
//! Values are part of the ABI: never renumber or reuse one; new kinds get new numbers.
//! `DativoStatus` is a plain `int32_t` rather than a C enum so that a value from a newer
//! library (or a plugin) is never undefined behaviour to receive.

use std::ffi::{c_char, c_int};

use dativo_engine::Error;

/// A status code returned by every fallible dativo function. `DATIVO_STATUS_OK` (0) is
/// success; every other value names the kind of failure, with details in the `DativoError`.
pub type DativoStatus = i32;

/// Success.
pub const DATIVO_STATUS_OK: DativoStatus = 0;
/// The call itself is wrong: a NULL or non-UTF-8 argument, a handle used after it was closed,
/// a stream taken twice. Fix the calling code.
pub const DATIVO_STATUS_INVALID_ARGUMENT: DativoStatus = 1;
/// A job file or an options string is invalid: unknown key, bad value, missing variable,
/// or a feature dativo does not support. The message names the key and what is allowed.
pub const DATIVO_STATUS_CONFIG: DativoStatus = 2;
/// The input data is bad: a row that cannot be read or typed, an empty file. The message
/// names file, line, column and value.
pub const DATIVO_STATUS_DATA: DativoStatus = 3;
/// The data does not match the declared schema, or inputs disagree on their columns.
pub const DATIVO_STATUS_SCHEMA: DativoStatus = 4;
/// The operating system refused an I/O operation; the message names the path.
pub const DATIVO_STATUS_IO: DativoStatus = 5;
/// Arrow data handed to dativo is invalid, or Arrow could not process it.
pub const DATIVO_STATUS_ARROW: DativoStatus = 6;
/// The Parquet encoder failed.
pub const DATIVO_STATUS_PARQUET: DativoStatus = 7;
/// A plugin could not be loaded, shares no ABI version with the host, or failed. A plugin's
/// init function also returns it for an ABI version the plugin does not speak.
pub const DATIVO_STATUS_PLUGIN: DativoStatus = 8;
/// A bug in dativo (a panic, a broken invariant). The message says where; please report it.
pub const DATIVO_STATUS_INTERNAL: DativoStatus = 9;

/// Every status with its short description, in value order.
const DESCRIPTIONS: [(DativoStatus, &str); 10] = [
    (DATIVO_STATUS_OK, "ok\0"),
    (DATIVO_STATUS_INVALID_ARGUMENT, "invalid argument\0"),
    (DATIVO_STATUS_CONFIG, "configuration error\0"),
    (DATIVO_STATUS_DATA, "data error\0"),
    (DATIVO_STATUS_SCHEMA, "schema error\0"),
    (DATIVO_STATUS_IO, "I/O error\0"),
    (DATIVO_STATUS_ARROW, "Arrow error\0"),
    (DATIVO_STATUS_PARQUET, "Parquet error\0"),
    (DATIVO_STATUS_PLUGIN, "plugin error\0"),
    (DATIVO_STATUS_INTERNAL, "internal error\0"),
];

/// A short, static, English description of `status` ("data error", "I/O error", ...), as a
/// NUL-terminated C string; "unknown status" for a value this library does not know. The C
/// library exports it as `dativo_status_string`.
pub fn status_text(status: DativoStatus) -> *const c_char {
    let text = DESCRIPTIONS.iter().find(|(s, _)| *s == status).map(|(_, d)| *d).unwrap_or("unknown status\0");
    text.as_ptr().cast()
}

/// The status that reports an engine error.
pub fn status_of(e: &Error) -> DativoStatus {
    match e {
        Error::Config(_) => DATIVO_STATUS_CONFIG,
        Error::Data(_) => DATIVO_STATUS_DATA,
        Error::Schema(_) => DATIVO_STATUS_SCHEMA,
        Error::Io { .. } => DATIVO_STATUS_IO,
        Error::Parquet(_) => DATIVO_STATUS_PARQUET,
        Error::Arrow(_) => DATIVO_STATUS_ARROW,
        Error::Plugin(_) => DATIVO_STATUS_PLUGIN,
        Error::Internal(_) => DATIVO_STATUS_INTERNAL,
    }
}

/// The engine error for `status` and its `message`, reported across a process boundary (a
/// distributed run's worker, the Python driver of `dativo run --engine ray`): the inverse of
/// [`status_of`], so the kind (and the CLI's exit code) survives the trip.
pub fn error_of_status(status: DativoStatus, message: String) -> Error {
    match status {
        DATIVO_STATUS_CONFIG | DATIVO_STATUS_INVALID_ARGUMENT => Error::Config(message),
        DATIVO_STATUS_DATA => Error::Data(message),
        DATIVO_STATUS_SCHEMA => Error::Schema(message),
        DATIVO_STATUS_IO => {
            // An I/O message is "<context>: <os error>"; split back, it prints the same.
            let (context, source) = message.rsplit_once(": ").unwrap_or((message.as_str(), "I/O error"));
            Error::Io { context: context.to_string(), source: std::io::Error::other(source.to_string()) }
        }
        DATIVO_STATUS_PARQUET => Error::Parquet(parquet::errors::ParquetError::General(message)),
        DATIVO_STATUS_ARROW => Error::Arrow(arrow_schema::ArrowError::ExternalError(message.into())),
        DATIVO_STATUS_PLUGIN => Error::Plugin(message),
        _ => Error::Internal(message),
    }
}

/// The errno-style code a stream callback returns for `status` (the Arrow C stream interface
/// speaks errno). The exact status survives through `dativo_status_from_stream`.
pub fn errno_of(status: DativoStatus) -> c_int {
    match status {
        DATIVO_STATUS_OK => 0,
        DATIVO_STATUS_INVALID_ARGUMENT | DATIVO_STATUS_CONFIG | DATIVO_STATUS_DATA | DATIVO_STATUS_SCHEMA => {
            libc::EINVAL
        }
        _ => libc::EIO,
    }
}

/// The best status for an errno-style code from a stream dativo did not produce. Producers
/// such as pyarrow return EINVAL for invalid data and EIO for I/O failures.
pub fn status_of_errno(code: c_int) -> DativoStatus {
    match code {
        0 => DATIVO_STATUS_OK,
        libc::EINVAL => DATIVO_STATUS_DATA,
        libc::EIO | libc::ENOENT | libc::EACCES | libc::ENOSPC => DATIVO_STATUS_IO,
        _ => DATIVO_STATUS_ARROW,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_status_has_a_distinct_description_and_unknown_ones_are_named() {
        for (i, (status, _)) in DESCRIPTIONS.iter().enumerate() {
            assert_eq!(*status, i as DativoStatus, "values are dense and in order");
        }
        let text = |s| unsafe { CStr::from_ptr(status_text(s)) }.to_str().unwrap().to_string();
        assert_eq!(text(DATIVO_STATUS_DATA), "data error");
        assert_eq!(text(DATIVO_STATUS_INTERNAL), "internal error");
        assert_eq!(text(99), "unknown status");
        assert_eq!(text(-1), "unknown status");
    }
}
