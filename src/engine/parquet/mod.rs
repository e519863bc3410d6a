//! Parquet writer: Arrow record batches -> Parquet files committed atomically.
//!
//! [`ParquetSink`] encodes batches into hidden temp files in the output directory, rolls to a
//! new file by rows or bytes, and at `finish` renames them to `<prefix>-NNNNN.parquet` and
//! fsyncs the directory, so no partially written file is ever visible under a final name.
//! See [`writer`] for the guarantees. [`ObjectSink`] writes the same files as objects in a
//! bucket (see [`object_sink`]). [`staged`] splits the commit in two, for distributed writes:
//! writers stage sealed files, one committer publishes them.
pub(crate) mod commit;
mod compressibility;
mod dictionary;
mod early_sync;
mod encoder;
pub mod object_sink;
pub mod options;
pub mod partitioned;
mod rolling;
pub mod staged;
pub mod writer;

pub use object_sink::ObjectSink;
pub use options::{Compression, ParquetOptions, WriteMode};
pub use partitioned::{PartitionColumn, PartitionedSink};
pub use staged::{discard_staged, publish_staged, StagedFile};
pub use writer::{CommittedFile, ParquetSink};
