//! [`ObjectSink`]: record batches in, Parquet objects in a bucket out, with the same encoder,
//! options, file rolling and schema checks as [`super::ParquetSink`].
//!
//! A store has no rename, so the files of a run are never written under a temporary name:
//! each is uploaded, as the encoder produces it, under a name of its own run
//! (`<prefix>-<run id>-NNNNN.parquet`) that no earlier run used and that no manifest names
//! yet. An object becomes visible only when its multipart upload completes (after its footer),
//! so it is whole or absent. Which objects make up the table is decided by the manifest the
//! job writes after [`ObjectSink::finish`] (see `job/lake.rs`); until then, nothing a reader
//! of the manifest sees has changed.
//!
//! Memory: one file is open at a time, and its upload holds at most
//! `(PARTS_IN_FLIGHT + 1) x PART_SIZE` bytes besides the row group being encoded (which a local
//! file buffers the same way); the whole file is never in memory.

use std::path::PathBuf;
use std::sync::Arc;

use ::parquet::file::properties::WriterProperties;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::encoder::{EncoderPool, FileEncoder, FileSpec};
use super::options::ParquetOptions;
use super::writer::{check_schema, layout, thread_count, to_layout, with_schema, writer_properties};
use super::CommittedFile;
use crate::error::{Error, Result};
use crate::store::Store;

/// The object being written.
struct OpenObject {
    name: String,
    encoder: FileEncoder,
    rows: u64,
}

/// Writes record batches as `<prefix>-<run id>-NNNNN.parquet` objects under a store's prefix.
/// See the [module documentation](self).
pub struct ObjectSink {
    store: Arc<Store>,
    schema: SchemaRef,
    options: ParquetOptions,
    props: WriterProperties,
    layout: Option<Box<(WriterProperties, Vec<usize>)>>,
    pool: Option<EncoderPool>,
    run_id: String,
    /// Folder of the objects under the store's prefix (`key=value/...`, ending in `/`), or "".
    folder: String,
    next_index: u64,
    current: Option<OpenObject>,
    /// Complete objects of this run, in order, and their names under the store's prefix.
    written: Vec<CommittedFile>,
    names: Vec<String>,
    rows_written: u64,
    failed: Option<String>,
    /// Finished or aborted.
    done: bool,
}

impl std::fmt::Debug for ObjectSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectSink")
            .field("store", &self.store.url())
            .field("run_id", &self.run_id)
            .field("rows_written", &self.rows_written)
            .finish()
    }
}

impl ObjectSink {
    /// Prepares to write `schema` under `store`'s prefix, naming the objects after `run_id`
    /// (which must be unique to this run). Nothing is sent before the first batch.
    pub fn create(store: Arc<Store>, schema: SchemaRef, options: ParquetOptions, run_id: &str) -> Result<Self> {
        Self::create_in(store, schema, options, run_id, "")
    }

    /// Like [`create`](Self::create), with the objects in `folder` under the prefix (a
    /// partition's `key=value/...` path, ending in `/`; "" for none).
    pub fn create_in(
        store: Arc<Store>,
        schema: SchemaRef,
        options: ParquetOptions,
        run_id: &str,
        folder: &str,
    ) -> Result<Self> {
        options.validate()?;
        let props = writer_properties(&options)?;
        ::parquet::arrow::ArrowSchemaConverter::new()
            .convert(&schema)
            .map_err(|e| Error::Schema(format!("this schema cannot be written as Parquet: {e}")))?;
        Ok(ObjectSink {
            store,
            schema,
            options,
            props,
            layout: None,
            pool: None,
            run_id: run_id.to_string(),
            folder: folder.to_string(),
            next_index: 0,
            current: None,
            written: Vec::new(),
            names: Vec::new(),
            rows_written: 0,
            failed: None,
            done: false,
        })
    }

    /// The name of this run's object `index`: `<prefix>-<run id>-NNNNN.parquet`.
    pub fn object_name(prefix: &str, run_id: &str, index: u64) -> String {
        format!("{prefix}-{run_id}-{index:05}.parquet")
    }

