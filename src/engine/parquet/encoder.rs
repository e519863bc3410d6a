//! Encoding of one Parquet file (on disk, or an object being uploaded: see [`Output`]), with the columns of each row group encoded on several threads.
//!
//! [`FileEncoder`] is the only place that turns record batches into Parquet bytes. The sink
//! decides *which* file rows go to and *when* a file is committed; the encoder only encodes.
//!
//! # Threads
//!
//! An [`EncoderPool`] (one per sink, so threads live as long as the sink, not one spawn per
//! batch or per file) has a number of *lanes*. Each lane owns a fixed subset of the columns of
//! the row group being written (their arrow-rs [`ArrowColumnWriter`]s), chosen by the sink to
//! balance the expected cost (see [`assign_lanes`]). A batch goes to every lane as a
//! [`RecordBatch`] clone (reference-counted buffers, nothing is copied); each lane encodes its
//! own columns of it. Lane 0 runs inline on the calling thread (after handing the batch to
//! the other lanes), the others on their own threads; with one lane, nothing is spawned.
//!
//! At a row-group boundary (every `max_row_group_row_count` rows, as `ArrowWriter` does, a batch
//! being split at the boundary), every lane closes its column writers and hands the encoded
//! chunks back; the calling thread appends them to the file in column order. Each column
//! writer sees exactly the same values in the same order whatever the number of lanes and
//! whatever the thread timing, so the file is byte-for-byte the same with 1 or N threads.
//!
//! # Memory
//!
//! Lane queues are rendezvous channels ([`LANE_QUEUE`]): a lane thread holds at most the batch
//! it is encoding, so at most two batches are in flight (the one being handed out and the one
//! the slowest lane is finishing) beyond the one row group of encoded data that every Parquet
//! writer buffers.
//!
//! # Sizes
//!
//! After each batch a lane publishes the estimated encoded size of its buffered columns
//! (`ArrowColumnWriter::get_estimated_total_bytes`). [`FileEncoder::estimated_size`] adds the
//! bytes already in the file. When the sink rolls files by size, it creates the encoder with
//! `exact_sizes`: each write then waits until every lane has encoded the batch, so the estimate
//! (and the roll decision, and the output) does not depend on thread timing. Otherwise the
//! estimate, only used for progress, may lag by the batches still queued.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use ::parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use ::parquet::arrow::ArrowWriter;
use ::parquet::errors::ParquetError;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::writer::SerializedFileWriter;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use crossbeam_channel::{bounded, Receiver, Sender};

use super::early_sync::EarlySync;
use crate::error::{Error, Result};
use crate::store::ObjectUpload;

/// Jobs a lane thread may have queued besides the one it works on. 0 (a rendezvous) keeps
/// memory lowest and measured as fast as 1 or 2 on the reference job.
const LANE_QUEUE: usize = 0;

/// The column writers of the fields a lane owns: (field index, writers of the field's leaves).
type Columns = Vec<(usize, Vec<ArrowColumnWriter>)>;
/// Encoded chunks of the fields of a lane: (field index, chunks of the field's leaves).
type Chunks = Vec<(usize, Vec<ArrowColumnChunk>)>;

enum Job {
    /// Start a row group with these column writers (dropping any left from an abandoned file).
    Open(SchemaRef, Columns),
    /// Encode the lane's columns of the batch.
    Write(RecordBatch),
    /// Close the column writers and send the chunks back.
    Close(Sender<std::result::Result<Chunks, ParquetError>>),
    /// Reply once every earlier job is done.
    Sync(Sender<()>),
}

/// What a lane publishes for the calling thread.
#[derive(Default)]
struct LaneShared {
    /// Estimated encoded bytes of the buffered columns.
    encoded: AtomicUsize,
    /// A write failed; the error is returned at the next `Close`.
    failed: AtomicBool,
}

/// The state of a lane: the column writers of the current row group.
struct LaneState {
    schema: Option<SchemaRef>,
    columns: Columns,
    error: Option<ParquetError>,
    shared: Arc<LaneShared>,
}

impl LaneState {
    fn new() -> Self {
        LaneState { schema: None, columns: Vec::new(), error: None, shared: Arc::default() }
    }

    fn run(&mut self, job: Job) {
        match job {
            Job::Open(schema, columns) => {
                self.schema = Some(schema);
                self.columns = columns;
                self.error = None;
                self.shared.failed.store(false, Ordering::Release);
                self.shared.encoded.store(0, Ordering::Release);
            }
            Job::Write(batch) => {
                if self.error.is_none() {
                    if let Err(e) = self.write(&batch) {
                        self.error = Some(e);
                        self.shared.failed.store(true, Ordering::Release);
                    }
                }
                let encoded = self.columns.iter().flat_map(|(_, w)| w).map(|w| w.get_estimated_total_bytes()).sum();
                self.shared.encoded.store(encoded, Ordering::Release);
            }
            Job::Close(reply) => {
                // A failed send means the encoder is gone: nothing to do.
                let _ = reply.send(self.close());
            }
            Job::Sync(reply) => {
                let _ = reply.send(());
            }
        }
    }

