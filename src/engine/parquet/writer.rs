//! [`ParquetSink`]: record batches in, Parquet files committed atomically out.
//!
//! # What a reader of the output directory can see
//!
//! - **Never a partial file under a final name.** Every part is written as a hidden temp file in
//!   the output directory itself (`.<prefix>-NNNNN.parquet.<pid>.tmp`, which does not end in
//!   `.parquet`, so `*.parquet` globs and Parquet readers skip it). When a part is complete its
//!   footer is written and it is fsynced, and it stays a temp file.
//! - **A run's output appears together, at [`ParquetSink::finish`].** Only `finish` renames the
//!   temps to their final names `<prefix>-NNNNN.parquet` (a rename in one directory replaces an
//!   existing file of that name atomically), then fsyncs the directory so the renames survive a
//!   power loss. Then, in [`WriteMode::Overwrite`] (the default), it deletes the other
//!   `<prefix>-NNNNN.parquet` files of the directory — parts of an earlier, bigger run — and
//!   fsyncs the directory again. In [`WriteMode::Append`] numbering starts after the highest
//!   existing part, so nothing is replaced or deleted.
//! - **A failed run changes nothing visible.** An error before the renames, [`ParquetSink::abort`],
//!   dropping the sink without `finish`, or a crash, leaves the directory's final files exactly as
//!   they were; the sink deletes its temp files (a crash leaves them, and the next sink created on
//!   the same directory and prefix deletes them).
//!
//! Limits: the renames of one run are atomic one by one, not as a group. A crash (or a failing
//! rename) *during* `finish`'s rename phase, which lasts microseconds per file, can leave some new
//! parts next to old ones; running the job again repairs it. Only one sink may write a given
//! directory and prefix at a time (enforced within one process).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use ::parquet::basic::Encoding;
use ::parquet::file::properties::{EnabledStatistics, WriterProperties};
use ::parquet::schema::types::ColumnPath;
use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Schema, SchemaRef};

use super::commit::{self, DirLock};
use super::encoder::{assign_lanes, FileEncoder, FileSpec};
use super::options::{ParquetOptions, WriteMode};
use super::rolling::{self, Destination, RollingFiles};
use super::staged::{self, StagedFile};
use super::{compressibility, dictionary};
use crate::error::{Error, Result};

/// A Parquet file that [`ParquetSink::finish`] made visible under its final name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommittedFile {
    /// Final path: the sink's directory joined with `<prefix>-NNNNN.parquet`.
    pub path: PathBuf,
    /// Rows in the file.
    pub rows: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// A complete temp file that [`ParquetSink::finish`] will publish: what [`ParquetSink::seal`]
/// returns, so a caller can record what is about to become visible before it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedPart {
    /// The final file name (in the sink's directory): `<prefix>-NNNNN.parquet`.
    pub name: String,
    pub rows: u64,
    pub bytes: u64,
}

/// Where a [`ParquetSink`]'s files go: hidden temp files in its directory.
struct LocalDir {
    dir: PathBuf,
    pid: u32,
}

impl Destination for LocalDir {
    /// The temp file's path.
    type File = PathBuf;

    fn open(&self, prefix: &str, index: u64, spec: FileSpec) -> Result<(PathBuf, FileEncoder)> {
        let temp = self.dir.join(commit::temp_name(prefix, index, self.pid));
        let encoder = FileEncoder::create(&temp, spec)?;
        Ok((temp, encoder))
    }

    fn abandon(&self, temp: PathBuf) {
        commit::remove_quietly(&temp);
    }

    fn remove(&self, temp: PathBuf) {
        commit::remove_quietly(&temp);
    }
}

/// Writes record batches to `<prefix>-NNNNN.parquet` files in one directory, rolling to a new
/// file by row count or size, and commits them atomically at [`finish`](ParquetSink::finish).
/// See the [module documentation](self) for the exact guarantees.
pub struct ParquetSink {
    /// The files, and the temp files they are until `finish`; dropped, it deletes the temps.
    files: RollingFiles<LocalDir>,
    _lock: DirLock,
}

impl std::fmt::Debug for ParquetSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSink")
            .field("dir", &self.files.dest.dir)
            .field("options", self.files.options())
            .field("rows_written", &self.files.rows_written())
            .field("files", &self.files.file_count())
            .finish()
    }
}

