//! What both example plugins need for the legacy Dativo JSON ABI: C strings in and out,
//! `free_string`, and `last_error`. Included by each crate with `#[path]` (one copy per
//! library; each library has its own `last_error`).
//!
//! Errors: the old Dativo plugins returned NULL on an error, exactly as at the end of the data,
//! and the platform's bridge (`rust_plugin_bridge.py`) treats a NULL from `extract_batch` as
//! the end and a NULL from `write_batch` as "no files": a bad value silently cut the data
//! short and the job still succeeded. Here every failing call
//!   1. logs `<plugin>: error: <message>` to stderr,
//!   2. stores the message for `last_error()`, and
//!   3. when it returns a string (`extract_batch`, `write_batch`), returns the text
//!      `dativo plugin error: <message>` instead of NULL. That is not JSON, so the bridge's own
//!      `json.loads` raises on it and the platform's job fails (exit 2) instead of ending
//!      early; the message is on stderr just above the platform's traceback. A host that
//!      knows `last_error` sees the message there.
//!
//! `create_*` can only return NULL on an error (the bridge keeps the NULL and calls
//! `extract_batch(NULL)` / `write_batch(NULL, ...)` next): those calls return the error text
//! with the create function's own reason, and leave that reason in `last_error`.
//!
//! `last_error()` semantics (like `errno`): the message is per thread. Every legacy call that
//! can fail (`create_*`, `extract_batch`, `write_batch`) clears it on entry, so after such a call
//! `last_error()` on the same thread is NULL when the call succeeded (or, for `extract_batch`,
//! the data ended: NULL) and the message when it failed. The pointer belongs to the library: do
//! not free it; it stays valid until the next `create_*` / `extract_batch` / `write_batch` call
//! on that thread (copy it to keep it). `free_*` calls never change it.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
    /// Why the last `create_*` on this thread failed (None after one succeeded): what a call
    /// with the NULL handle it returned reports.
    static CREATE_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The start of the text a failing `extract_batch` / `write_batch` returns.
pub const ERROR_PREFIX: &str = "dativo plugin error: ";

/// Runs one legacy call: clears `last_error`, runs `body`, and on an error or a panic logs the
/// message to stderr, stores it for `last_error`, and returns `failed(message)`.
fn run<T>(plugin: &str, failed: impl FnOnce(&str) -> T, body: impl FnOnce() -> Result<T, String>) -> T {
    LAST_ERROR.with(|e| *e.borrow_mut() = None);
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(format!("internal error (panic): {text}"))
    });
    match outcome {
        Ok(value) => value,
        Err(message) => {
            eprintln!("{plugin}: error: {message}");
            let stored = CString::new(message.replace('\0', " ")).unwrap_or_default();
            LAST_ERROR.with(|e| *e.borrow_mut() = Some(stored));
            failed(&message)
        }
    }
}

/// A `create_*` call: the handle, or NULL on an error (see [`run`]); remembers why for the
/// calls that get the NULL handle.
pub fn create(plugin: &str, body: impl FnOnce() -> Result<*mut std::ffi::c_void, String>) -> *mut std::ffi::c_void {
    let handle = run(
        plugin,
        |message| {
            CREATE_ERROR.with(|e| *e.borrow_mut() = Some(message.to_string()));
            std::ptr::null_mut()
        },
        body,
    );
    if !handle.is_null() {
        CREATE_ERROR.with(|e| *e.borrow_mut() = None);
    }
    handle
}

/// An `extract_batch` / `write_batch` call: its string (NULL for "no more data"), or on an
/// error the text `dativo plugin error: <message>` (see the module documentation).
pub fn call_returning_text(plugin: &str, body: impl FnOnce() -> Result<*mut c_char, String>) -> *mut c_char {
    run(plugin, |message| out_string(format!("{ERROR_PREFIX}{message}")), body)
}

/// Runs a `free_*` call: never unwinds into the caller, never touches `last_error`.
pub fn release(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

/// A NUL-terminated UTF-8 argument as `&str`.
///
/// # Safety
/// `text` is NULL or a valid NUL-terminated string that outlives the returned reference.
pub unsafe fn text_arg<'a>(text: *const c_char, what: &str) -> Result<&'a str, String> {
    if text.is_null() {
        return Err(format!("{what} is NULL"));
    }
    CStr::from_ptr(text).to_str().map_err(|_| format!("{what} is not valid UTF-8"))
}

/// A string handed to the caller, who frees it with `free_string`.
pub fn out_string(text: String) -> *mut c_char {
    // JSON text never contains a NUL byte (serde_json escapes it as \u0000).
    CString::new(text).map(CString::into_raw).unwrap_or(std::ptr::null_mut())
}

/// A Box handed to the caller as an opaque handle.
pub fn out_handle<T>(value: T) -> *mut std::ffi::c_void {
    Box::into_raw(Box::new(value)).cast()
}

/// The handle of [`out_handle`] back. A NULL handle is the one a failed `create_*` returned:
/// the error is that create call's own reason (`what is NULL` when none failed).
///
/// # Safety
/// `handle` is NULL or came from `out_handle::<T>` and has not been freed.
pub unsafe fn handle_arg<'a, T>(handle: *mut std::ffi::c_void, what: &str) -> Result<&'a mut T, String> {
    if handle.is_null() {
        return Err(CREATE_ERROR.with(|e| e.borrow().clone()).unwrap_or_else(|| format!("{what} is NULL")));
    }
    Ok(&mut *handle.cast::<T>())
}

/// Free a string this library returned (`extract_batch`, `write_batch`). NULL is ignored.
///
/// # Safety
/// `text` is NULL or a string returned by this library and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn free_string(text: *mut c_char) {
    release(|| {
        if !text.is_null() {
            drop(CString::from_raw(text));
        }
    })
}

/// The message of the last failed call on this thread, or NULL when it succeeded (or, for
/// `extract_batch`, reached the end of the data). Owned by the library; valid until the next
/// `create_*`, `extract_batch` or `write_batch` call on this thread. See the module
/// documentation.
#[no_mangle]
pub extern "C" fn last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ref().map_or(std::ptr::null(), |m| m.as_ptr()))
}

/// The zone relabelling the JSON records need (arrow-json formats and parses offset zones
/// only): shared with the host's legacy adapter.
#[allow(unused_imports)] // each plugin uses part of this file
pub use dativo_plugin::legacy::{relabel_batch, relabel_schema, UTC, UTC_OFFSET};
