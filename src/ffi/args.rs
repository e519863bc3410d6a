//! Checked conversions of C arguments; each failure is an invalid-argument `Failure` naming the
//! parameter.

use std::ffi::{c_char, CStr};
use std::path::PathBuf;

use dativo_abi::error::Failure;

/// A required, UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that outlives the call.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{name} is NULL")));
    }
    CStr::from_ptr(ptr).to_str().map_err(|_| Failure::invalid(format!("{name} is not valid UTF-8")))
}

/// An optional string argument: NULL means "".
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        Ok("")
    } else {
        text(ptr, name)
    }
}

/// A file system path. On Unix any bytes are accepted, as the OS does; elsewhere UTF-8.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn path(ptr: *const c_char, name: &str) -> Result<PathBuf, Failure> {
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{name} is NULL")));
    }
    let bytes = CStr::from_ptr(ptr).to_bytes();
    if bytes.is_empty() {
        return Err(Failure::invalid(format!("{name} is an empty path")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        text(ptr, name).map(PathBuf::from)
    }
}

/// A required pointer (a handle, or where to write a result).
pub(crate) fn required<T>(ptr: *mut T, name: &str) -> Result<*mut T, Failure> {
    if ptr.is_null() {
        Err(Failure::invalid(format!("{name} is NULL")))
    } else {
        Ok(ptr)
    }
}

/// A required handle, borrowed for the call.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` not used elsewhere during the call.
pub(crate) unsafe fn handle<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Failure> {
    required(ptr, name).map(|p| &mut *p)
}

/// The path as bytes for C (the inverse of [`path`]).
pub(crate) fn path_text(path: &std::path::Path) -> std::ffi::CString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        // Unix paths never contain NUL, so the bytes pass through unchanged.
        std::ffi::CString::new(path.as_os_str().as_bytes())
            .unwrap_or_else(|_| dativo_abi::error::c_text(&path.to_string_lossy()))
    }
    #[cfg(not(unix))]
    {
        dativo_abi::error::c_text(&path.to_string_lossy())
    }
}
