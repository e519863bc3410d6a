//! Streaming CSV reader: bytes -> decoded UTF-8 -> records -> typed Arrow record batches.
//!
//! Stages, one file each:
//! - `decode`: BOM sniffing and transcoding of UTF-16 / Latin-1 input to UTF-8;
//! - `records`: the record splitter, a sequential, quote-aware scan that cuts the text into
//!   chunks of whole records;
//! - `fields`: the field tokenizer (SSE2/SWAR delimiter masks, quote removal), on every core;
//! - `columns`: the column builder, parsing each column of a chunk into a typed Arrow array;
//! - `values`: the parsers of single values (integers, floats, dates, timestamps, booleans);
//! - `infer`: picks column types from a sample;
//! - `sniff`: detects the dialect (delimiter, quote, escape, record terminator, header) that
//!   the options leave unset, from a bounded sample of the first file;
//! - `schema_head`: reads the header (column names) and the inference sample, and resolves the
//!   schema before any work starts;
//! - `bad_rows`: bad-row messages and the rejects file;
//! - `reader`: the thread orchestration (splitter thread, parse workers) and batch ordering;
//! - `input`: what the reader reads: a local file or a re-openable byte source (an object).

mod bad_rows;
mod columns;
mod decode;
mod fields;
mod infer;
mod input;
pub mod options;
mod reader;
mod records;
mod schema_head;
pub mod sniff;
mod values;

pub use input::{Input, OpenInput};
pub use reader::{CsvBatchReader, CsvReader};
pub use sniff::DetectedDialect;

/// For the job's redactor: the forms a text takes in a quoted value of a bad-row message.
pub(crate) use bad_rows::quoted_forms;
/// For writers' `ingest_date` option: a date as the reader reads one.
pub(crate) use values::parse_date;

pub use options::{check_threads, parse_char, parse_separator, CsvOptions, Encoding, OnError, MAX_THREADS};

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
    Ok(schema_head::column_names(reader::Source::Path(path.to_path_buf()), options)?.0)
}

/// Like [`read_column_names`], for any [`Input`].
pub fn read_input_column_names(input: &Input, options: &CsvOptions) -> Result<Vec<String>> {
    Ok(schema_head::column_names(input.clone().into(), options)?.0)
}

/// The schema the reader would use for these files.
pub fn infer_schema(paths: &[PathBuf], options: &CsvOptions) -> Result<SchemaRef> {
    Ok(CsvReader::open(paths, options.clone())?.schema())
}
