//! [`PartitionedSink`]: record batches in, Hive-partitioned Parquet files out
//! (`<base>/country=FR/ingest_date=2026-12-03/part-00000.parquet`), on local disk or in a
//! bucket, with the same encoder, rolling and commit as the unpartitioned sinks.
//!
//! - **Layout.** Each row goes to the folder `key=value/...` of its partition columns, in the
//!   order they are listed. Values are written as text (dates `YYYY-MM-DD`, numbers as
//!   decimals, booleans `true`/`false`) and escaped as Hive and pyarrow do: `%XX` for `"`, `#`,
//!   `%`, `'`, `*`, `/`, `:`, `=`, `?`, `\`, `[`, `]`, `^`, `{`, control characters and DEL. A
//!   null (or empty) value is written `__HIVE_DEFAULT_PARTITION__`, which readers turn back
//!   into a null. The partition columns are not stored inside the files, as in Hive's and
//!   pyarrow's partitioned datasets: readers take them from the folder names.
//! - **`ingest_date`** is virtual: the run's date, the same for every row, whether or not the
//!   data has such a column (see [`PartitionColumn::Fixed`]).
//! - **Each partition has its own sink** ([`ParquetSink`] in its folder, or [`ObjectSink`]
//!   under its key prefix), so files roll by `max_rows_per_file` and
//!   `parquet_target_size_mb` per partition and are numbered per partition.
//! - **Bounded open files.** At most `max_open_partitions` partitions have a file open at
//!   once. When a row arrives for another partition, the least recently written partition's
//!   file is completed (footer written, fsynced; still a temp file, or a complete object no
//!   manifest names) and its encoder threads stopped; a later row of that partition starts a
//!   new part. Never an error: memory is bounded by the open files (each buffers one row group,
//!   and on object storage an upload of at most 24 MiB), not by the number of partitions.
//! - **Commit.** Local: every partition's files are completed first ([`seal`](Self::seal)),
//!   then [`finish`](Self::finish) renames them into place partition by partition and, in
//!   overwrite mode, deletes the parts of every other partition folder (and of the base
//!   folder) that this run did not write, and the folders left empty. A failed run deletes its
//!   temp files and the folders it created: the base folder is as it was. Object storage: the
//!   objects are complete when `finish` returns and the job's manifest makes them visible.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::SchemaRef;

use super::commit;
use super::options::{ParquetOptions, WriteMode};
use super::writer::{check_schema, SealedPart};
use super::{CommittedFile, ObjectSink, ParquetSink, StagedFile};
use crate::error::{Error, Result};
use crate::store::Store;

/// The folder value of a null or empty partition value, as Hive and pyarrow write it.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// The name of the virtual partition column holding the run's date.
pub const INGEST_DATE: &str = "ingest_date";

/// One partition column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionColumn {
    /// A column of the data: its values are the folder names, and it is left out of the files.
    Data(String),
    /// A value that is the same for every row of the run and is not in the data
    /// (`ingest_date`: the run's date).
    Fixed { name: String, value: String },
}

impl PartitionColumn {
    pub fn name(&self) -> &str {
        match self {
            PartitionColumn::Data(n) | PartitionColumn::Fixed { name: n, .. } => n,
        }
    }
}

/// The partition columns of a job, in folder order: `ingest_date` is [`PartitionColumn::Fixed`]
/// with `ingest_date` (the run's date, `YYYY-MM-DD`), every other name a data column.
pub fn partition_columns(names: &[String], ingest_date: &str) -> Vec<PartitionColumn> {
    names
        .iter()
        .map(|n| match n.as_str() {
            INGEST_DATE => PartitionColumn::Fixed { name: n.clone(), value: ingest_date.to_string() },
            _ => PartitionColumn::Data(n.clone()),
        })
        .collect()
}