impl ParquetSink {
    /// Prepares to write `schema` into `dir`, creating `dir` (and its parents) if missing.
    ///
    /// Checks the options and that the schema can be written as Parquet, and removes temp files
    /// that crashed runs left in `dir` for this prefix (only names of our temp pattern, and only
    /// those of processes that no longer run). Nothing visible in `dir` changes until
    /// [`finish`](Self::finish).
    pub fn create(dir: &Path, schema: SchemaRef, options: ParquetOptions) -> Result<Self> {
        let props = rolling::properties(&schema, &options)?;

        fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
        let canonical = fs::canonicalize(dir).map_err(|e| Error::io("cannot resolve directory", dir, e))?;
        let lock = DirLock::acquire(&canonical, &options.file_prefix)?;
        commit::remove_stale_temps(dir, &options.file_prefix)?;
        let next_index = match options.write_mode {
            WriteMode::Overwrite => 0,
            WriteMode::Append => commit::highest_part(dir, &options.file_prefix)?.map_or(0, |h| h + 1),
        };

        let dest = LocalDir { dir: dir.to_path_buf(), pid: std::process::id() };
        Ok(ParquetSink { files: RollingFiles::new(dest, schema, options, props, next_index), _lock: lock })
    }

    /// The schema every batch must have.
    pub fn schema(&self) -> &SchemaRef {
        self.files.schema()
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        &self.files.dest.dir
    }

    /// Encodes a batch, rolling to new files as the limits require (a batch is split across
    /// files so that `max_rows_per_file` is exact).
    ///
    /// The batch must have the sink's columns (names, types, in order); a column that is
    /// non-nullable in the batch may be nullable in the sink. A mismatch is an
    /// [`Error::Schema`] and leaves the sink usable. Any other error leaves the sink unusable:
    /// drop or [`abort`](Self::abort) it.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.files.write(batch)
    }

    /// Commits every file written (see the [module documentation](self)) and returns them in
    /// order. A run with no rows commits one file holding only the schema.
    ///
    /// On error, temp files not yet renamed are deleted; if the error came before the first
    /// rename (anything but a failing rename, directory fsync or stale-part deletion), the
    /// directory's visible content is unchanged.
    pub fn finish(mut self) -> Result<Vec<CommittedFile>> {
        self.files.check_usable()?;
        let result = self.commit();
        self.files.record(result)
    }

    /// Completes every file (footer written, fsynced) without publishing anything, and returns
    /// the parts [`finish`](Self::finish) will publish, in order. Nothing visible changes. A
    /// caller records them (e.g. in incremental state) between `seal` and `finish`; after `seal`
    /// only `finish`, `abort` or drop are meaningful. An error leaves the sink unusable.
    pub fn seal(&mut self) -> Result<Vec<SealedPart>> {
        self.files.check_usable()?;
        let result = self.seal_files();
        self.files.record(result)
    }

    /// Completes every file (as [`seal`](Self::seal)) and hands them over as staged files that
    /// outlive the sink: each is renamed to a hidden, attempt-unique staged name in the
    /// directory (fsynced), for [`publish_staged`](super::staged::publish_staged) to publish,
    /// possibly from another process. Nothing visible changes. On error the files staged so
    /// far are removed again and nothing is left behind. See [`super::staged`].
    pub fn stage(mut self) -> Result<Vec<StagedFile>> {
        self.files.check_usable()?;
        let result = self.stage_files();
        self.files.record(result)
    }

    /// Removes the temp files that crashed runs left in `dir` for `prefix` (as
    /// [`create`](Self::create) does), without creating a sink: for prefixes no sink of this run
    /// will write. Fails if a sink of this process is writing `dir` with `prefix`.
    pub fn remove_stale_temps(dir: &Path, prefix: &str) -> Result<()> {
        let canonical = match fs::canonicalize(dir) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("cannot resolve directory", dir, e)),
        };
        let _lock = DirLock::acquire(&canonical, prefix)?;
        commit::remove_stale_temps(dir, prefix)
    }

    /// Discards the run: deletes every temp file; the directory's visible content is unchanged.
    /// Dropping the sink without calling [`finish`](Self::finish) does the same.
    pub fn abort(mut self) {
        self.files.discard();
    }

    /// Rows accepted so far.
    pub fn rows_written(&self) -> u64 {
        self.files.rows_written()
    }

    /// Bytes encoded so far, for progress: sizes of the completed files plus the current file's
    /// size and an estimate of its buffered row group.
    pub fn bytes_written(&self) -> u64 {
        self.files.bytes_written()
    }

    /// Completes the open file (footer written, fsynced; it stays a temp file until `finish`)
    /// and stops the encoder threads, so that the sink holds no buffers; the next write opens
    /// a new file. For writers that keep many sinks and only a few files open at once.
    pub(crate) fn close_file(&mut self) -> Result<()> {
        self.files.close_file()
    }

    /// Whether a file is open (being written).
    pub(crate) fn has_open_file(&self) -> bool {
        self.files.has_open_file()
    }

    /// Closes the open file; with no file at all, writes one holding only the schema (so
    /// readers of the output still see it). Idempotent.
    fn seal_files(&mut self) -> Result<Vec<SealedPart>> {
        self.files.close_all()?;
        let prefix = &self.files.options().file_prefix;
        Ok(self
            .files
            .closed()
            .iter()
            .map(|f| SealedPart { name: commit::final_name(prefix, f.index), rows: f.rows, bytes: f.bytes })
            .collect())
    }

    fn stage_files(&mut self) -> Result<Vec<StagedFile>> {
        self.seal_files()?;
        let dir = &self.files.dest.dir;
        // Absolute, so that a committer in another working directory finds the files.
        let canonical = fs::canonicalize(dir).map_err(|e| Error::io("cannot resolve directory", dir, e))?;
        let prefix = &self.files.options().file_prefix;
        let nonce = staged::nonce();
        let mut staged = Vec::with_capacity(self.files.closed().len());
        for file in self.files.closed() {
            let final_name = commit::final_name(prefix, file.index);
            let temp_path = canonical.join(staged::staged_name(&final_name, &nonce));
            if let Err(e) = commit::publish(&file.file, &temp_path) {
                // The temps not renamed yet go with the sink; the renamed ones go here.
                staged.iter().for_each(|s: &StagedFile| commit::remove_quietly(&s.temp_path));
                return Err(e);
            }
            staged.push(StagedFile { temp_path, final_name, rows: file.rows, bytes: file.bytes });
        }
        if let Err(e) = commit::sync_dir(&canonical) {
            staged.iter().for_each(|s| commit::remove_quietly(&s.temp_path));
            return Err(e);
        }
        // Handed over: nothing left for the drop to delete.
        self.files.take_closed();
        Ok(staged)
    }

    fn commit(&mut self) -> Result<Vec<CommittedFile>> {
        self.seal_files()?;

        let dir = &self.files.dest.dir;
        let options = self.files.options();
        let prefix = &options.file_prefix;
        let closed = self.files.closed();
        let mut committed = Vec::with_capacity(closed.len());
        for file in closed {
            let path = dir.join(commit::final_name(prefix, file.index));
            commit::publish(&file.file, &path)?;
            committed.push(CommittedFile { path, rows: file.rows, bytes: file.bytes });
        }
        commit::sync_dir(dir)?;

        if options.write_mode == WriteMode::Overwrite {
            let keep: HashSet<u64> = closed.iter().map(|f| f.index).collect();
            if commit::remove_other_parts(dir, prefix, &keep)? {
                commit::sync_dir(dir)?;
            }
        }
        // Published: nothing left for the drop to delete.
        self.files.take_closed();
        Ok(committed)
    }
}

