//! Arrow C streams across the boundary.
//!
//! - [`export`] hands a Rust `RecordBatchReader` to C as a `struct ArrowArrayStream` whose
//!   callbacks never unwind into C, whose errors are sticky (after a failure every `get_next`
//!   fails again, so an error can never pass for the end of the data), and whose
//!   `get_last_error` carries the complete message.
//! - [`ImportedStream`] reads a stream from C (ours or anyone's), keeping the producer's error
//!   text and, for dativo's own streams, the exact status.
//! - `dativo_status_from_stream` turns a failed stream call back into a status and message.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use arrow_array::ffi::{from_ffi_and_data_type, FFI_ArrowArray};
use arrow_array::{Array, RecordBatch, RecordBatchReader, StructArray};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{DataType, Schema, SchemaRef};

use super::arrow_c::ArrowArrayStream;
use super::error::{boundary, c_text, Failure};
use super::status::*;
use dativo_engine::Error;

/// What a stream handed out by dativo keeps behind `private_data`.
struct Exported {
    reader: Box<dyn RecordBatchReader + Send>,
    schema: SchemaRef,
    /// The first failure; every later `get_next` repeats it.
    failure: Option<(DativoStatus, CString)>,
}

/// Hand `reader` to C: write a live stream into `out` (which the caller owns and releases).
///
/// # Safety
/// `out` is valid for writes; its previous content is overwritten without being released.
pub unsafe fn export(reader: Box<dyn RecordBatchReader + Send>, out: *mut ArrowArrayStream) {
    let schema = reader.schema();
    let private = Box::new(Exported { reader, schema, failure: None });
    ptr::write(
        out,
        ArrowArrayStream {
            get_schema: Some(exported_get_schema),
            get_next: Some(exported_get_next),
            get_last_error: Some(exported_get_last_error),
            release: Some(exported_release),
            private_data: Box::into_raw(private).cast::<c_void>(),
        },
    );
}

/// The state of one of our streams; None for a NULL, released or foreign stream.
///
/// # Safety
/// `stream` is NULL or points to a valid `ArrowArrayStream`.
unsafe fn ours<'a>(stream: *mut ArrowArrayStream) -> Option<&'a mut Exported> {
    if stream.is_null() {
        return None;
    }
    let s = &*stream;
    let is_ours =
        matches!(s.get_next, Some(f) if std::ptr::fn_addr_eq(f, exported_get_next as unsafe extern "C" fn(_, _) -> _));
    if is_ours && !s.private_data.is_null() {
        Some(&mut *s.private_data.cast::<Exported>())
    } else {
        None
    }
}

/// Record `failure` on the stream (the first one wins) and return its errno-style code.
fn record(state: &mut Exported, failure: Failure) -> c_int {
    let code = errno_of(failure.status);
    state.failure.get_or_insert((failure.status, c_text(&failure.message)));
    code
}

unsafe extern "C" fn exported_get_schema(stream: *mut ArrowArrayStream, out: *mut FFI_ArrowSchema) -> c_int {
    let Some(state) = ours(stream) else { return libc::EINVAL };
    if out.is_null() {
        return record(state, Failure::invalid("get_schema: out is NULL"));
    }
    let result = catch_unwind(AssertUnwindSafe(|| FFI_ArrowSchema::try_from(state.schema.as_ref())));
    match result {
        Ok(Ok(schema)) => {
            ptr::write(out, schema);
            0
        }
        Ok(Err(e)) => record(state, Failure::from(Error::Arrow(e))),
        Err(payload) => record(state, Failure::panic(payload)),
    }
}

unsafe extern "C" fn exported_get_next(stream: *mut ArrowArrayStream, out: *mut FFI_ArrowArray) -> c_int {
    let Some(state) = ours(stream) else { return libc::EINVAL };
    if let Some((status, _)) = &state.failure {
        return errno_of(*status);
    }
    if out.is_null() {
        return record(state, Failure::invalid("get_next: out is NULL"));
    }
    let result = catch_unwind(AssertUnwindSafe(|| match state.reader.next() {
        None => Ok(FFI_ArrowArray::empty()),
        Some(Ok(batch)) => Ok(FFI_ArrowArray::new(&StructArray::from(batch).into_data())),
        Some(Err(e)) => Err(Failure::from(Error::from_arrow(e))),
    }));
    match result {
        Ok(Ok(array)) => {
            ptr::write(out, array);
            0
        }
        Ok(Err(failure)) => record(state, failure),
        Err(payload) => record(state, Failure::panic(payload)),
    }
}

unsafe extern "C" fn exported_get_last_error(stream: *mut ArrowArrayStream) -> *const c_char {
    match ours(stream) {
        Some(Exported { failure: Some((_, message)), .. }) => message.as_ptr(),
        _ => ptr::null(),
    }
}

unsafe extern "C" fn exported_release(stream: *mut ArrowArrayStream) {
    if stream.is_null() {
        return;
    }
    let private = (*stream).private_data.cast::<Exported>();
    // Dropping the reader stops its threads; a panic there must not unwind into C.
    if !private.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(private))));
    }
    (*stream).private_data = ptr::null_mut();
    (*stream).release = None;
}

/// The status and message of a failed call on an Arrow C stream: what the C library exports as
/// `dativo_status_from_stream` (see its documentation in `dativo.h`).
///
/// # Safety
/// `stream` is NULL or a valid, unreleased stream; `error` is NULL or a valid `DativoError`.
pub unsafe fn status_from_stream(
    stream: *mut ArrowArrayStream,
    code: c_int,
    error: *mut super::error::DativoError,
) -> DativoStatus {
    if code == 0 {
        return DATIVO_STATUS_OK;
    }
    boundary("dativo_status_from_stream", error, || {
        if stream.is_null() {
            return Err(Failure::invalid("stream is NULL"));
        }
        if (*stream).is_released() {
            return Err(Failure::invalid("stream is released"));
        }
        Err(stream_failure(stream, code))
    })
}