    fn write(&mut self, batch: &RecordBatch) -> std::result::Result<(), ParquetError> {
        let schema = self.schema.as_ref().ok_or_else(|| ParquetError::General("no row group is open".into()))?;
        for (field, writers) in &mut self.columns {
            let leaves = compute_leaves(schema.field(*field), batch.column(*field))?;
            for (leaf, writer) in leaves.iter().zip(writers.iter_mut()) {
                writer.write(leaf)?;
            }
        }
        Ok(())
    }

    fn close(&mut self) -> std::result::Result<Chunks, ParquetError> {
        let columns = std::mem::take(&mut self.columns);
        self.shared.encoded.store(0, Ordering::Release);
        self.shared.failed.store(false, Ordering::Release);
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        columns
            .into_iter()
            .map(|(field, writers)| {
                Ok((field, writers.into_iter().map(|w| w.close()).collect::<std::result::Result<_, _>>()?))
            })
            .collect()
    }
}

enum Lane {
    /// Encodes on the calling thread.
    Inline(LaneState),
    /// Encodes on its own thread.
    Thread { jobs: Option<Sender<Job>>, handle: Option<JoinHandle<()>>, shared: Arc<LaneShared> },
}

impl Lane {
    fn shared(&self) -> &LaneShared {
        match self {
            Lane::Inline(state) => &state.shared,
            Lane::Thread { shared, .. } => shared,
        }
    }

    fn send(&mut self, job: Job) -> Result<()> {
        match self {
            Lane::Inline(state) => {
                state.run(job);
                Ok(())
            }
            Lane::Thread { jobs, .. } => jobs.as_ref().and_then(|j| j.send(job).ok()).ok_or_else(lane_died),
        }
    }
}

fn lane_died() -> Error {
    Error::Internal("a Parquet encoder thread stopped unexpectedly (it panicked)".into())
}

/// Threads that encode columns, shared by the files of one sink. See the module documentation.
pub(crate) struct EncoderPool {
    lanes: Vec<Lane>,
}

impl EncoderPool {
    /// A pool of `lanes` lanes (at least 1); with one lane, encoding runs on the calling thread.
    pub(crate) fn new(lanes: usize) -> Result<Self> {
        let lanes = lanes.max(1);
        let mut pool = EncoderPool { lanes: Vec::with_capacity(lanes) };
        pool.lanes.push(Lane::Inline(LaneState::new()));
        for i in 1..lanes {
            let (tx, rx): (Sender<Job>, Receiver<Job>) = bounded(LANE_QUEUE);
            let mut state = LaneState::new();
            let shared = state.shared.clone();
            let handle = std::thread::Builder::new()
                .name(format!("dativo-parquet-{i}"))
                .spawn(move || {
                    for job in rx {
                        state.run(job);
                    }
                })
                .map_err(|e| Error::thread_start("a Parquet encoder thread", e))?;
            pool.lanes.push(Lane::Thread { jobs: Some(tx), handle: Some(handle), shared });
        }
        Ok(pool)
    }

    /// Number of lanes.
    pub(crate) fn lanes(&self) -> usize {
        self.lanes.len()
    }

    fn encoded(&self) -> usize {
        self.lanes.iter().map(|l| l.shared().encoded.load(Ordering::Acquire)).sum()
    }

    fn failed(&self) -> bool {
        self.lanes.iter().any(|l| l.shared().failed.load(Ordering::Acquire))
    }

    /// Waits until every lane has done every job sent so far.
    fn sync(&mut self) -> Result<()> {
        let mut replies = Vec::new();
        for lane in &mut self.lanes {
            if let Lane::Thread { .. } = lane {
                let (tx, rx) = bounded(1);
                lane.send(Job::Sync(tx))?;
                replies.push(rx);
            }
        }
        for rx in replies {
            rx.recv().map_err(|_| lane_died())?;
        }
        Ok(())
    }
}

impl Drop for EncoderPool {
    fn drop(&mut self) {
        for lane in &mut self.lanes {
            if let Lane::Thread { jobs, .. } = lane {
                jobs.take(); // the thread's loop ends
            }
        }
        for lane in &mut self.lanes {
            if let Lane::Thread { handle, .. } = lane {
                if let Some(h) = handle.take() {
                    let _ = h.join();
                }
            }
        }
    }
}

