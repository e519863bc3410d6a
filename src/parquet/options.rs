//! Options of the Parquet writer. Documented in the README under `target.engine.options`.

/// Compression codec of the Parquet pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    None,
    #[default]
    Snappy,
    /// gzip with a level 0..=9 (default 6).
    Gzip(u32),
    Lz4,
    /// zstd with a level 1..=22 (default 3).
    Zstd(i32),
}

#[derive(Debug, Clone)]
pub struct ParquetOptions {
    /// Default snappy.
    pub compression: Compression,
    /// Maximum rows per row group. Default 1,048,576 (arrow-rs' default).
    pub row_group_size: usize,
    /// Start a new file after this many rows. Default none.
    pub max_rows_per_file: Option<u64>,
    /// Start a new file once the current one reaches about this many bytes
    /// (`target.parquet_target_size_mb`). Default none.
    pub max_bytes_per_file: Option<u64>,
    /// Write min/max/null-count statistics per column chunk and page. Default true.
    pub statistics: bool,
    /// File name prefix: files are `<prefix>-00000.parquet`, ... Default `part`.
    pub file_prefix: String,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            compression: Compression::Snappy,
            row_group_size: 1024 * 1024,
            max_rows_per_file: None,
            max_bytes_per_file: None,
            statistics: true,
            file_prefix: "part".to_string(),
        }
    }
}
