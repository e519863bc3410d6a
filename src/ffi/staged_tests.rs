//! The staged-write C API called as C calls it: two writers stage, one commit publishes.

use std::ffi::{CStr, CString};
use std::fs;
use std::path::Path;
use std::ptr;
use std::sync::Arc;

use arrow_array::ffi::FFI_ArrowArray;
use arrow_array::{Array, Int64Array, RecordBatch, StructArray};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{DataType, Field, Schema};

use super::*;
use crate::parquet::*;
use crate::plugin::dativo_string_free;
use dativo_abi::{DATIVO_STATUS_CONFIG, DATIVO_STATUS_INVALID_ARGUMENT, DATIVO_STATUS_OK};

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

fn message(error: &DativoError) -> String {
    unsafe { CStr::from_ptr(error.message) }.to_str().unwrap().to_string()
}

/// A writer into `dir` with `prefix` that wrote `ids`, staged: the JSON text it returned.
fn stage(dir: &Path, prefix: &str, ids: &[i64]) -> String {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
    let c_schema = FFI_ArrowSchema::try_from(schema.as_ref()).unwrap();
    let (dir, prefix, options) = (c(dir.to_str().unwrap()), c(prefix), c(r#"{"compression": "zstd"}"#));
    let mut writer = ptr::null_mut();
    let mut error = DativoError::default();
    unsafe {
        let status = dativo_parquet_writer_open_staged(
            dir.as_ptr(),
            &c_schema,
            prefix.as_ptr(),
            options.as_ptr(),
            &mut writer,
            &mut error,
        );
        assert_eq!(status, 0, "{}", message(&error));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ids.to_vec()))]).unwrap();
        let mut array = FFI_ArrowArray::new(&StructArray::from(batch).into_data());
        assert_eq!(dativo_parquet_writer_write_array(writer, &mut array, &c_schema, &mut error), 0);
        let mut json = ptr::null_mut();
        assert_eq!(dativo_parquet_writer_stage(writer, &mut json, &mut error), DATIVO_STATUS_OK);
        // The writer is closed: staging twice is a misuse, not a second set of files.
        let mut again = ptr::null_mut();
        let mut error = DativoError::default();
        assert_eq!(dativo_parquet_writer_stage(writer, &mut again, &mut error), DATIVO_STATUS_INVALID_ARGUMENT);
        assert!(again.is_null());
        dativo_parquet_writer_free(writer);
        let text = CStr::from_ptr(json).to_str().unwrap().to_string();
        dativo_string_free(json);
        text
    }
}

/// Concatenates JSON arrays of staged files into one.
fn joined(arrays: &[&str]) -> String {
    let all: Vec<serde_json::Value> =
        arrays.iter().flat_map(|a| serde_json::from_str::<Vec<serde_json::Value>>(a).unwrap()).collect();
    serde_json::Value::Array(all).to_string()
}

#[test]
fn staged_writers_are_published_by_one_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let first = stage(dir, "part-w-00000", &[1, 2]);
    let second = stage(dir, "part-w-00001", &[3]);
    let failed_attempt = stage(dir, "part-w-00001", &[3]);
    assert!(first.contains(r#""final_name":"part-w-00000-00000.parquet""#), "{first}");
    assert!(!fs::read_dir(dir).unwrap().any(|e| e.unwrap().file_name().to_str().unwrap().ends_with(".parquet")));
    let _ = failed_attempt;

    let (d, staged, options) = (c(dir.to_str().unwrap()), c(&joined(&[&first, &second])), c(""));
    let mut list = ptr::null_mut();
    let mut error = DativoError::default();
    let status =
        unsafe { dativo_parquet_commit_staged(d.as_ptr(), staged.as_ptr(), options.as_ptr(), &mut list, &mut error) };
    assert_eq!(status, DATIVO_STATUS_OK);
    unsafe {
        assert_eq!(dativo_file_list_count(list), 2);
        assert_eq!(dativo_file_list_rows(list, 0) + dativo_file_list_rows(list, 1), 3);
        let path = CStr::from_ptr(dativo_file_list_path(list, 1)).to_str().unwrap();
        assert!(path.ends_with("part-w-00001-00000.parquet"), "{path}");
        dativo_file_list_free(list);
    }
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["_manifest.json", "part-w-00000-00000.parquet", "part-w-00001-00000.parquet"]);

    // Committing the same files again: they are gone, and the message says so.
    let mut error = DativoError::default();
    let status =
        unsafe { dativo_parquet_commit_staged(d.as_ptr(), staged.as_ptr(), ptr::null(), ptr::null_mut(), &mut error) };
    assert_eq!(status, dativo_abi::DATIVO_STATUS_IO);
    assert!(message(&error).contains("staged file is gone"), "{}", message(&error));
}

#[test]
fn bad_staged_json_and_discard() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = c(dir.to_str().unwrap());
    let mut error = DativoError::default();
    let not_json = c("{\"temp_path\": 1}");
    let status = unsafe {
        dativo_parquet_commit_staged(d.as_ptr(), not_json.as_ptr(), ptr::null(), ptr::null_mut(), &mut error)
    };
    assert_eq!(status, DATIVO_STATUS_CONFIG);
    assert!(message(&error).starts_with("staged_json: not a JSON array"), "{}", message(&error));
    let mut error = DativoError::default();
    let status =
        unsafe { dativo_parquet_commit_staged(d.as_ptr(), ptr::null(), ptr::null(), ptr::null_mut(), &mut error) };
    assert_eq!(status, DATIVO_STATUS_INVALID_ARGUMENT);
    let (empty, typo) = (c("[]"), c(r#"{"write_mod": "append"}"#));
    let mut error = DativoError::default();
    let status =
        unsafe { dativo_parquet_commit_staged(d.as_ptr(), empty.as_ptr(), typo.as_ptr(), ptr::null_mut(), &mut error) };
    assert_eq!(status, DATIVO_STATUS_CONFIG);
    assert!(message(&error).contains("unknown key 'write_mod'"), "{}", message(&error));

    stage(dir, "part-w-00000", &[1]);
    let mut error = DativoError::default();
    assert_eq!(unsafe { dativo_parquet_discard_staged(d.as_ptr(), ptr::null(), &mut error) }, DATIVO_STATUS_OK);
    assert_eq!(fs::read_dir(dir).unwrap().count(), 0, "nothing of the failed write is left");
}
