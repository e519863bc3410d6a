//! Options of the Parquet writer. Documented in the README under `target.engine.options`.

use crate::error::{Error, Result};

/// Compression codec of the Parquet pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    None,
    #[default]
    Snappy,
    /// gzip with a level 0..=9 (default 6).
    Gzip(u32),
    /// LZ4 block compression, written as the `LZ4_RAW` codec (the deprecated Hadoop-framed
    /// `LZ4` codec is never written).
    Lz4,
    /// zstd with a level 1..=22 (default 3).
    Zstd(i32),
}

/// The codec names [`Compression::from_name`] accepts.
pub const COMPRESSION_NAMES: &[&str] = &["none", "snappy", "gzip", "lz4", "zstd"];

/// Valid gzip levels.
pub const GZIP_LEVELS: std::ops::RangeInclusive<u32> = 0..=9;
/// Valid zstd levels.
pub const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = 1..=22;
/// gzip level used when none is given.
pub const GZIP_DEFAULT_LEVEL: u32 = 6;
/// zstd level used when none is given.
pub const ZSTD_DEFAULT_LEVEL: i32 = 3;

impl Compression {
    /// Parses a codec name (case-insensitive; `uncompressed` is accepted for `none`) and an
    /// optional level. Only gzip (0..=9) and zstd (1..=22) take a level.
    pub fn from_name(name: &str, level: Option<i32>) -> Result<Compression> {
        let lower = name.trim().to_ascii_lowercase();
        let no_level = |c: Compression| match level {
            None => Ok(c),
            Some(l) => Err(Error::Config(format!(
                "compression `{lower}` takes no level (got {l}); only gzip ({}..={}) and zstd ({}..={}) have levels",
                GZIP_LEVELS.start(),
                GZIP_LEVELS.end(),
                ZSTD_LEVELS.start(),
                ZSTD_LEVELS.end()
            ))),
        };
        match lower.as_str() {
            "none" | "uncompressed" => no_level(Compression::None),
            "snappy" => no_level(Compression::Snappy),
            "lz4" | "lz4_raw" => no_level(Compression::Lz4),
            "gzip" => {
                let level = level.unwrap_or(GZIP_DEFAULT_LEVEL as i32);
                let c = Compression::Gzip(u32::try_from(level).unwrap_or(u32::MAX));
                c.validate().map(|()| c).map_err(|_| {
                    Error::Config(format!(
                        "gzip compression level {level} is out of range: use {}..={}",
                        GZIP_LEVELS.start(),
                        GZIP_LEVELS.end()
                    ))
                })
            }
            "zstd" => {
                let c = Compression::Zstd(level.unwrap_or(ZSTD_DEFAULT_LEVEL));
                c.validate().map(|()| c)
            }
            _ => {
                Err(Error::Config(format!("unknown compression `{name}`: use one of {}", COMPRESSION_NAMES.join(", "))))
            }
        }
    }

    /// The codec's name as [`Compression::from_name`] accepts it.
    pub fn name(&self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Snappy => "snappy",
            Compression::Gzip(_) => "gzip",
            Compression::Lz4 => "lz4",
            Compression::Zstd(_) => "zstd",
        }
    }

    /// Checks the level (the enum can be built directly with any level).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Compression::Gzip(l) if !GZIP_LEVELS.contains(&l) => Err(Error::Config(format!(
                "gzip compression level {l} is out of range: use {}..={}",
                GZIP_LEVELS.start(),
                GZIP_LEVELS.end()
            ))),
            Compression::Zstd(l) if !ZSTD_LEVELS.contains(&l) => Err(Error::Config(format!(
                "zstd compression level {l} is out of range: use {}..={}",
                ZSTD_LEVELS.start(),
                ZSTD_LEVELS.end()
            ))),
            _ => Ok(()),
        }
    }

    /// The codec in the parquet crate's terms. Fails on an out-of-range level.
    pub(crate) fn to_parquet(self) -> Result<::parquet::basic::Compression> {
        use ::parquet::basic::{Compression as P, GzipLevel, ZstdLevel};
        self.validate()?;
        Ok(match self {
            Compression::None => P::UNCOMPRESSED,
            Compression::Snappy => P::SNAPPY,
            Compression::Gzip(l) => P::GZIP(GzipLevel::try_new(l)?),
            Compression::Lz4 => P::LZ4_RAW,
            Compression::Zstd(l) => P::ZSTD(ZstdLevel::try_new(l)?),
        })
    }
}

/// What happens to `<prefix>-NNNNN.parquet` files already in the output directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// The run's files replace the directory's parts: numbering starts at 00000, and when the
    /// run commits, parts it did not write (left by an earlier, bigger run) are deleted.
    #[default]
    Overwrite,
    /// The run's files are added: numbering starts after the highest existing part number, so
    /// no existing file is replaced or deleted.
    Append,
}

impl WriteMode {
    /// Parses `overwrite` or `append` (case-insensitive).
    pub fn from_name(name: &str) -> Result<WriteMode> {
        match name.trim().to_ascii_lowercase().as_str() {
            "overwrite" => Ok(WriteMode::Overwrite),
            "append" => Ok(WriteMode::Append),
            _ => Err(Error::Config(format!("unknown write mode `{name}`: use overwrite or append"))),
        }
    }
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
    /// Store a column uncompressed when the codec shrinks its first batch by less than 3%
    /// (see `compressibility`). Default true; false: every column uses `compression`.
    pub adaptive_compression: bool,
    /// File name prefix: files are `<prefix>-00000.parquet`, ... Default `part`.
    pub file_prefix: String,
    /// Replace or add to the parts already in the directory. Default overwrite.
    pub write_mode: WriteMode,
    /// Threads encoding the columns of a row group, the calling thread included (1: encode on
    /// the calling thread only). 0 (the default): one worker per available core
    /// (`std::thread::available_parallelism()`) plus the calling thread. Never more than the
    /// number of columns. The output is byte-for-byte the same whatever the count. At most
    /// [`crate::csv::MAX_THREADS`].
    pub threads: usize,
    /// With Hive partitioning (`target.partitioning`): at most this many partitions have a
    /// file open at once. Past it, the least recently written partition's file is completed
    /// and a later row of that partition starts a new file. Default 16.
    pub max_open_partitions: usize,
}

