//! [`IcebergSink`]: the run's rows as Parquet data files under `<table location>/data/`,
//! written by the same sinks as every other target (local files or objects, rolled the same
//! way, Hive-style `key=value/` folders when partitioned), with two differences an Iceberg
//! table needs: every column, partition columns included, is stored in the files, each with
//! its table field id; and the virtual `ingest_date` column (the run's date) is a real `date`
//! column of the table. Files get names of their own run (`part-<run id>-NNNNN.parquet`) and
//! are only added, never replaced: older snapshots still name the files of earlier runs.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, Date32Array, RecordBatch};
use arrow_schema::SchemaRef;

use super::io;
use super::manifest::{DataFile, PartitionValue};
use super::schema::TableSchema;
use crate::parquet::partitioned::{PartitionColumn, NULL_PARTITION};
use crate::parquet::{CommittedFile, ObjectSink, ParquetOptions, ParquetSink, PartitionedSink, WriteMode};
use crate::store::{Store, StoreConfig};
use crate::{Error, Result};

enum Inner {
    Local(Box<ParquetSink>),
    Object(Box<ObjectSink>),
    Partitioned(Box<PartitionedSink>),
}

/// Writes a run's data files. See the [module documentation](self).
pub struct IcebergSink {
    inner: Inner,
    /// The files' schema (with field ids, and `ingest_date` when the table has it).
    schema: SchemaRef,
    /// The run's `ingest_date` (days since 1970-01-01), appended to every batch.
    ingest_date: Option<i32>,
}

/// Where the data files go: `<location>/data`.
pub(super) struct DataDir {
    /// The base of the files' names as the sinks report them (a path or `s3://...`).
    pub base: String,
    local: Option<PathBuf>,
    store: Option<Arc<Store>>,
}

impl DataDir {
    pub(super) fn of(location: &str, s3: Option<&StoreConfig>) -> Result<DataDir> {
        if let Some((bucket, key)) = io::split_s3(location) {
            let base = s3.ok_or_else(|| Error::Config(format!("{location}: no S3 connection for the data files")))?;
            let key = key.trim_matches('/');
            let prefix = if key.is_empty() { "data".to_string() } else { format!("{key}/data") };
            let config = StoreConfig { bucket: bucket.to_string(), prefix, ..base.clone() };
            let store = Arc::new(Store::connect(&config)?);
            return Ok(DataDir { base: store.url(), local: None, store: Some(store) });
        }
        let dir = io::local_path(location)
            .ok_or_else(|| Error::Config(format!("the Iceberg table location {location} is not usable")))?
            .join("data");
        Ok(DataDir { base: dir.display().to_string(), local: Some(dir), store: None })
    }
}

impl IcebergSink {
    /// A sink of batches of the run's schema; `schema` is the files' schema, `partitions` the
    /// spec's source columns, in order.
    pub(super) fn create(
        dir: &DataDir,
        schema: SchemaRef,
        partitions: &[String],
        ingest_date: Option<i32>,
        mut options: ParquetOptions,
        run_id: &str,
    ) -> Result<IcebergSink> {
        // Files are only ever added; what the table holds is decided by the snapshot.
        options.write_mode = WriteMode::Append;
        let columns: Vec<PartitionColumn> = partitions.iter().map(|p| PartitionColumn::Data(p.clone())).collect();
        let inner = match (&dir.local, &dir.store, columns.is_empty()) {
            (Some(local), _, true) => {
                options.file_prefix = format!("{}-{run_id}", options.file_prefix);
                Inner::Local(Box::new(ParquetSink::create(local, schema.clone(), options)?))
            }
            (Some(local), _, false) => {
                options.file_prefix = format!("{}-{run_id}", options.file_prefix);
                Inner::Partitioned(Box::new(
                    PartitionedSink::create_local(local, schema.clone(), columns, options)?
                        .with_partition_columns_in_files(),
                ))
            }
            (None, Some(store), true) => {
                Inner::Object(Box::new(ObjectSink::create(store.clone(), schema.clone(), options, run_id)?))
            }
            (None, Some(store), false) => Inner::Partitioned(Box::new(
                PartitionedSink::create_object(store.clone(), schema.clone(), columns, options, run_id)?
                    .with_partition_columns_in_files(),
            )),
            (None, None, _) => return Err(Error::Internal("an Iceberg data folder with no place".into())),
        };
        Ok(IcebergSink { inner, schema, ingest_date })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        if let Some(days) = self.ingest_date {
            columns.push(Arc::new(Date32Array::from_value(days, batch.num_rows())));
        }
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        match &mut self.inner {
            Inner::Local(s) => s.write(&batch),
            Inner::Object(s) => s.write(&batch),
            Inner::Partitioned(s) => s.write(&batch),
        }
    }

