//! Parquet writer: Arrow record batches -> Parquet files committed atomically.
//!
//! [`ParquetSink`] encodes batches into hidden temp files in the output directory, rolls to a
//! new file by rows or bytes, and at `finish` renames them to `<prefix>-NNNNN.parquet` and
//! fsyncs the directory, so no partially written file is ever visible under a final name.
//! See [`writer`] for the guarantees.
pub(crate) mod commit;
mod dictionary;
mod early_sync;
mod encoder;
pub mod options;
pub mod writer;

pub use options::{Compression, ParquetOptions, WriteMode};
pub use writer::{CommittedFile, ParquetSink};