    /// Encodes and uploads a batch, rolling to new objects as the limits require. Errors as
    /// [`super::ParquetSink::write`].
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.check_usable()?;
        check_schema(&self.schema, batch)?;
        let converted;
        let same_types = batch.columns().iter().zip(self.schema.fields()).all(|(c, f)| c.data_type() == f.data_type());
        let batch = if same_types {
            batch
        } else {
            converted = to_layout(&self.schema, batch)?;
            &converted
        };
        let result = self.write_rows(batch);
        if let Err(e) = &result {
            self.failed = Some(e.to_string());
        }
        result
    }

    /// Completes the last object (with no rows at all, writes one holding only the schema) and
    /// returns every object of the run, in order. They are in the store now, but no manifest
    /// names them yet. On error, this run's objects are deleted (best effort).
    pub fn finish(mut self) -> Result<Vec<CommittedFile>> {
        self.check_usable()?;
        let result = self.close_current().and_then(|()| {
            if self.written.is_empty() {
                self.open_next(None)?;
                self.close_current()?;
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                self.done = true;
                Ok(std::mem::take(&mut self.written))
            }
            Err(e) => {
                self.discard();
                Err(e)
            }
        }
    }

    /// Discards the run: aborts the open upload and deletes the objects already complete.
    /// Dropping the sink without [`finish`](Self::finish) does the same.
    pub fn abort(mut self) {
        self.discard();
    }

    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Completes the open object (its upload, footer included) and stops the encoder threads,
    /// so that the sink holds no buffers; the next write starts a new object.
    pub(crate) fn close_file(&mut self) -> Result<()> {
        self.check_usable()?;
        let result = self.close_current();
        self.pool = None;
        if let Err(e) = &result {
            self.failed = Some(e.to_string());
        }
        result
    }

    /// Whether an object is open (being uploaded).
    pub(crate) fn has_open_file(&self) -> bool {
        self.current.is_some()
    }

    fn check_usable(&self) -> Result<()> {
        match &self.failed {
            Some(msg) => {
                Err(Error::Internal(format!("the Parquet writer cannot continue after an earlier error: {msg}")))
            }
            None => Ok(()),
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
            let current = self.current.as_mut().expect("an object is open");
            let pool = self.pool.as_mut().expect("the pool is started with the first object");
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

    fn open_next(&mut self, first: Option<&RecordBatch>) -> Result<()> {
        if self.layout.is_none() {
            self.layout = Some(Box::new(layout(&self.schema, &self.options, &self.props, first)));
        }
        if self.pool.is_none() {
            let fields = self.schema.fields().len();
            self.pool = Some(EncoderPool::new(thread_count(self.options.threads).min(fields))?);
        }
        let (props, lane_of) = *self.layout.clone().expect("decided above");
        let name =
            format!("{}{}", self.folder, Self::object_name(&self.options.file_prefix, &self.run_id, self.next_index));
        let upload = self.store.upload(&name)?;
        let exact_sizes = self.options.max_bytes_per_file.is_some();
        let encoder =
            FileEncoder::to_object(upload, FileSpec { schema: self.schema.clone(), props, lane_of, exact_sizes })?;
        self.next_index += 1;
        self.current = Some(OpenObject { name, encoder, rows: 0 });
        Ok(())
    }

    /// Writes the footer of the open object and completes its upload.
    fn close_current(&mut self) -> Result<()> {
        let Some(object) = self.current.take() else { return Ok(()) };
        let pool = self.pool.as_mut().expect("the pool is started with the first object");
        // On error the encoder (and its upload, which aborts when dropped) is gone.
        let bytes = object.encoder.finish(pool)?;
        let path = PathBuf::from(self.store.object_url(&object.name));
        self.written.push(CommittedFile { path, rows: object.rows, bytes });
        self.names.push(object.name);
        Ok(())
    }

    fn discard(&mut self) {
        // Dropping the encoder aborts its upload.
        drop(self.current.take());
        self.written.clear();
        for name in self.names.drain(..) {
            if let Err(e) = self.store.delete(&name) {
                log::debug!("{e}");
            }
        }
        self.done = true;
    }
}

impl Drop for ObjectSink {
    fn drop(&mut self) {
        if !self.done {
            self.discard();
        }
    }
}