/// Today's date in the machine's local time zone (`TZ`), `YYYY-MM-DD`: what the Dativo platform
/// writes as `ingest_date` (Python's `datetime.date.today()`).
pub fn local_date_today() -> String {
    #[cfg(unix)]
    {
        // SAFETY: time(NULL) and localtime_r into a zeroed tm that we own.
        unsafe {
            let now = libc::time(std::ptr::null_mut());
            let mut tm: libc::tm = std::mem::zeroed();
            if !libc::localtime_r(&now, &mut tm).is_null() {
                return format!("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
            }
        }
    }
    utc_date_today()
}

/// Today's date in UTC, `YYYY-MM-DD`.
fn utc_date_today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `text` escaped for a folder name as Hive (`FileUtils.escapePathName`) and pyarrow do.
pub fn escape_path_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let escape =
            matches!(c, '"' | '#' | '%' | '\'' | '*' | '/' | ':' | '=' | '?' | '\\' | '[' | ']' | '^' | '{' | '\u{7f}')
                || (c as u32) < 0x20;
        if escape {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The folder of one partition value: escaped, or [`NULL_PARTITION`] for a null or empty one.
fn folder_value(value: Option<&str>) -> String {
    match value {
        None | Some("") => NULL_PARTITION.to_string(),
        Some(v) => escape_path_part(v),
    }
}

/// Whether a folder name is a partition folder (`key=value`).
pub(crate) fn is_partition_folder(name: &str) -> bool {
    !name.starts_with('.') && name.split_once('=').is_some_and(|(k, _)| !k.is_empty())
}

/// Where the partitions' files go.
enum Backend {
    /// `base/<partition>/`: a [`ParquetSink`] per folder.
    Local {
        base: PathBuf,
        /// Folders this run created (parents first), removed again if the run fails.
        created: Vec<PathBuf>,
    },
    /// `<prefix>/<partition>/` in a bucket: an [`ObjectSink`] per folder.
    Object { store: Arc<Store>, run_id: String },
}

enum PartSink {
    Local(Box<ParquetSink>),
    Object(Box<ObjectSink>),
}

impl PartSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            PartSink::Local(s) => s.write(batch),
            PartSink::Object(s) => s.write(batch),
        }
    }

    fn close_file(&mut self) -> Result<()> {
        match self {
            PartSink::Local(s) => s.close_file(),
            PartSink::Object(s) => s.close_file(),
        }
    }

    fn has_open_file(&self) -> bool {
        match self {
            PartSink::Local(s) => s.has_open_file(),
            PartSink::Object(s) => s.has_open_file(),
        }
    }
}

/// One partition: its folder (`key=value/...`, relative to the base) and its sink.
struct Slot {
    folder: String,
    sink: PartSink,
    /// When it was last written (a counter), for choosing what to close.
    last_used: u64,
}

/// Writes record batches as Hive-partitioned Parquet files. See the [module documentation](self).
pub struct PartitionedSink {
    backend: Backend,
    columns: Vec<PartitionColumn>,
    /// For each [`PartitionColumn::Data`], its index in the input schema (None for fixed ones).
    data_index: Vec<Option<usize>>,
    /// The input's columns that go into the files.
    keep: Vec<usize>,
    input_schema: SchemaRef,
    file_schema: SchemaRef,
    options: ParquetOptions,
    slots: Vec<Slot>,
    by_folder: HashMap<String, usize>,
    /// Slots with an open file.
    open: Vec<usize>,
    clock: u64,
    rows_written: u64,
    done: bool,
}

impl std::fmt::Debug for PartitionedSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionedSink")
            .field("columns", &self.columns)
            .field("partitions", &self.slots.len())
            .field("rows_written", &self.rows_written)
            .finish()
    }
}

impl PartitionedSink {
    /// Prepares to write batches of `schema` into partition folders of `base` (created if
    /// missing). Removes what crashed runs left in its partition folders (their temp files).
    /// Nothing visible changes until [`finish`](Self::finish).
    pub fn create_local(
        base: &Path,
        schema: SchemaRef,
        columns: Vec<PartitionColumn>,
        options: ParquetOptions,
    ) -> Result<Self> {
        let mut sink = Self::new(schema, columns, options)?;
        fs::create_dir_all(base).map_err(|e| Error::io("cannot create directory", base, e))?;
        remove_stale(base, &sink.options.file_prefix)?;
        sink.backend = Backend::Local { base: base.to_path_buf(), created: Vec::new() };
        Ok(sink)
    }

