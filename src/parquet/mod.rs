//! Parquet writer: Arrow record batches -> Parquet files committed atomically.
pub mod options;
pub use options::{Compression, ParquetOptions};
