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

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::encoder::{FileEncoder, FileSpec};
use super::options::ParquetOptions;
use super::rolling::{self, ClosedFile, Destination, RollingFiles};
use super::CommittedFile;
use crate::error::Result;
use crate::store::Store;

/// Where an [`ObjectSink`]'s files go: objects of this run in a folder under a store's prefix.
struct RunObjects {
    store: Arc<Store>,
    run_id: String,
    /// Folder of the objects under the store's prefix (`key=value/...`, ending in `/`), or "".
    folder: String,
}

impl Destination for RunObjects {
    /// The object's name under the store's prefix.
    type File = String;

    fn open(&self, prefix: &str, index: u64, spec: FileSpec) -> Result<(String, FileEncoder)> {
        let name = format!("{}{}", self.folder, ObjectSink::object_name(prefix, &self.run_id, index));
        let upload = self.store.upload(&name)?;
        let encoder = FileEncoder::to_object(upload, spec)?;
        Ok((name, encoder))
    }

    /// Nothing to do: dropping the encoder aborted its upload.
    fn abandon(&self, _name: String) {}

    fn remove(&self, name: String) {
        if let Err(e) = self.store.delete(&name) {
            log::debug!("{e}");
        }
    }
}

/// Writes record batches as `<prefix>-<run id>-NNNNN.parquet` objects under a store's prefix.
/// See the [module documentation](self).
pub struct ObjectSink {
    /// The objects of this run; dropped, it aborts the open upload and deletes the others.
    files: RollingFiles<RunObjects>,
}

impl std::fmt::Debug for ObjectSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectSink")
            .field("store", &self.files.dest.store.url())
            .field("run_id", &self.files.dest.run_id)
            .field("rows_written", &self.files.rows_written())
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
        let props = rolling::properties(&schema, &options)?;
        let dest = RunObjects { store, run_id: run_id.to_string(), folder: folder.to_string() };
        Ok(ObjectSink { files: RollingFiles::new(dest, schema, options, props, 0) })
    }

    /// The name of this run's object `index`: `<prefix>-<run id>-NNNNN.parquet`.
    pub fn object_name(prefix: &str, run_id: &str, index: u64) -> String {
        format!("{prefix}-{run_id}-{index:05}.parquet")
    }

    /// Encodes and uploads a batch, rolling to new objects as the limits require. Errors as
    /// [`super::ParquetSink::write`].
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.files.write(batch)
    }

    /// Completes the last object (with no rows at all, writes one holding only the schema) and
    /// returns every object of the run, in order. They are in the store now, but no manifest
    /// names them yet. On error, this run's objects are deleted (best effort).
    pub fn finish(mut self) -> Result<Vec<CommittedFile>> {
        self.files.check_usable()?;
        match self.files.close_all() {
            Ok(()) => {
                let closed = self.files.take_closed();
                let store = &self.files.dest.store;
                let committed = |f: ClosedFile<String>| CommittedFile {
                    path: PathBuf::from(store.object_url(&f.file)),
                    rows: f.rows,
                    bytes: f.bytes,
                };
                Ok(closed.into_iter().map(committed).collect())
            }
            Err(e) => {
                self.files.discard();
                Err(e)
            }
        }
    }

    /// Discards the run: aborts the open upload and deletes the objects already complete.
    /// Dropping the sink without [`finish`](Self::finish) does the same.
    pub fn abort(mut self) {
        self.files.discard();
    }

    pub fn rows_written(&self) -> u64 {
        self.files.rows_written()
    }

    /// Completes the open object (its upload, footer included) and stops the encoder threads,
    /// so that the sink holds no buffers; the next write starts a new object.
    pub(crate) fn close_file(&mut self) -> Result<()> {
        self.files.close_file()
    }

    /// Whether an object is open (being uploaded).
    pub(crate) fn has_open_file(&self) -> bool {
        self.files.has_open_file()
    }
}
