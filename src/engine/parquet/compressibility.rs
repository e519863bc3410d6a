//! Which columns the codec cannot shrink: those are stored uncompressed.
//!
//! Parquet names the codec per column chunk, so a file may hold zstd columns next to
//! uncompressed ones; every reader handles it. After dictionary and delta encoding some columns
//! are already dense bits: on the reference file `user_id` and `created_at` (both
//! `DELTA_BINARY_PACKED`) and `country`'s dictionary indices come out of zstd level 3 at 1.00 of
//! their size, 90 MB of the 485 MB it is given, at full price: zstd searches for matches it
//! never finds. Snappy gives up on such data quickly, zstd does not: storing those columns
//! uncompressed took the reference zstd run from 2.24 to 2.13 s, and snappy's did not move.
//!
//! The rule: the first batch of a sink (its first [`SAMPLE_ROWS`] rows) is encoded once more,
//! with the column's final encodings and the codec, into a throwaway in-memory file; a column
//! whose encoded bytes the codec shrinks by less than [`MIN_SAVING`] is written uncompressed.
//! The file's size hardly changes (by at most that share of those columns), and reading it gets
//! cheaper too. A sample holds a larger share of dictionary page (plain values, which compress)
//! than a full row group, so a dictionary column is kept compressed when in doubt, never the
//! other way round. `adaptive_compression: false` turns this off: every column uses the codec.

use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::Compression;
use ::parquet::file::properties::WriterProperties;
use ::parquet::schema::types::ColumnPath;
use arrow_array::RecordBatch;

/// Rows of the first batch encoded for the test: enough for a full data page of most columns,
/// cheap next to a run (~2 ms).
pub(crate) const SAMPLE_ROWS: usize = 16_384;
/// Fewer sampled rows than this: nothing is decided (every column keeps the codec).
pub(crate) const MIN_ROWS: usize = 1_024;
/// A column whose bytes the codec shrinks by less than this share is stored uncompressed.
pub(crate) const MIN_SAVING: f64 = 0.03;

/// The leaf columns of `batch`, encoded under `props`, that the codec shrinks by less than
/// [`MIN_SAVING`]. Empty when `props` compresses nothing, when the sample is too small, or when
/// the sample cannot be encoded (the real write then reports the error).
pub(crate) fn incompressible(batch: &RecordBatch, props: &WriterProperties) -> Vec<ColumnPath> {
    let rows = batch.num_rows().min(SAMPLE_ROWS);
    if rows < MIN_ROWS {
        return Vec::new();
    }
    let sample = batch.slice(0, rows);
    let encoded = ArrowWriter::try_new(Vec::new(), sample.schema(), Some(props.clone()))
        .and_then(|mut w| w.write(&sample).and_then(|()| w.close()));
    let Ok(metadata) = encoded else {
        return Vec::new();
    };
    let Some(group) = metadata.row_groups().first() else {
        return Vec::new();
    };
    group
        .columns()
        .iter()
        .filter(|c| c.compression() != Compression::UNCOMPRESSED && c.uncompressed_size() > 0)
        .filter(|c| (c.compressed_size() as f64) > (1.0 - MIN_SAVING) * c.uncompressed_size() as f64)
        .map(|c| c.column_path().clone())
        .collect()
}
