//! [`RollingFiles`]: the part of a sink that does not depend on where its files go, shared by
//! [`super::ParquetSink`] (local temp files) and [`super::ObjectSink`] (object uploads).
//!
//! It checks and converts batches, splits them across files by `max_rows_per_file` and
//! `max_bytes_per_file`, decides the per-column layout from the first batch, owns the encoder
//! threads, and keeps the open file, the complete ones and the failed state. Where a file goes
//! (its name, how it is created, how an incomplete or a complete one is removed) is the
//! [`Destination`]'s; what "commit" means stays with each sink.
//!
//! The sink is generic over its destination, so nothing here is dispatched dynamically, and the
//! per-batch path (schema check, [`FileEncoder::write`]) is the one both sinks had before.

use ::parquet::file::properties::WriterProperties;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::encoder::{EncoderPool, FileEncoder, FileSpec};
use super::options::ParquetOptions;
use super::writer::{check_schema, layout, thread_count, to_layout, with_schema, writer_properties};
use crate::error::{Error, Result};

/// Where the files of a sink go.
pub(super) trait Destination {
    /// What names one file there: a temp path, an object name.
    type File;

    /// Starts file `index` of `prefix`: where it goes, and its encoder writing there (with the
    /// header written).
    fn open(&self, prefix: &str, index: u64, spec: FileSpec) -> Result<(Self::File, FileEncoder)>;

    /// Cleans up after a file that will never be complete (its encoder, already dropped, failed
    /// to finish, or the run is discarded while it is open).
    fn abandon(&self, file: Self::File);

    /// Removes a complete file: the run is discarded.
    fn remove(&self, file: Self::File);
}

/// The file being written.
struct OpenFile<F> {
    index: u64,
    file: F,
    encoder: FileEncoder,
    rows: u64,
}

/// A complete file (footer written).
pub(super) struct ClosedFile<F> {
    pub(super) index: u64,
    pub(super) file: F,
    pub(super) rows: u64,
    pub(super) bytes: u64,
}

/// Record batches in, numbered files rolled by rows or bytes out, at a [`Destination`]. Dropped,
/// it removes every file it still holds (the open one and the complete ones): a sink publishes
/// its files by taking them ([`take_closed`](Self::take_closed)) first.
pub(super) struct RollingFiles<D: Destination> {
    pub(super) dest: D,
    schema: SchemaRef,
    options: ParquetOptions,
    /// Properties from the options alone; `layout` adds the per-column choices.
    props: WriterProperties,
    /// Properties and lane of each field for every file, decided from the first batch.
    layout: Option<Box<(WriterProperties, Vec<usize>)>>,
    /// Encoder threads, started with the first file.
    pool: Option<EncoderPool>,
    next_index: u64,
    current: Option<OpenFile<D::File>>,
    closed: Vec<ClosedFile<D::File>>,
    rows_written: u64,
    bytes_closed: u64,
    /// Set when a write failed: the sink's files may be inconsistent, so it refuses more work.
    failed: Option<String>,
}

/// Checks the options and that `schema` can be written as Parquet; returns the writer
/// properties of the options.
pub(super) fn properties(schema: &SchemaRef, options: &ParquetOptions) -> Result<WriterProperties> {
    options.validate()?;
    let props = writer_properties(options)?;
    ::parquet::arrow::ArrowSchemaConverter::new()
        .convert(schema)
        .map_err(|e| Error::Schema(format!("this schema cannot be written as Parquet: {e}")))?;
    Ok(props)
}

impl<D: Destination> RollingFiles<D> {
    /// `props` from [`properties`]; the first file is numbered `next_index`.
    pub(super) fn new(
        dest: D,
        schema: SchemaRef,
        options: ParquetOptions,
        props: WriterProperties,
        next_index: u64,
    ) -> Self {
        RollingFiles {
            dest,
            schema,
            options,
            props,
            layout: None,
            pool: None,
            next_index,
            current: None,
            closed: Vec::new(),
            rows_written: 0,
            bytes_closed: 0,
            failed: None,
        }
    }

    pub(super) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub(super) fn options(&self) -> &ParquetOptions {
        &self.options
    }

    pub(super) fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Sizes of the complete files plus the open file's size and an estimate of its buffered
    /// row group.
    pub(super) fn bytes_written(&self) -> u64 {
        let current = self.current.as_ref().zip(self.pool.as_ref());
        self.bytes_closed + current.map_or(0, |(c, pool)| c.encoder.estimated_size(pool))
    }

    /// Files written: the complete ones and the open one.
    pub(super) fn file_count(&self) -> usize {
        self.closed.len() + self.current.is_some() as usize
    }

    pub(super) fn has_open_file(&self) -> bool {
        self.current.is_some()
    }

    /// The complete files, in order.
    pub(super) fn closed(&self) -> &[ClosedFile<D::File>] {
        &self.closed
    }

    /// The complete files, in order, which the sink now owns: dropping `self` no longer removes
    /// them.
    pub(super) fn take_closed(&mut self) -> Vec<ClosedFile<D::File>> {
        std::mem::take(&mut self.closed)
    }