    /// Prepares to write batches of `schema` as objects under `store`'s prefix, in partition
    /// folders, named after `run_id` (unique to this run).
    pub fn create_object(
        store: Arc<Store>,
        schema: SchemaRef,
        columns: Vec<PartitionColumn>,
        options: ParquetOptions,
        run_id: &str,
    ) -> Result<Self> {
        let mut sink = Self::new(schema, columns, options)?;
        sink.backend = Backend::Object { store, run_id: run_id.to_string() };
        Ok(sink)
    }

    fn new(schema: SchemaRef, columns: Vec<PartitionColumn>, options: ParquetOptions) -> Result<Self> {
        options.validate()?;
        if columns.is_empty() {
            return Err(Error::Config("partitioning: no partition columns".into()));
        }
        let available = || schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ");
        let mut data_index = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            if columns[..i].iter().any(|c| c.name() == column.name()) {
                return Err(Error::Config(format!("partitioning lists `{}` twice", column.name())));
            }
            data_index.push(match column {
                PartitionColumn::Data(name) => Some(schema.index_of(name).map_err(|_| {
                    Error::Config(format!(
                        "partitioning: column `{name}` is not in the data (its columns: {}); partition by \
                         columns of the data, or by ingest_date (the run's date)",
                        available()
                    ))
                })?),
                PartitionColumn::Fixed { name, .. } => {
                    if schema.index_of(name).is_ok() {
                        return Err(Error::Config(format!(
                            "partitioning: `{name}` is the run's date (as on the Dativo platform), but the data has \
                             a column of that name too; rename the column, or partition by another one"
                        )));
                    }
                    None
                }
            });
        }
        let keep: Vec<usize> = (0..schema.fields().len()).filter(|i| !data_index.contains(&Some(*i))).collect();
        if keep.is_empty() {
            return Err(Error::Config(format!(
                "partitioning by every column ({}) leaves no column to write in the files",
                available()
            )));
        }
        let file_schema = Arc::new(schema.project(&keep)?);
        Ok(PartitionedSink {
            backend: Backend::Local { base: PathBuf::new(), created: Vec::new() },
            columns,
            data_index,
            keep,
            input_schema: schema,
            file_schema,
            options,
            slots: Vec::new(),
            by_folder: HashMap::new(),
            open: Vec::new(),
            clock: 0,
            rows_written: 0,
            done: false,
        })
    }

    /// Keeps the partition columns inside the files too (Iceberg tables want every column in
    /// their data files; the folders stay as they are). Call before the first write.
    pub fn with_partition_columns_in_files(mut self) -> Self {
        self.keep = (0..self.input_schema.fields().len()).collect();
        self.file_schema = self.input_schema.clone();
        self
    }

    /// The schema of the files: the input's without the partition columns.
    pub fn file_schema(&self) -> &SchemaRef {
        &self.file_schema
    }

    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Partitions written so far.
    pub fn partitions(&self) -> usize {
        self.slots.len()
    }

    /// Splits a batch by partition and writes each share to its partition's sink. Errors as
    /// [`ParquetSink::write`].
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        check_schema(&self.input_schema, batch)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let (folders, rows) = self.split(batch)?;
        let files = batch.project(&self.keep)?;
        if folders.len() == 1 {
            return self.write_to(&folders[0], &files);
        }
        for (folder, indices) in folders.iter().zip(rows) {
            let indices = UInt32Array::from(indices);
            let share = arrow_select::take::take_record_batch(&files, &indices)?;
            self.write_to(folder, &share)?;
        }
        Ok(())
    }

    /// The partition folders of `batch`, in order of first appearance, and each one's rows.
    fn split(&self, batch: &RecordBatch) -> Result<(Vec<String>, Vec<Vec<u32>>)> {
        let options = FormatOptions::default();
        let mut formatters = Vec::with_capacity(self.columns.len());
        for index in &self.data_index {
            formatters.push(match index {
                Some(i) => {
                    let column = batch.column(*i);
                    Some((column.clone(), ArrayFormatter::try_new(column.as_ref(), &options)?))
                }
                None => None,
            });
        }
        let mut folders: Vec<String> = Vec::new();
        let mut rows: Vec<Vec<u32>> = Vec::new();
        let mut index_of: HashMap<String, usize> = HashMap::new();
        let mut folder = String::new();
        let mut text = String::new();
        for row in 0..batch.num_rows() {
            folder.clear();
            for (column, formatter) in self.columns.iter().zip(&formatters) {
                folder.push_str(&escape_path_part(column.name()));
                folder.push('=');
                match (column, formatter) {
                    (PartitionColumn::Fixed { value, .. }, _) => folder.push_str(&folder_value(Some(value))),
                    (_, Some((array, formatter))) => {
                        if array.is_null(row) {
                            folder.push_str(NULL_PARTITION);
                        } else {
                            use std::fmt::Write;
                            text.clear();
                            write!(text, "{}", formatter.value(row))
                                .map_err(|e| Error::Internal(format!("cannot format a partition value: {e}")))?;
                            folder.push_str(&folder_value(Some(&text)));
                        }
                    }
                    (PartitionColumn::Data(_), None) => unreachable!("a data column has an index"),
                }
                folder.push('/');
            }
            match index_of.get(folder.as_str()) {
                Some(&g) => rows[g].push(row as u32),
                None => {
                    index_of.insert(folder.clone(), folders.len());
                    folders.push(folder.clone());
                    rows.push(vec![row as u32]);
                }
            }
        }
        Ok((folders, rows))
    }

    fn write_to(&mut self, folder: &str, batch: &RecordBatch) -> Result<()> {
        let slot = match self.by_folder.get(folder) {
            Some(&s) => s,
            None => self.add_slot(folder)?,
        };
        if !self.slots[slot].sink.has_open_file() {
            while self.open.len() >= self.options.max_open_partitions {
                self.close_least_recent()?;
            }
        }
        self.clock += 1;
        let entry = &mut self.slots[slot];
        entry.last_used = self.clock;
        entry.sink.write(batch)?;
        let open_now = entry.sink.has_open_file();
        let listed = self.open.iter().position(|&s| s == slot);
        match (open_now, listed) {
            (true, None) => self.open.push(slot),
            (false, Some(at)) => {
                self.open.swap_remove(at);
            }
            _ => {}
        }
        self.rows_written += batch.num_rows() as u64;
        Ok(())
    }

    /// Completes the open file of the partition written least recently.
    fn close_least_recent(&mut self) -> Result<()> {
        let Some((at, &slot)) = self.open.iter().enumerate().min_by_key(|(_, &s)| self.slots[s].last_used) else {
            return Ok(());
        };
        self.open.swap_remove(at);
        log::debug!(
            "partition {}: file completed ({} partitions open at most)",
            self.slots[slot].folder,
            self.options.max_open_partitions
        );
        self.slots[slot].sink.close_file()
    }

    fn add_slot(&mut self, folder: &str) -> Result<usize> {
        let sink = match &mut self.backend {
            Backend::Local { base, created } => {
                let dir = base.join(folder.trim_end_matches('/'));
                // Record the folders about to be created, parents first.
                let mut missing = Vec::new();
                let mut d = dir.as_path();
                while d != base.as_path() && !d.exists() {
                    missing.push(d.to_path_buf());
                    match d.parent() {
                        Some(p) => d = p,
                        None => break,
                    }
                }
                created.extend(missing.into_iter().rev());
                PartSink::Local(Box::new(ParquetSink::create(&dir, self.file_schema.clone(), self.options.clone())?))
            }
            Backend::Object { store, run_id } => PartSink::Object(Box::new(ObjectSink::create_in(
                store.clone(),
                self.file_schema.clone(),
                self.options.clone(),
                run_id,
                folder,
            )?)),
        };
        self.slots.push(Slot { folder: folder.to_string(), sink, last_used: 0 });
        self.by_folder.insert(folder.to_string(), self.slots.len() - 1);
        Ok(self.slots.len() - 1)
    }

    /// Completes every partition's files (local: footers written, fsynced, still temp files)
    /// without publishing anything, and returns them named by their path under the base
    /// (`country=FR/part-00000.parquet`). Object storage: nothing to do before `finish` (and
    /// no parts returned).
    pub fn seal(&mut self) -> Result<Vec<SealedPart>> {
        let mut parts = Vec::new();
        for slot in &mut self.slots {
            if let PartSink::Local(sink) = &mut slot.sink {
                let folder = slot.folder.trim_end_matches('/');
                parts
                    .extend(sink.seal()?.into_iter().map(|p| SealedPart { name: format!("{folder}/{}", p.name), ..p }));
            }
        }
        self.open.clear();
        Ok(parts)
    }

    /// Publishes every partition's files and returns them (paths under the base folder, or
    /// object URLs), partition by partition in order of first appearance. Local, overwrite
    /// mode: then deletes the parts of the base folder and of every partition folder this run
    /// did not write, and partition folders left empty. A run without rows writes no file.
    pub fn finish(mut self) -> Result<Vec<CommittedFile>> {
        let slots = std::mem::take(&mut self.slots);
        let mut files = Vec::new();
        let mut written = Vec::new();
        let mut result = Ok(());
        let mut rest = slots.into_iter();
        for slot in rest.by_ref() {
            let finished = match slot.sink {
                PartSink::Local(sink) => sink.finish(),
                PartSink::Object(sink) => sink.finish(),
            };
            match finished {
                Ok(mut f) => {
                    written.push(slot.folder);
                    files.append(&mut f);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(rest); // the sinks not finished discard their files
        if let Err(e) = result {
            if let Backend::Object { store, .. } = &self.backend {
                // Complete objects of this run that no manifest will name.
                for f in &files {
                    if let Some(name) = f.path.to_str().and_then(|p| p.strip_prefix(&format!("{}/", store.url()))) {
                        let _ = store.delete(name);
                    }
                }
            }
            return Err(e);
        }
        self.done = true;
        if let Backend::Local { base, created } = &self.backend {
            for dir in created {
                if let Some(parent) = dir.parent() {
                    commit::sync_dir(parent)?;
                }
            }
            if self.options.write_mode == WriteMode::Overwrite {
                let keep: Vec<PathBuf> = written.iter().map(|f| base.join(f.trim_end_matches('/'))).collect();
                remove_other_partitions(base, &self.options.file_prefix, &keep)?;
            }
        }
        Ok(files)
    }

    /// Finishes the files without publishing them (`parquet::staged`); each [`StagedFile`]'s
    /// final name is its path under the base (`country=FR/part-…-00000.parquet`). Local: each
    /// partition's files are staged in their folder, for
    /// [`publish_staged`](super::publish_staged); the folders stay, nothing is visible, and on
    /// failure nothing stays staged. Objects: completed (as by [`finish`](Self::finish)), their
    /// URL the staged path; no manifest names them until the committer's.
    pub fn stage(mut self) -> Result<Vec<StagedFile>> {
        if let Backend::Object { store, .. } = &self.backend {
            let base = format!("{}/", store.url());
            let staged = self.finish()?.into_iter().map(|f| {
                let path = f.path.to_string_lossy().into_owned();
                let final_name = path.strip_prefix(&base).unwrap_or(&path).to_string();
                StagedFile { temp_path: f.path, final_name, rows: f.rows, bytes: f.bytes }
            });
            return Ok(staged.collect());
        }
        self.open.clear();
        let mut staged = Vec::new();
        let mut result = Ok(());
        for slot in std::mem::take(&mut self.slots) {
            let PartSink::Local(sink) = slot.sink else { continue };
            let folder = slot.folder.trim_end_matches('/').to_string();
            match sink.stage() {
                Ok(files) => staged.extend(
                    files.into_iter().map(|f| StagedFile { final_name: format!("{folder}/{}", f.final_name), ..f }),
                ),
                Err(e) => {
                    result = Err(e);
                    break; // the slots not staged yet discard their temps when dropped
                }
            }
        }
        if let Err(e) = result {
            for file in &staged {
                commit::remove_quietly(&file.temp_path);
            }
            self.discard();
            return Err(e);
        }
        self.done = true;
        // The new folders' entries are durable with the staged files in them.
        if let Backend::Local { created, .. } = &self.backend {
            for dir in created {
                if let Some(parent) = dir.parent() {
                    commit::sync_dir(parent)?;
                }
            }
        }
        Ok(staged)
    }

    /// Discards the run: every partition's temp files (or objects) are deleted, and the folders
    /// this run created. Dropping the sink without `finish` does the same.
    pub fn abort(mut self) {
        self.discard();
    }

    fn discard(&mut self) {
        // Each sink deletes its temp files (or objects) when dropped.
        self.slots.clear();
        self.open.clear();
        if let Backend::Local { created, .. } = &mut self.backend {
            for dir in created.drain(..).rev() {
                let _ = fs::remove_dir(&dir);
            }
        }
        self.done = true;
    }
}

impl Drop for PartitionedSink {
    fn drop(&mut self) {
        if !self.done {
            self.discard();
        }
    }
}

/// The partition folders under `base`, deepest first.
pub(crate) fn partition_folders(base: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![base.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for name in commit::list_names(&dir)? {
            let path = dir.join(&name);
            if is_partition_folder(&name) && path.is_dir() {
                stack.push(path.clone());
                found.push(path);
            }
        }
    }
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    Ok(found)
}

/// Removes what crashed runs left in the partition folders under `base`: their temp files
/// of `prefix` (those of processes that no longer run). Folders left empty stay: another
/// writer of the folder (a distributed run's other tasks, with prefixes of their own) may
/// have just created one it is about to write into; an overwrite's commit removes them.
pub(crate) fn remove_stale(base: &Path, prefix: &str) -> Result<()> {
    for dir in partition_folders(base)? {
        ParquetSink::remove_stale_temps(&dir, prefix)?;
    }
    Ok(())
}

/// Overwrite: deletes the parts of `base` and of the partition folders not in `keep`, then the
/// partition folders left empty.
pub(crate) fn remove_other_partitions(base: &Path, prefix: &str, keep: &[PathBuf]) -> Result<()> {
    let none = std::collections::HashSet::new();
    if commit::remove_other_parts(base, prefix, &none)? {
        commit::sync_dir(base)?;
    }
    for dir in partition_folders(base)? {
        if !keep.contains(&dir) && commit::remove_other_parts(&dir, prefix, &none)? {
            commit::sync_dir(&dir)?;
        }
        if commit::list_names(&dir)?.is_empty() {
            let _ = fs::remove_dir(&dir);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_as_hive_does() {
        assert_eq!(escape_path_part("FR"), "FR");
        assert_eq!(escape_path_part("a/b=c%d"), "a%2Fb%3Dc%25d");
        assert_eq!(escape_path_part("x:y\n\u{7f}"), "x%3Ay%0A%7F");
        assert_eq!(escape_path_part("São Paulo"), "São Paulo");
        assert_eq!(folder_value(None), NULL_PARTITION);
        assert_eq!(folder_value(Some("")), NULL_PARTITION);
        assert!(is_partition_folder("country=FR"));
        assert!(!is_partition_folder("=FR"));
        assert!(!is_partition_folder(".country=FR"));
    }

    #[test]
    fn dates_are_iso() {
        let d = utc_date_today();
        assert_eq!(d.len(), 10);
        assert_eq!(&d[4..5], "-");
        let l = local_date_today();
        assert_eq!(l.len(), 10);
    }
}