/// Assigns fields to `lanes` lanes, balancing `costs` (one per field): the most expensive field
/// first, each to the least loaded lane (ties: the lowest lane). Returns the lane of each field.
pub(crate) fn assign_lanes(costs: &[u64], lanes: usize) -> Vec<usize> {
    let lanes = lanes.max(1);
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].cmp(&costs[a]).then(a.cmp(&b)));
    let mut load = vec![0u64; lanes];
    let mut lane_of = vec![0; costs.len()];
    for field in order {
        let lane = (0..lanes).min_by_key(|&l| (load[l], l)).unwrap_or(0);
        load[lane] += costs[field].max(1);
        lane_of[field] = lane;
    }
    lane_of
}

/// What every file of a sink is encoded with: the schema, the properties, the lane of each
/// field of `schema` (see [`assign_lanes`]) and whether sizes must be exact (see the module
/// documentation).
pub(crate) struct FileSpec {
    pub(crate) schema: SchemaRef,
    pub(crate) props: WriterProperties,
    pub(crate) lane_of: Vec<usize>,
    pub(crate) exact_sizes: bool,
}

/// A file being encoded: a new file at `path` receiving batches, until [`FileEncoder::finish`].
pub(crate) struct FileEncoder {
    writer: SerializedFileWriter<FileOutput>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    path: PathBuf,
    /// The lane of each field.
    lane_of: Vec<usize>,
    /// Number of Parquet leaf columns of each field.
    leaves_of: Vec<usize>,
    max_group_rows: usize,
    /// Rows in the open row group; 0 when none is open.
    group_rows: usize,
    /// Wait for every lane after each write, so sizes are exact (see the module documentation).
    exact_sizes: bool,
    /// Flushes finished row groups to disk in the background (see `early_sync`).
    early_sync: Option<EarlySync>,
}

