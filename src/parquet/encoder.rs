//! Encoding of one Parquet file.
//!
//! [`FileEncoder`] is the only place that turns record batches into Parquet bytes. The sink
//! decides *which* file rows go to and *when* a file is committed; the encoder only encodes.
//! It is kept small and internal so that it can be replaced by an encoder that encodes the
//! columns of a row group on several threads (arrow-rs' `ArrowColumnWriter` API) without
//! touching the rolling and commit logic.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ::parquet::arrow::ArrowWriter;
use ::parquet::errors::ParquetError;
use ::parquet::file::properties::WriterProperties;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::{Error, Result};

/// A file being encoded: a new file at `path` receiving batches, until [`FileEncoder::finish`].
pub(crate) struct FileEncoder {
    writer: ArrowWriter<FileOutput>,
    path: PathBuf,
}

impl FileEncoder {
    /// Creates `path` (it must not exist) and writes the Parquet header.
    pub(crate) fn create(path: &Path, schema: SchemaRef, props: WriterProperties) -> Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io("cannot create", path, e))?;
        let output = FileOutput { file, error: None };
        let writer = match ArrowWriter::try_new(output, schema, Some(props)) {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_file(path);
                return Err(e.into());
            }
        };
        Ok(FileEncoder { writer, path: path.to_path_buf() })
    }

    /// Encodes a batch (its schema has been checked by the caller).
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let r = self.writer.write(batch);
        r.map_err(|e| self.error("cannot write", e))
    }

    /// Bytes the file has now, plus the estimated encoded size of the buffered row group.
    pub(crate) fn estimated_size(&self) -> u64 {
        (self.writer.bytes_written() + self.writer.in_progress_size()) as u64
    }

    /// Writes the last row group and the footer, and fsyncs the file. Returns its size.
    pub(crate) fn finish(mut self) -> Result<u64> {
        let r = self.writer.finish();
        r.map_err(|e| self.error("cannot write", e))?;
        let file = &self.writer.inner().file;
        file.sync_all().map_err(|e| Error::io("cannot fsync", &self.path, e))?;
        let len = file.metadata().map_err(|e| Error::io("cannot stat", &self.path, e))?.len();
        Ok(len)
    }

    /// Our error for a failure of the parquet writer: an I/O failure of the file names the path
    /// and the action; anything else is an encoding error.
    fn error(&mut self, action: &str, e: ParquetError) -> Error {
        match self.writer.inner_mut().error.take() {
            Some(io) => Error::io(action, &self.path, io),
            None => Error::Parquet(e),
        }
    }
}

/// The file under the parquet writer. The parquet crate turns I/O errors into text; this keeps
/// the original so the sink can report it with the path.
struct FileOutput {
    file: File,
    error: Option<io::Error>,
}

impl FileOutput {
    fn keep<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        r.map_err(|e| {
            let copy = io::Error::new(e.kind(), e.to_string());
            self.error.get_or_insert(e);
            copy
        })
    }
}

impl Write for FileOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.file.write(buf);
        self.keep(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.file.flush();
        self.keep(r)
    }
}