/// The failure behind `code` from a call on `stream`.
///
/// # Safety
/// `stream` is a valid stream.
unsafe fn stream_failure(stream: *mut ArrowArrayStream, code: c_int) -> Failure {
    if let Some(Exported { failure: Some((status, message)), .. }) = ours(stream) {
        return Failure::new(*status, message.to_string_lossy());
    }
    let text = match (*stream).get_last_error {
        Some(get_last_error) => {
            let p = get_last_error(stream);
            (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
        }
        None => None,
    };
    let message = text.unwrap_or_else(|| {
        format!("the Arrow stream failed with error code {code} ({})", std::io::Error::from_raw_os_error(code))
    });
    Failure::new(status_of_errno(code), message)
}

/// A stream moved in from C, read batch by batch as record batches of one schema.
pub struct ImportedStream {
    stream: ArrowArrayStream,
    schema: SchemaRef,
}

impl ImportedStream {
    /// Move the stream out of `*ptr` (leaving it released) and read its schema.
    ///
    /// # Safety
    /// `ptr` is NULL or points to a valid stream struct (released or not).
    pub unsafe fn take(ptr: *mut ArrowArrayStream, name: &str) -> Result<Self, Failure> {
        if ptr.is_null() {
            return Err(Failure::invalid(format!("{name} is NULL")));
        }
        let mut stream = ptr::replace(ptr, ArrowArrayStream::empty());
        let Some(get_schema) = stream.get_schema.filter(|_| !stream.is_released()) else {
            return Err(Failure::invalid(format!("{name} is released (already consumed or moved)")));
        };
        let mut schema = FFI_ArrowSchema::empty();
        let code = get_schema(&mut stream, &mut schema);
        if code != 0 {
            return Err(stream_failure(&mut stream, code));
        }
        let schema = Schema::try_from(&schema).map_err(|e| Failure::from(Error::Arrow(e)))?;
        Ok(ImportedStream { stream, schema: schema.into() })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The next batch; None at the end of the stream.
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, Failure>> {
        let Some(get_next) = self.stream.get_next else {
            return Some(Err(Failure::invalid("the stream has no get_next callback")));
        };
        let mut array = FFI_ArrowArray::empty();
        // SAFETY: the stream is live (we own it) and `array` is a valid out-struct.
        let code = unsafe { get_next(&mut self.stream, &mut array) };
        if code != 0 {
            return Some(Err(unsafe { stream_failure(&mut self.stream, code) }));
        }
        if array.is_released() {
            return None;
        }
        // SAFETY: the producer promises the array matches the schema it gave.
        Some(unsafe { import_batch(array, &self.schema) })
    }
}

/// A record batch from a C struct array of `schema`'s fields (consumes `array`).
///
/// # Safety
/// `array` follows the C Data Interface.
pub unsafe fn import_batch(array: FFI_ArrowArray, schema: &SchemaRef) -> Result<RecordBatch, Failure> {
    let data_type = DataType::Struct(schema.fields().clone());
    // arrow-rs asserts (panics) when the children do not match the type; say what is wrong.
    check_shape(&array, &data_type, "the batch")
        .map_err(|m| Failure::from(Error::Schema(format!("the array does not match the writer's schema: {m}"))))?;
    let data = from_ffi_and_data_type(array, data_type)
        .map_err(|e| Failure::new(DATIVO_STATUS_ARROW, format!("invalid Arrow array: {e}")))?;
    let columns = StructArray::from(data);
    if columns.null_count() > 0 {
        return Err(Failure::new(DATIVO_STATUS_ARROW, "invalid Arrow array: a record batch has no null rows"));
    }
    let (_, arrays, _) = columns.into_parts();
    RecordBatch::try_new(schema.clone(), arrays).map_err(|e| Failure::from(Error::Arrow(e)))
}

/// Check that `array` has the children (and dictionary) that `data_type` implies, recursively.
fn check_shape(array: &FFI_ArrowArray, data_type: &DataType, what: &str) -> Result<(), String> {
    let children: Vec<(String, &DataType)> = match data_type {
        DataType::Struct(fields) => fields.iter().map(|f| (format!("column '{}'", f.name()), f.data_type())).collect(),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) | DataType::Map(f, _) => {
            vec![("the list items".to_string(), f.data_type())]
        }
        DataType::Union(fields, _) => {
            fields.iter().map(|(_, f)| (format!("variant '{}'", f.name()), f.data_type())).collect()
        }
        DataType::RunEndEncoded(ends, values) => {
            vec![("run ends".to_string(), ends.data_type()), ("values".to_string(), values.data_type())]
        }
        _ => Vec::new(),
    };
    if array.num_children() != children.len() {
        return Err(format!(
            "{what} has {} children, its type {data_type} needs {}",
            array.num_children(),
            children.len()
        ));
    }
    match (data_type, array.dictionary()) {
        (DataType::Dictionary(_, values), Some(dictionary)) => check_shape(dictionary, values, "a dictionary")?,
        (DataType::Dictionary(..), None) => return Err(format!("{what} is dictionary-encoded but has no dictionary")),
        _ => {}
    }
    for (i, (name, child_type)) in children.into_iter().enumerate() {
        check_shape(array.child(i), child_type, &name)?;
    }
    Ok(())
}