impl FileEncoder {
    /// Creates `path` (it must not exist) and writes the Parquet header.
    pub(crate) fn create(path: &Path, spec: FileSpec) -> Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io("cannot create", path, e))?;
        let early_sync = EarlySync::start(&file);
        let encoder = Self::start(Output::File(file), path, spec);
        if encoder.is_err() {
            let _ = std::fs::remove_file(path);
        }
        encoder.map(|e| FileEncoder { early_sync, ..e })
    }

    /// Like [`create`](Self::create), with the bytes going to a multipart upload instead of a
    /// file (`upload.url()` names it in messages); [`finish`](Self::finish) completes it.
    pub(crate) fn to_object(upload: ObjectUpload, spec: FileSpec) -> Result<Self> {
        let path = PathBuf::from(upload.url());
        Self::start(Output::Object(Box::new(upload)), &path, spec)
    }

    fn start(out: Output, path: &Path, spec: FileSpec) -> Result<Self> {
        let FileSpec { schema, props, lane_of, exact_sizes } = spec;
        let output = FileOutput { out, error: None };
        let max_group_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        // ArrowWriter writes the header and the arrow schema metadata exactly as a
        // single-threaded writer would; its low-level parts do the rest.
        let (writer, factory) =
            ArrowWriter::try_new(output, schema.clone(), Some(props)).and_then(|w| w.into_serialized_writer())?;
        let descr = writer.schema_descr();
        let mut leaves_of = vec![0; schema.fields().len()];
        for leaf in 0..descr.num_columns() {
            leaves_of[descr.get_column_root_idx(leaf)] += 1;
        }
        debug_assert_eq!(lane_of.len(), schema.fields().len());
        Ok(FileEncoder {
            writer,
            factory,
            schema,
            path: path.to_path_buf(),
            lane_of,
            leaves_of,
            max_group_rows,
            group_rows: 0,
            exact_sizes,
            early_sync: None,
        })
    }

    /// Encodes a batch (its schema has been checked by the caller).
    pub(crate) fn write(&mut self, pool: &mut EncoderPool, batch: &RecordBatch) -> Result<()> {
        let mut rest = batch.clone();
        while rest.num_rows() > 0 {
            if self.group_rows == 0 {
                self.open_group(pool)?;
            }
            let take = (self.max_group_rows - self.group_rows).min(rest.num_rows());
            let part = if take == rest.num_rows() { rest.clone() } else { rest.slice(0, take) };
            // Threads first, then the inline lane 0 while they work.
            for lane in pool.lanes.iter_mut().rev() {
                lane.send(Job::Write(part.clone()))?;
            }
            self.group_rows += take;
            rest = rest.slice(take, rest.num_rows() - take);
            if self.group_rows >= self.max_group_rows {
                self.close_group(pool)?;
            }
        }
        if self.exact_sizes {
            pool.sync()?;
        }
        if pool.failed() {
            // Report a failed write now rather than at the end of the row group.
            self.close_group(pool)?;
        }
        Ok(())
    }

    /// Bytes the file has now, plus the estimated encoded size of the buffered row group.
    pub(crate) fn estimated_size(&self, pool: &EncoderPool) -> u64 {
        (self.writer.bytes_written() + if self.group_rows > 0 { pool.encoded() } else { 0 }) as u64
    }

    /// Writes the last row group and the footer, and fsyncs the file. Returns its size.
    pub(crate) fn finish(mut self, pool: &mut EncoderPool) -> Result<u64> {
        if self.group_rows > 0 {
            self.close_group(pool)?;
        }
        let r = self.writer.finish();
        r.map_err(|e| self.error("cannot write", e))?;
        if let Some(e) = self.early_sync.take().and_then(EarlySync::finish) {
            return Err(Error::io("cannot fsync", &self.path, e));
        }
        match &mut self.writer.inner_mut().out {
            Output::File(file) => {
                file.sync_all().map_err(|e| Error::io("cannot fsync", &self.path, e))?;
                Ok(file.metadata().map_err(|e| Error::io("cannot stat", &self.path, e))?.len())
            }
            // The commit point of the object.
            Output::Object(upload) => upload.complete(),
        }
    }

    /// Creates the column writers of the next row group and hands them to their lanes.
    fn open_group(&mut self, pool: &mut EncoderPool) -> Result<()> {
        let index = self.writer.flushed_row_groups().len();
        let mut writers = self.factory.create_column_writers(index)?.into_iter();
        let mut per_lane: Vec<Columns> = (0..pool.lanes()).map(|_| Vec::new()).collect();
        for (field, &n) in self.leaves_of.iter().enumerate() {
            let leaf_writers: Vec<_> = writers.by_ref().take(n).collect();
            per_lane[self.lane_of[field] % pool.lanes()].push((field, leaf_writers));
        }
        for (lane, columns) in pool.lanes.iter_mut().zip(per_lane) {
            lane.send(Job::Open(self.schema.clone(), columns))?;
        }
        Ok(())
    }

    /// Closes the column writers of every lane and appends the chunks in column order.
    fn close_group(&mut self, pool: &mut EncoderPool) -> Result<()> {
        self.group_rows = 0;
        let mut replies = Vec::with_capacity(pool.lanes());
        for lane in pool.lanes.iter_mut().rev() {
            let (tx, rx) = bounded(1);
            lane.send(Job::Close(tx))?;
            replies.push(rx);
        }
        let mut by_field: Vec<Option<Vec<ArrowColumnChunk>>> = (0..self.leaves_of.len()).map(|_| None).collect();
        let mut first_error = None;
        for rx in replies {
            match rx.recv().map_err(|_| lane_died())? {
                Ok(chunks) => {
                    for (field, c) in chunks {
                        by_field[field] = Some(c);
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(Error::Parquet(e));
        }
        let r = (|| {
            let mut group = self.writer.next_row_group()?;
            for chunks in by_field {
                let chunks = chunks.ok_or_else(|| ParquetError::General("a column chunk is missing".into()))?;
                for chunk in chunks {
                    chunk.append_to_row_group(&mut group)?;
                }
            }
            group.close().map(|_| ())
        })();
        r.map_err(|e| self.error("cannot write", e))?;
        if let Some(sync) = &self.early_sync {
            sync.request();
        }
        Ok(())
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

/// Where the encoded bytes go: a file, or an object being uploaded.
enum Output {
    File(File),
    Object(Box<ObjectUpload>),
}

/// The file (or object) under the parquet writer. The parquet crate turns I/O errors into
/// text; this keeps the original so the sink can report it with the path.
struct FileOutput {
    out: Output,
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
        let r = match &mut self.out {
            Output::File(file) => file.write(buf),
            Output::Object(upload) => upload.write(buf),
        };
        self.keep(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = match &mut self.out {
            Output::File(file) => file.flush(),
            Output::Object(upload) => upload.flush(),
        };
        self.keep(r)
    }
}

#[cfg(test)]
mod tests {
    use super::assign_lanes;

    #[test]
    fn lanes_are_balanced_by_cost() {
        assert_eq!(assign_lanes(&[10, 1, 1, 8], 2), vec![0, 1, 1, 1]);
        assert_eq!(assign_lanes(&[5, 5, 5], 1), vec![0, 0, 0]);
        assert_eq!(assign_lanes(&[1, 1, 1], 4), vec![0, 1, 2]);
        assert_eq!(assign_lanes(&[], 2), Vec::<usize>::new());
    }
}