/// Per-column encodings (see [`dictionary`]) and codecs (see [`compressibility`]), from `first`,
/// the first batch of the run (None for a run without rows), and each field's lane: the same
/// for every file of a sink.
pub(super) fn layout(
    schema: &SchemaRef,
    options: &ParquetOptions,
    props: &WriterProperties,
    first: Option<&RecordBatch>,
) -> (WriterProperties, Vec<usize>) {
    let fields = schema.fields();
    let lanes = thread_count(options.threads).min(fields.len()).max(1);
    let Some(batch) = first else {
        return (props.clone(), assign_lanes(&vec![1; fields.len()], lanes));
    };
    let choices = dictionary::choose(batch, options.row_group_size, props.dictionary_page_size_limit());
    let mut builder = props.clone().into_builder();
    for (field, choice) in fields.iter().zip(&choices) {
        let path = || ColumnPath::from(field.name().as_str());
        if let Some(enabled) = choice.dictionary {
            builder = builder.set_column_dictionary_enabled(path(), enabled);
        }
        if choice.delta {
            builder = builder.set_column_encoding(path(), Encoding::DELTA_BINARY_PACKED);
        }
    }
    let mut props = builder.build();
    if options.adaptive_compression {
        let plain = compressibility::incompressible(batch, &props);
        if !plain.is_empty() {
            let mut builder = props.into_builder();
            for path in plain {
                builder = builder.set_column_compression(path, ::parquet::basic::Compression::UNCOMPRESSED);
            }
            props = builder.build();
        }
    }
    let costs: Vec<u64> = choices.iter().map(|c| c.cost).collect();
    (props, assign_lanes(&costs, lanes))
}

