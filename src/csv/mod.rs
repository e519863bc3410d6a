//! Streaming CSV reader: bytes -> decoded UTF-8 -> records -> typed Arrow record batches.
//!
//! Stages, one file each:
//! - `decode`: BOM sniffing and transcoding of UTF-16 / Latin-1 input to UTF-8;
//! - `split`: a sequential, quote-aware scan that cuts the text into chunks of whole records;
//! - `parse`: (on every core) splits records into fields and parses them column by column;
//! - `infer`: picks column types from a sample;
//! - `reader`: wires the stages together and yields batches in input order.

mod bad_rows;
mod decode;
mod infer;
pub mod options;
mod parse;
mod reader;
mod split;
mod values;

pub use reader::{CsvBatchReader, CsvReader};

/// For the job's redactor: the forms a text takes in a quoted value of a bad-row message.
pub(crate) use bad_rows::quoted_forms;

pub use options::{check_threads, parse_char, CsvOptions, Encoding, OnError, MAX_THREADS};

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use arrow_schema::SchemaRef;

use crate::Result;

/// Live counters of a reader, shared with progress displays.
#[derive(Debug, Default)]
pub struct ReadStats {
    /// Sum of the sizes of all input files (0 when unknown, e.g. a pipe).
    pub total_bytes: AtomicU64,
    /// Input bytes consumed so far.
    pub bytes_read: AtomicU64,
    /// Good rows handed out in batches.
    pub rows_read: AtomicU64,
    /// Bad rows dropped (`on_error: skip`) or written to the rejects file (`reject`).
    pub rows_rejected: AtomicU64,
    /// Rows kept with a null in a `warn_null_columns` column.
    pub warnings: AtomicU64,
}

/// Column names of a file as the reader would see them (header, or `column_names`, or
/// `column_1..N`), without reading further.
pub fn read_column_names(path: &std::path::Path, options: &CsvOptions) -> Result<Vec<String>> {
    reader::column_names(reader::Source::Path(path.to_path_buf()), options)
}

/// The schema the reader would use for these files.
pub fn infer_schema(paths: &[PathBuf], options: &CsvOptions) -> Result<SchemaRef> {
    Ok(CsvReader::open(paths, options.clone())?.schema())
}
