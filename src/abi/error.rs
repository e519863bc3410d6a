//! `DativoError` and the panic boundary every exported function runs in.

use std::any::Any;
use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use super::status::*;
use dativo_engine::Error;

/// Details of a failure. The caller zero-initialises it (`DativoError error = {0};`) and
/// passes it to a fallible function; on failure the library sets `message` and `release`.
/// The caller then reads `message` and calls `error.release(&error)`, which frees the message
/// and zeroes the struct again. Passing a struct that still holds a message is allowed: the
/// library releases the old message before writing the new one. On success the struct is
/// left untouched.
#[repr(C)]
pub struct DativoError {
    /// NUL-terminated UTF-8 text saying what failed and where (file, line, column, value).
    /// NULL when there is no error. Owned by the error until `release`.
    pub message: *mut c_char,
    /// Frees `message` and resets the struct; NULL when there is nothing to free.
    pub release: Option<unsafe extern "C" fn(error: *mut DativoError)>,
    /// For the producer of the error (the library, or a plugin filling it); do not touch.
    pub private_data: *mut c_void,
}

impl Default for DativoError {
    /// The zero-initialised struct callers pass in.
    fn default() -> Self {
        DativoError { message: ptr::null_mut(), release: None, private_data: ptr::null_mut() }
    }
}

impl Drop for DativoError {
    /// Rust callers (tests, bindings written in Rust) need not release by hand.
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: `release` came with the message it frees.
            unsafe { release(self) };
        }
    }
}

/// A failure on its way to the caller: its status and its complete message.
#[derive(Debug)]
pub struct Failure {
    pub status: DativoStatus,
    pub message: String,
    /// The calling code broke a rule of the API: the message gets the function's name.
    misuse: bool,
}

impl Failure {
    pub fn new(status: DativoStatus, message: impl Into<String>) -> Self {
        Failure { status, message: message.into(), misuse: false }
    }

    /// The caller broke a rule of the API (NULL argument, closed handle, ...).
    pub fn invalid(message: impl Into<String>) -> Self {
        Failure { misuse: true, ..Failure::new(DATIVO_STATUS_INVALID_ARGUMENT, message) }
    }

    pub fn panic(payload: Box<dyn Any + Send>) -> Self {
        let what = panic_text(&payload);
        Failure::new(
            DATIVO_STATUS_INTERNAL,
            format!("internal error: dativo panicked ({what}); this is a bug in dativo, please report it"),
        )
    }
}

/// The text a panic carried.
pub fn panic_text(payload: &Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(status_of(&e), e.to_string())
    }
}

impl Failure {
    /// The engine error for a failure reported by foreign code (a plugin, a foreign stream),
    /// its message prefixed with `origin`. Faults in the data, schema or configuration keep
    /// their kind, since that is what the user must fix; everything else is the plugin's.
    pub fn into_error(self, origin: &str) -> Error {
        let message = format!("{origin}: {}", self.message);
        match self.status {
            DATIVO_STATUS_DATA => Error::Data(message),
            DATIVO_STATUS_SCHEMA => Error::Schema(message),
            DATIVO_STATUS_CONFIG => Error::Config(message),
            _ => Error::Plugin(message),
        }
    }
}

/// The message a foreign function left in `error` (released afterwards), or `fallback`.
pub fn take_message(error: &mut DativoError, fallback: &str) -> String {
    let text = if error.message.is_null() {
        fallback.to_string()
    } else {
        // SAFETY: a non-NULL message is a NUL-terminated string owned by `error`.
        unsafe { std::ffi::CStr::from_ptr(error.message) }.to_string_lossy().into_owned()
    };
    if let Some(release) = error.release {
        // SAFETY: `release` came with the message it frees.
        unsafe { release(error) };
    }
    // Not an assignment: that would run Drop, releasing a second time if the plugin's release
    // forgot to reset the struct.
    // SAFETY: `error` is a valid, exclusively borrowed struct.
    unsafe { ptr::write(error, DativoError::default()) };
    text
}

/// Run `body` for the exported function `function`: success is `DATIVO_STATUS_OK`; a failure
/// or a panic fills `error` and returns its status. Messages about misuse are prefixed with
/// the function's name, since the calling code is what must change.
///
/// # Safety
/// `error` is NULL or points to a `DativoError` the caller zero-initialised.
pub unsafe fn boundary(
    function: &str,
    error: *mut DativoError,
    body: impl FnOnce() -> Result<(), Failure>,
) -> DativoStatus {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| Err(Failure::panic(payload)));
    match outcome {
        Ok(()) => DATIVO_STATUS_OK,
        Err(mut failure) => {
            if failure.misuse {
                failure.message = format!("{function}: {}", failure.message);
            }
            // SAFETY: `error` is NULL or points to a DativoError the caller zero-initialised.
            unsafe { fill(error, &failure.message) };
            failure.status
        }
    }
}

/// Run `body` for an infallible exported function (a getter); a panic returns `fallback`.
pub fn no_panic<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Text safe to hand to C: interior NULs (which would cut the message short) are escaped.
pub fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).expect("NULs were escaped")
}

/// Write `message` into `error`, releasing whatever it held. NULL `error` is allowed: the
/// caller chose not to receive details.
///
/// # Safety
/// `error` is NULL or points to a valid `DativoError`.
pub unsafe fn fill(error: *mut DativoError, message: &str) {
    if error.is_null() {
        return;
    }
    if let Some(release) = (*error).release {
        release(error);
    }
    ptr::write(
        error,
        DativoError {
            message: c_text(message).into_raw(),
            release: Some(release_error),
            private_data: ptr::null_mut(),
        },
    );
}

unsafe extern "C" fn release_error(error: *mut DativoError) {
    let _ = catch_unwind(|| {
        if error.is_null() {
            return;
        }
        let e = &mut *error;
        if !e.message.is_null() {
            // SAFETY: `message` came from `CString::into_raw` in `fill`.
            drop(CString::from_raw(e.message));
        }
        e.message = ptr::null_mut();
        e.release = None;
        e.private_data = ptr::null_mut();
    });
}