    /// Fails unless every earlier operation succeeded.
    pub(super) fn check_usable(&self) -> Result<()> {
        match &self.failed {
            Some(msg) => {
                Err(Error::Internal(format!("the Parquet writer cannot continue after an earlier error: {msg}")))
            }
            None => Ok(()),
        }
    }

    /// `result`, remembering an error as the failed state.
    pub(super) fn record<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.failed = Some(e.to_string());
        }
        result
    }

    /// [`super::ParquetSink::write`]: encodes a batch, rolling to new files as the limits
    /// require.
    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.check_usable()?;
        check_schema(&self.schema, batch)?;
        // Only string/binary layouts can differ here (check_schema allowed nothing else); a
        // batch of the sink's types, the usual case, passes through untouched.
        let converted;
        let same_types = batch.columns().iter().zip(self.schema.fields()).all(|(c, f)| c.data_type() == f.data_type());
        let batch = if same_types {
            batch
        } else {
            converted = to_layout(&self.schema, batch)?;
            &converted
        };
        let result = self.write_rows(batch);
        self.record(result)
    }

    /// Completes the open file and stops the encoder threads, so that the sink holds no
    /// buffers; the next write opens a new file.
    pub(super) fn close_file(&mut self) -> Result<()> {
        self.check_usable()?;
        let result = self.close_current();
        self.pool = None;
        self.record(result)
    }

    /// Completes the open file; with no file at all, writes one holding only the schema (so
    /// readers of the output still see it). Idempotent. Does not touch the failed state.
    pub(super) fn close_all(&mut self) -> Result<()> {
        self.close_current()?;
        if self.closed.is_empty() {
            self.open_next(None)?;
            self.close_current()?;
        }
        Ok(())
    }

    /// Removes every file still held: the open one and the complete ones. Idempotent.
    pub(super) fn discard(&mut self) {
        if let Some(OpenFile { file, encoder, .. }) = self.current.take() {
            drop(encoder); // close the handle (or abort the upload) before removing
            self.dest.abandon(file);
        }
        for closed in self.closed.drain(..) {
            self.dest.remove(closed.file);
        }
    }

    fn write_rows(&mut self, batch: &RecordBatch) -> Result<()> {
        let batch = &with_schema(&self.schema, batch)?;
        let total = batch.num_rows() as u64;
        let max_rows = self.options.max_rows_per_file;
        let max_bytes = self.options.max_bytes_per_file;
        let mut offset = 0u64;
        while offset < total {
            if self.current.is_none() {
                self.open_next(Some(batch))?;
            }
            let current = self.current.as_mut().expect("a file is open");
            let pool = self.pool.as_mut().expect("the pool is started with the first file");
            let room = max_rows.map_or(u64::MAX, |m| m - current.rows);
            let take = room.min(total - offset);
            if take == total {
                current.encoder.write(pool, batch)?;
            } else {
                current.encoder.write(pool, &batch.slice(offset as usize, take as usize))?;
            }
            current.rows += take;
            self.rows_written += take;
            offset += take;

            let rows_full = max_rows.is_some_and(|m| current.rows >= m);
            let bytes_full = max_bytes.is_some_and(|m| current.encoder.estimated_size(pool) >= m);
            if rows_full || bytes_full {
                self.close_current()?;
            }
        }
        Ok(())
    }

    /// Opens the next file. The first call decides the per-column properties and the threads'
    /// shares from `first` (the batch about to be written; `None` for a run without rows).
    fn open_next(&mut self, first: Option<&RecordBatch>) -> Result<()> {
        if self.layout.is_none() {
            self.layout = Some(Box::new(layout(&self.schema, &self.options, &self.props, first)));
        }
        if self.pool.is_none() {
            let fields = self.schema.fields().len();
            self.pool = Some(EncoderPool::new(thread_count(self.options.threads).min(fields))?);
        }
        let (props, lane_of) = *self.layout.clone().expect("decided above");
        let index = self.next_index;
        let exact_sizes = self.options.max_bytes_per_file.is_some();
        let spec = FileSpec { schema: self.schema.clone(), props, lane_of, exact_sizes };
        let (file, encoder) = self.dest.open(&self.options.file_prefix, index, spec)?;
        self.next_index += 1;
        self.current = Some(OpenFile { index, file, encoder, rows: 0 });
        Ok(())
    }

    /// Writes the footer of the open file.
    fn close_current(&mut self) -> Result<()> {
        let Some(OpenFile { index, file, encoder, rows }) = self.current.take() else { return Ok(()) };
        let pool = self.pool.as_mut().expect("the pool is started with the first file");
        match encoder.finish(pool) {
            Ok(bytes) => {
                self.bytes_closed += bytes;
                self.closed.push(ClosedFile { index, file, rows, bytes });
                Ok(())
            }
            Err(e) => {
                self.dest.abandon(file);
                Err(e)
            }
        }
    }
}

impl<D: Destination> Drop for RollingFiles<D> {
    /// Removes the files not taken (see [`discard`](Self::discard)).
    fn drop(&mut self) {
        self.discard();
    }
}