    /// Completes every file; they are in place, and no snapshot names them yet.
    pub fn finish(self) -> Result<Vec<CommittedFile>> {
        match self.inner {
            Inner::Local(mut s) => {
                s.seal()?;
                (*s).finish()
            }
            Inner::Object(s) => (*s).finish(),
            Inner::Partitioned(mut s) => {
                s.seal()?;
                (*s).finish()
            }
        }
    }

    pub fn abort(self) {
        match self.inner {
            Inner::Local(s) => (*s).abort(),
            Inner::Object(s) => (*s).abort(),
            Inner::Partitioned(s) => (*s).abort(),
        }
    }
}

/// `%XX` escapes of a partition folder undone.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Days since 1970-01-01 of `YYYY-MM-DD`.
pub(super) fn days_from_date(text: &str) -> Option<i32> {
    let mut parts = text.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    i32::try_from(era * 146_097 + doe - 719_468).ok()
}

/// The manifest's view of the run's files: absolute URIs, and the partition values read back
/// from each file's `key=value/` folders (typed by the table's columns).
pub(super) fn data_files(
    files: &[CommittedFile],
    dir: &DataDir,
    schema: &TableSchema,
    partitions: &[String],
) -> Result<Vec<DataFile>> {
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let path = file.path.display().to_string();
        let uri = if dir.local.is_some() { io::file_uri(&file.path) } else { path.clone() };
        let relative = path
            .strip_prefix(&dir.base)
            .map(|r| r.trim_start_matches('/'))
            .ok_or_else(|| Error::Internal(format!("data file {path} is not under {}", dir.base)))?;
        let folders: Vec<&str> = relative.split('/').collect();
        let folders = &folders[..folders.len().saturating_sub(1)];
        let mut partition = Vec::with_capacity(partitions.len());
        for name in partitions {
            let raw = folders
                .iter()
                .find_map(|f| f.split_once('=').filter(|(k, _)| unescape(k) == *name).map(|(_, v)| v))
                .ok_or_else(|| Error::Internal(format!("data file {path} has no folder for partition `{name}`")))?;
            let kind = schema.column(name).map_or("string", |c| c.kind.as_str());
            partition.push(partition_value(raw, kind, name, &path)?);
        }
        out.push(DataFile { path: uri, partition, record_count: file.rows, file_size_in_bytes: file.bytes });
    }
    Ok(out)
}

fn partition_value(raw: &str, kind: &str, name: &str, path: &str) -> Result<PartitionValue> {
    if raw == NULL_PARTITION {
        return Ok(PartitionValue::Null);
    }
    let text = unescape(raw);
    let bad = || Error::Internal(format!("data file {path}: partition `{name}` value '{text}' is not a {kind}"));
    Ok(match kind {
        "long" => PartitionValue::Long(text.parse().map_err(|_| bad())?),
        "int" => PartitionValue::Int(text.parse().map_err(|_| bad())?),
        "boolean" => PartitionValue::Boolean(text.parse().map_err(|_| bad())?),
        "date" => PartitionValue::Date(days_from_date(&text).ok_or_else(bad)?),
        _ => PartitionValue::String(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_escapes_read_back() {
        assert_eq!(days_from_date("1970-01-01"), Some(0));
        assert_eq!(days_from_date("2026-12-03"), Some(20_790));
        assert_eq!(days_from_date("1969-12-31"), Some(-1));
        assert_eq!(unescape("a%2Fb%3D"), "a/b=");
        assert_eq!(unescape("100%"), "100%");
    }
}
