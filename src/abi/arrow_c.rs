//! The Arrow C stream struct, as the Arrow C Stream Interface specifies it.
//!
//! `struct ArrowSchema` and `struct ArrowArray` come from arrow-rs (`FFI_ArrowSchema`,
//! `FFI_ArrowArray`), which also converts them to and from Arrow arrays. Its stream type keeps
//! its fields private, and the C API must both produce streams (with panic-safe callbacks and
//! full error text) and consume foreign ones (keeping their error codes), so the stream struct
//! is declared here. In the header all three are the standard structs of
//! `include/dativo_arrow.h`.

use std::ffi::{c_char, c_int, c_void};

use arrow_array::ffi::FFI_ArrowArray;
use arrow_schema::ffi::FFI_ArrowSchema;

/// `struct ArrowArrayStream` of the Arrow C Stream Interface (layout fixed by the spec).
#[repr(C)]
pub struct ArrowArrayStream {
    pub get_schema: Option<unsafe extern "C" fn(stream: *mut ArrowArrayStream, out: *mut FFI_ArrowSchema) -> c_int>,
    pub get_next: Option<unsafe extern "C" fn(stream: *mut ArrowArrayStream, out: *mut FFI_ArrowArray) -> c_int>,
    pub get_last_error: Option<unsafe extern "C" fn(stream: *mut ArrowArrayStream) -> *const c_char>,
    pub release: Option<unsafe extern "C" fn(stream: *mut ArrowArrayStream)>,
    pub private_data: *mut c_void,
}

// SAFETY: the C Stream Interface lets a consumer move a stream to another thread as long as
// only one thread calls it at a time (arrow-rs makes the same promise for its stream type).
// dativo's own streams hold only `Send` state.
unsafe impl Send for ArrowArrayStream {}

impl ArrowArrayStream {
    /// A released (empty) stream: what a moved-from struct looks like.
    pub const fn empty() -> Self {
        ArrowArrayStream {
            get_schema: None,
            get_next: None,
            get_last_error: None,
            release: None,
            private_data: std::ptr::null_mut(),
        }
    }

    pub fn is_released(&self) -> bool {
        self.release.is_none()
    }
}

impl Drop for ArrowArrayStream {
    /// A stream owned by Rust code (moved in from C, or built in a test) releases itself.
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: a live stream's release callback may be called once, with the stream.
            unsafe { release(self) };
        }
    }
}