/// Default of [`ParquetOptions::max_open_partitions`].
pub const DEFAULT_MAX_OPEN_PARTITIONS: usize = 16;

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            compression: Compression::Snappy,
            row_group_size: 1024 * 1024,
            max_rows_per_file: None,
            max_bytes_per_file: None,
            statistics: true,
            adaptive_compression: true,
            file_prefix: "part".to_string(),
            write_mode: WriteMode::Overwrite,
            threads: 0,
            max_open_partitions: DEFAULT_MAX_OPEN_PARTITIONS,
        }
    }
}

impl ParquetOptions {
    /// Checks every option; the error says which one is wrong and what is allowed.
    pub fn validate(&self) -> Result<()> {
        self.compression.validate()?;
        if self.row_group_size == 0 {
            return Err(Error::Config("row_group_size must be at least 1".into()));
        }
        if self.max_rows_per_file == Some(0) {
            return Err(Error::Config("max_rows_per_file must be at least 1".into()));
        }
        if self.max_bytes_per_file == Some(0) {
            return Err(Error::Config("max_bytes_per_file must be at least 1".into()));
        }
        if self.max_open_partitions == 0 {
            return Err(Error::Config("max_open_partitions must be at least 1".into()));
        }
        if let Some(m) = crate::csv::check_threads("threads", self.threads) {
            return Err(Error::Config(m));
        }
        let p = &self.file_prefix;
        if p.is_empty() || p.starts_with('.') || p.contains(['/', '\\', '\0']) || p == ".." {
            return Err(Error::Config(format!(
                "file_prefix `{p}` is invalid: it must be a non-empty file name that does not start with `.` and contains no `/` or `\\`"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codec_names_and_levels() {
        assert_eq!(Compression::from_name("none", None).unwrap(), Compression::None);
        assert_eq!(Compression::from_name("Uncompressed", None).unwrap(), Compression::None);
        assert_eq!(Compression::from_name("SNAPPY", None).unwrap(), Compression::Snappy);
        assert_eq!(Compression::from_name("lz4", None).unwrap(), Compression::Lz4);
        assert_eq!(Compression::from_name("gzip", None).unwrap(), Compression::Gzip(6));
        assert_eq!(Compression::from_name("gzip", Some(9)).unwrap(), Compression::Gzip(9));
        assert_eq!(Compression::from_name("zstd", None).unwrap(), Compression::Zstd(3));
        assert_eq!(Compression::from_name("zstd", Some(19)).unwrap(), Compression::Zstd(19));
    }

    #[test]
    fn codec_errors_are_clear() {
        let e = Compression::from_name("brotli", None).unwrap_err().to_string();
        assert!(e.contains("brotli") && e.contains("none, snappy, gzip, lz4, zstd"), "{e}");
        let e = Compression::from_name("gzip", Some(10)).unwrap_err().to_string();
        assert!(e.contains("10") && e.contains("0..=9"), "{e}");
        let e = Compression::from_name("gzip", Some(-1)).unwrap_err().to_string();
        assert!(e.contains("-1") && e.contains("0..=9"), "{e}");
        let e = Compression::from_name("zstd", Some(0)).unwrap_err().to_string();
        assert!(e.contains("1..=22"), "{e}");
        let e = Compression::from_name("zstd", Some(23)).unwrap_err().to_string();
        assert!(e.contains("23") && e.contains("1..=22"), "{e}");
        let e = Compression::from_name("snappy", Some(3)).unwrap_err().to_string();
        assert!(e.contains("takes no level"), "{e}");
        assert!(matches!(Compression::from_name("x", None), Err(Error::Config(_))));
    }

    #[test]
    fn validates_options() {
        assert!(ParquetOptions::default().validate().is_ok());
        let bad = |f: fn(&mut ParquetOptions)| {
            let mut o = ParquetOptions::default();
            f(&mut o);
            o.validate().unwrap_err().to_string()
        };
        assert!(bad(|o| o.row_group_size = 0).contains("row_group_size"));
        assert_eq!(bad(|o| o.threads = 30_000), "threads must be 0 (one per core) or between 1 and 256, got 30000");
        assert!(bad(|o| o.max_rows_per_file = Some(0)).contains("max_rows_per_file"));
        assert!(bad(|o| o.max_bytes_per_file = Some(0)).contains("max_bytes_per_file"));
        assert!(bad(|o| o.file_prefix = "a/b".into()).contains("file_prefix"));
        assert!(bad(|o| o.file_prefix = String::new()).contains("file_prefix"));
        assert!(bad(|o| o.file_prefix = ".hidden".into()).contains("file_prefix"));
        assert!(bad(|o| o.compression = Compression::Zstd(99)).contains("1..=22"));
        assert_eq!(WriteMode::from_name("Append").unwrap(), WriteMode::Append);
        assert!(WriteMode::from_name("merge").unwrap_err().to_string().contains("overwrite or append"));
    }
}