/// Threads encoding columns, the calling thread included, for the `threads` option. 0 (auto):
/// one worker thread per available core plus the calling thread, which encodes a share of the
/// columns instead of only waiting for the workers. On the reference job (2 cores) 3 lanes
/// beat 2 (same wall time, ~30 MB less peak RSS): the encoder gets a larger share of the cores
/// it competes for with the CSV reader, so fewer batches wait in the pipeline's channel.
pub(super) fn thread_count(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()) + 1,
        n => n,
    }
}

/// Parquet writer properties of the options (which have been validated).
pub(super) fn writer_properties(options: &ParquetOptions) -> Result<WriterProperties> {
    let statistics = if options.statistics { EnabledStatistics::Page } else { EnabledStatistics::None };
    Ok(WriterProperties::builder()
        .set_compression(options.compression.to_parquet()?)
        .set_max_row_group_row_count(Some(options.row_group_size))
        .set_statistics_enabled(statistics)
        .set_created_by(format!("dativo {}", env!("CARGO_PKG_VERSION")))
        .build())
}

/// Checks that `batch` can be written under `schema`: same column count, names, types, in order,
/// and no nullable batch column where the sink's is non-nullable.
pub(super) fn check_schema(schema: &Schema, batch: &RecordBatch) -> Result<()> {
    check_input_schema(schema, batch.schema_ref(), "batch")
}

/// Whether data of schema `got` can be written to an output of schema `schema`: the same
/// columns (names, types, in order), where a column that is non-nullable in the data may be
/// nullable in the output. `what` names the data in the message ("batch", "stream", ...).
pub fn check_input_schema(schema: &Schema, got: &Schema, what: &str) -> Result<()> {
    let names = |s: &Schema| s.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ");
    if got.fields().len() != schema.fields().len() {
        return Err(Error::Schema(format!(
            "{what} does not match the Parquet output schema: it has {} columns ({}) but the output has {} ({})",
            got.fields().len(),
            names(got),
            schema.fields().len(),
            names(schema)
        )));
    }
    for (i, (g, w)) in got.fields().iter().zip(schema.fields()).enumerate() {
        let nullable_ok = w.is_nullable() || !g.is_nullable();
        let type_ok = g.data_type() == w.data_type() || same_values(g.data_type(), w.data_type());
        if g.name() != w.name() || !type_ok || !nullable_ok {
            let desc = |f: &arrow_schema::Field| {
                format!(
                    "`{}` {}{}",
                    f.name(),
                    f.data_type(),
                    if f.is_nullable() { " (nullable)" } else { " (not null)" }
                )
            };
            return Err(Error::Schema(format!(
                "{what} does not match the Parquet output schema: column {} is {} in the {what} but {} in the output",
                i + 1,
                desc(g),
                desc(w)
            )));
        }
    }
    Ok(())
}

/// Whether a column of type `got` holds the same values as one of type `want`, in another
/// layout: a string (or binary) column as a view or with 64-bit offsets, as polars and DuckDB
/// hand them out. Such a column is converted to the output's layout when written.
fn same_values(got: &DataType, want: &DataType) -> bool {
    use DataType::*;
    matches!(
        (got, want),
        (Utf8View | LargeUtf8 | Utf8, Utf8 | LargeUtf8 | Utf8View)
            | (BinaryView | LargeBinary | Binary, Binary | LargeBinary | BinaryView)
    )
}

/// `batch` with each column in the type of `schema`'s column (only layouts differ: see
/// [`same_values`]; the schemas were checked).
pub(super) fn to_layout(schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (column, field) in batch.columns().iter().zip(schema.fields()) {
        columns.push(if column.data_type() == field.data_type() {
            column.clone()
        } else {
            arrow_cast::cast(column, field.data_type())?
        });
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(schema.clone(), columns, &options)?)
}

/// The batch relabelled with the sink's schema (field metadata and nullability widened), so that
/// every file carries exactly the sink's schema.
pub(super) fn with_schema(schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    if **batch.schema_ref() == **schema {
        return Ok(batch.clone());
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(schema.clone(), batch.columns().to_vec(), &options)?)
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
