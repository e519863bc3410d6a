//! [`Output`]: a Parquet destination opened from a place and writer options, the way the C
//! API's `dativo_parquet_writer_open` (and every binding over it) names one: a local folder,
//! `s3://bucket/prefix` or an Iceberg table `iceberg:<namespace>.<table>`, and one options
//! object holding a job's `target.engine.options` keys, the object-store connection keys of
//! `target.connection.s3` (`endpoint`, `region`, `access_key_id`, `secret_access_key`,
//! `session_token`, `path_style_access`, `secure`), `partitioning` (Hive partition columns, the
//! virtual `ingest_date` included) and, for a table, `catalog` (a job's `target.catalog`
//! keys) and `branch`.
//!
//! The decision "which sink, which commit" is made here, once, from the same pieces a job
//! uses: [`ParquetSink`] or [`PartitionedSink`] on local disk (files renamed into place at
//! [`Output::finish`]), [`ObjectSink`] or [`PartitionedSink`] in a bucket, committed as a job
//! commits (`lake.rs`: objects complete first, the `_manifest.json` object last), or an
//! [`IcebergSink`] whose files one snapshot commits. An output dropped or
//! [`abort`](Output::abort)ed leaves nothing a reader sees.

use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde_yaml_ng::{Mapping, Value};

use super::lake::{self, LakeTable};
use super::options::writer_options_from_text;
use super::resolve::iceberg as iceberg_keys;
use super::resolve::lake::Connection;
use crate::iceberg::{IcebergSink, IcebergTable, IcebergTarget};
use crate::parquet::partitioned::{local_date_today, partition_columns};
use crate::parquet::staged::final_file_name;
use crate::parquet::{
    discard_staged, publish_staged, CommittedFile, ObjectSink, ParquetOptions, ParquetSink, PartitionedSink,
    StagedFile, WriteMode,
};
use crate::store::{Store, StoreConfig};
use crate::{Error, Result};

/// The connection keys of `target.connection.s3` that an options object may hold.
const CONNECTION_KEYS: &[&str] =
    &["endpoint", "region", "access_key_id", "secret_access_key", "session_token", "path_style_access", "secure"];

/// The key of the partition columns.
const PARTITIONING: &str = "partitioning";

/// The keys that only an Iceberg table takes.
const ICEBERG_KEYS: &[&str] = &["catalog", "branch"];

/// The key of the virtual `ingest_date` column's value (default: today's local date).
const INGEST_DATE_KEY: &str = "ingest_date";

/// Writer options, connection and partitioning: everything an options object can say.
pub struct OutputOptions {
    pub parquet: ParquetOptions,
    /// Hive partition columns in folder order (an Iceberg table's partition columns); empty:
    /// unpartitioned.
    pub partitioning: Vec<String>,
    /// The virtual `ingest_date` column's value, `YYYY-MM-DD`: given (a distributed write's
    /// writers share their driver's), or today's local date.
    pub ingest_date: String,
    connection: Option<Connection>,
    iceberg: TableKeys,
}

/// What an options object says about an Iceberg table.
#[derive(Default)]
struct TableKeys {
    /// `catalog`, as a job's `target.catalog`.
    catalog: Option<Value>,
    branch: Option<String>,
    /// Whether `write_mode` was written: a table is appended to unless `overwrite` is.
    write_mode_given: bool,
}

impl TableKeys {
    fn given(&self) -> Option<&'static str> {
        [(ICEBERG_KEYS[0], self.catalog.is_some()), (ICEBERG_KEYS[1], self.branch.is_some())]
            .iter()
            .find_map(|(k, set)| set.then_some(*k))
    }
}

impl std::fmt::Debug for OutputOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection holds secrets: only whether there is one.
        f.debug_struct("OutputOptions")
            .field("parquet", &self.parquet)
            .field("partitioning", &self.partitioning)
            .field("connection", &self.connection.as_ref().map(|_| "..."))
            .finish()
    }
}

/// Options from text: a JSON object (or YAML mapping) with the keys of a job's
/// `target.engine.options`, the connection keys and `partitioning`. Empty text means the
/// defaults. `label` starts every message; no message ever shows a key's value for the
/// credentials.
pub fn output_options_from_text(text: &str, label: &str) -> Result<OutputOptions> {
    let Some((mut writer, connection)) = split_connection(text, label)? else {
        // Not a mapping: the writer options' parser gives the message.
        return Ok(OutputOptions {
            parquet: writer_options_from_text(text, label)?,
            partitioning: Vec::new(),
            ingest_date: local_date_today(),
            connection: None,
            iceberg: TableKeys::default(),
        });
    };
    let partitioning = writer.remove(PARTITIONING);
    let ingest_date = match writer.remove(INGEST_DATE_KEY) {
        None | Some(Value::Null) => local_date_today(),
        Some(Value::String(d)) if is_date(&d) => d,
        Some(_) => {
            return Err(Error::Config(format!(
                "{label}: {INGEST_DATE_KEY} must be a date written YYYY-MM-DD (the virtual column's value)"
            )))
        }
    };
    let branch = match writer.remove(ICEBERG_KEYS[1]) {
        None | Some(Value::Null) => None,
        Some(Value::String(b)) if !b.trim().is_empty() => Some(b),
        Some(_) => return Err(Error::Config(format!("{label}: branch must be a branch name"))),
    };
    let iceberg = TableKeys {
        catalog: writer.remove(ICEBERG_KEYS[0]).filter(|v| !v.is_null()),
        branch,
        write_mode_given: writer.contains_key("write_mode"),
    };
    let parquet = writer_options_from_text(&mapping_text(&writer, label)?, label)?;
    let partitioning = match partitioning {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => partition_names(value).map_err(|m| Error::Config(format!("{label}: {PARTITIONING}: {m}")))?,
    };
    Ok(OutputOptions { parquet, partitioning, ingest_date, connection, iceberg })
}

/// Whether `text` is a real date written `YYYY-MM-DD` (as the CSV reader reads dates).
fn is_date(text: &str) -> bool {
    text.trim() == text && crate::csv::parse_date(text.as_bytes()).is_ok()
}

/// The Iceberg table of `place` when it is `iceberg:<namespace>.<table>`, with the catalog,
/// branch and files' connection of the options; an Iceberg key with another place is an error.
fn table_target(
    place: &str,
    keys: &TableKeys,
    write_mode: WriteMode,
    connection: &Option<Connection>,
    label: &str,
) -> Result<Option<IcebergTarget>> {
    let err = |m: String| Error::Config(format!("{label}: {m}"));
    let Some(table) = iceberg_keys::table_of_place(place).map_err(err)? else {
        if let Some(key) = keys.given() {
            return Err(err(format!(
                "`{key}` only applies to an Iceberg table (iceberg:<namespace>.<table>), and '{place}' is not one"
            )));
        }
        return Ok(None);
    };
    let s3 = match connection {
        None => None,
        Some(c) => Some(c.store_config(String::new(), String::new(), "", false).map_err(err)?),
    };
    let append = !keys.write_mode_given || write_mode == WriteMode::Append;
    iceberg_keys::target_of_options(table, keys.catalog.clone(), keys.branch.clone(), s3, append).map(Some).map_err(err)
}

/// An options text split into its connection keys and the rest; None when the text is not a
/// mapping (empty text is an empty one). Messages never show a credential's value.
pub(super) fn split_connection(text: &str, label: &str) -> Result<Option<(Mapping, Option<Connection>)>> {
    crate::yaml::check_limits(text, label)?;
    let map = match text.trim() {
        "" => Mapping::new(),
        trimmed => match serde_yaml_ng::from_str::<Value>(trimmed) {
            Ok(Value::Mapping(map)) => map,
            _ => return Ok(None),
        },
    };
    let (mut rest, mut connection) = (Mapping::new(), Mapping::new());
    for (key, value) in map {
        if key.as_str().is_some_and(|k| CONNECTION_KEYS.contains(&k)) {
            connection.insert(key, value);
        } else {
            rest.insert(key, value);
        }
    }
    let connection = if connection.is_empty() {
        None
    } else {
        // serde names the key and the expected type; values are not echoed by it.
        Some(
            serde_yaml_ng::from_value::<Connection>(Value::Mapping(connection))
                .map_err(|e| Error::Config(format!("{label}: {e}")))?,
        )
    };
    Ok(Some((rest, connection)))
}

/// A mapping back as text for the typed option parsers (empty for an empty mapping).
pub(super) fn mapping_text(map: &Mapping, label: &str) -> Result<String> {
    if map.is_empty() {
        return Ok(String::new());
    }
    serde_yaml_ng::to_string(map).map_err(|e| Error::Config(format!("{label}: {e}")))
}

/// The store of an `s3://bucket/...` URL's bucket (no prefix) with `connection`, for reading
/// its objects.
pub(super) fn bucket_config(
    url: &str,
    connection: &Option<Connection>,
    label: &str,
) -> Result<Option<(StoreConfig, String)>> {
    let Some((bucket, key)) = object_url(url)? else { return Ok(None) };
    let none = Connection::default();
    let config = connection
        .as_ref()
        .unwrap_or(&none)
        .store_config(bucket, String::new(), "", false)
        .map_err(|m| Error::Config(format!("{label}: {m}")))?;
    Ok(Some((config, key)))
}

/// `partitioning`: a list of distinct, non-empty column names.
fn partition_names(value: Value) -> std::result::Result<Vec<String>, String> {
    let Value::Sequence(items) = value else {
        return Err("expected a list of column names, such as [\"ingest_date\", \"country\"]".into());
    };
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::String(name) = item else { return Err(format!("[{i}] is not a column name")) };
        if name.trim().is_empty() {
            return Err(format!("[{i}] is empty"));
        }
        if names.contains(&name) {
            return Err(format!("'{name}' appears twice"));
        }
        names.push(name);
    }
    Ok(names)
}

/// Bucket and prefix of `s3://bucket/prefix`, or None for a local path.
fn object_url(place: &str) -> Result<Option<(String, String)>> {
    let Some(rest) = place.strip_prefix("s3://") else { return Ok(None) };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::Config(format!("'{place}' names no bucket: expected s3://bucket/prefix")));
    }
    Ok(Some((bucket.to_string(), prefix.trim_matches('/').to_string())))
}

/// The store of `s3://bucket/prefix` with the connection keys, as a job resolves
/// `target.connection.s3` (see [`Connection::store_config`]).
fn store_config(bucket: String, prefix: String, c: Connection, label: &str) -> Result<StoreConfig> {
    c.store_config(bucket, prefix, "", false).map_err(|m| Error::Config(format!("{label}: {m}")))
}

/// The store of `s3://bucket/prefix` (`place`) with the connection keys of an options text
/// (other keys are checked and ignored): for writers that name their objects themselves, such
/// as the example legacy writer plugin.
pub fn store_config_from_text(place: &str, text: &str, label: &str) -> Result<StoreConfig> {
    let Some((bucket, prefix)) = object_url(place)? else {
        return Err(Error::Config(format!("{label}: '{place}' is not an s3://bucket/prefix URL")));
    };
    let options = output_options_from_text(text, label)?;
    store_config(bucket, prefix, options.connection.unwrap_or_default(), label)
}

/// Parquet output being written. See the [module documentation](self).
pub struct Output {
    sink: Sink,
}

enum Sink {
    Local(Box<ParquetSink>),
    LocalPartitioned(Box<PartitionedSink>),
    Object {
        sink: Box<ObjectSink>,
        table: LakeTable,
        append: bool,
    },
    ObjectPartitioned {
        sink: Box<PartitionedSink>,
        table: LakeTable,
        append: bool,
    },
    /// A staged write's objects in a bucket: complete, named by no manifest until the
    /// committer's [`commit_staged`].
    StagedObject(Box<ObjectSink>),
    /// A staged write's Hive partitions: local files staged in their partition folders, or
    /// objects complete in theirs.
    StagedPartitioned(Box<PartitionedSink>),
    /// Data files of an Iceberg table, committed as one snapshot.
    Iceberg {
        sink: Box<IcebergSink>,
        table: Box<IcebergTable>,
    },
    /// A staged write's data files of an Iceberg table: complete, in no snapshot until the
    /// committer's [`commit_staged`].
    StagedIceberg(Box<IcebergSink>),
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.sink {
            Sink::Local(_) => "local",
            Sink::LocalPartitioned(_) => "local, partitioned",
            Sink::Object { .. } => "object store",
            Sink::ObjectPartitioned { .. } => "object store, partitioned",
            Sink::StagedObject(_) => "object store, staged",
            Sink::StagedPartitioned(_) => "partitioned, staged",
            Sink::Iceberg { .. } => "Iceberg table",
            Sink::StagedIceberg(_) => "Iceberg table, staged",
        };
        f.debug_struct("Output").field("kind", &kind).finish()
    }
}

impl Output {
    /// Opens one writer's part of a staged write (`parquet::staged`: many writers stage, one
    /// committer publishes, see [`commit_staged`]) at `place`, a local folder or
    /// `s3://bucket/prefix`, naming its files `<options' file_prefix>-...`. In a bucket nothing
    /// is cleaned up when it opens (other writers' objects are not named yet); its objects are
    /// complete when staged and named by no manifest until the commit. An Iceberg table is
    /// created (empty) if it does not exist, its data files are complete when staged and in no
    /// snapshot until the commit. With `partitioning`, files are staged in their partition
    /// folders (final names `key=value/.../<prefix>-NNNNN.parquet`; `ingest_date` is this
    /// writer's local date).
    pub fn open_staged(place: &Path, schema: SchemaRef, options: OutputOptions, label: &str) -> Result<Output> {
        let text = place.to_str().unwrap_or("");
        if let Some(target) =
            table_target(text, &options.iceberg, options.parquet.write_mode, &options.connection, label)?
        {
            let (sink, _) = open_table(&target, schema, options)?;
            return Ok(Output { sink: Sink::StagedIceberg(Box::new(sink)) });
        }
        let OutputOptions { parquet, partitioning, ingest_date, connection, .. } = options;
        let columns = || partition_columns(&partitioning, &ingest_date);
        let sink = match object_url(text)? {
            None => {
                check_no_connection(&connection, place, label)?;
                if partitioning.is_empty() {
                    Sink::Local(Box::new(ParquetSink::create(place, schema, parquet)?))
                } else {
                    let sink = PartitionedSink::create_local(place, schema, columns(), parquet)?;
                    Sink::StagedPartitioned(Box::new(sink))
                }
            }
            Some((bucket, prefix)) => {
                let config = store_config(bucket, prefix, connection.unwrap_or_default(), label)?;
                let store = std::sync::Arc::new(Store::connect(&config)?);
                // Unique to this writer: two attempts of one task never share an object.
                let run_id = lake::run_id();
                if partitioning.is_empty() {
                    Sink::StagedObject(Box::new(ObjectSink::create(store, schema, parquet, &run_id)?))
                } else {
                    let sink = PartitionedSink::create_object(store, schema, columns(), parquet, &run_id)?;
                    Sink::StagedPartitioned(Box::new(sink))
                }
            }
        };
        Ok(Output { sink })
    }

    /// Finishes a writer of [`open_staged`](Self::open_staged) without publishing: local files
    /// under hidden staged names, objects complete (their URL in `temp_path`, their name under
    /// the prefix in `final_name`). An error for any other output.
    pub fn stage(self) -> Result<Vec<StagedFile>> {
        match self.sink {
            Sink::Local(sink) => sink.stage(),
            Sink::StagedObject(sink) => Ok(sink.finish()?.into_iter().map(staged_object).collect()),
            Sink::StagedIceberg(sink) => Ok(sink.finish()?.into_iter().map(staged_object).collect()),
            Sink::StagedPartitioned(sink) => sink.stage(),
            other => {
                let output = Output { sink: other };
                let kind = format!("{output:?}");
                output.abort();
                Err(Error::Config(format!("only a staged writer stages its files, not {kind} output")))
            }
        }
    }

    /// Opens the output of batches of `schema` at `place`: `s3://bucket/prefix` (the connection
    /// from `options`; the table's manifest is read and what failed runs left is removed, as a
    /// job's run starts) or a local folder (created if missing). Connection keys with a local
    /// folder are an error: they would be silently ignored otherwise. `label` starts messages.
    pub fn open(place: &Path, schema: SchemaRef, options: OutputOptions, label: &str) -> Result<Output> {
        let text = place.to_str().unwrap_or("");
        if let Some(target) =
            table_target(text, &options.iceberg, options.parquet.write_mode, &options.connection, label)?
        {
            let (sink, table) = open_table(&target, schema, options)?;
            return Ok(Output { sink: Sink::Iceberg { sink: Box::new(sink), table: Box::new(table) } });
        }
        let OutputOptions { parquet, partitioning, ingest_date, connection, .. } = options;
        let columns = || partition_columns(&partitioning, &ingest_date);
        let append = parquet.write_mode == WriteMode::Append;
        let sink = match object_url(text)? {
            None => {
                check_no_connection(&connection, place, label)?;
                if partitioning.is_empty() {
                    Sink::Local(Box::new(ParquetSink::create(place, schema, parquet)?))
                } else {
                    Sink::LocalPartitioned(Box::new(PartitionedSink::create_local(place, schema, columns(), parquet)?))
                }
            }
            Some((bucket, prefix)) => {
                let config = store_config(bucket, prefix, connection.unwrap_or_default(), label)?;
                let table = LakeTable::open(&config, &parquet.file_prefix)?;
                let run_id = lake::run_id();
                if partitioning.is_empty() {
                    let sink = ObjectSink::create(table.store(), schema, parquet, &run_id)?;
                    Sink::Object { sink: Box::new(sink), table, append }
                } else {
                    let sink = PartitionedSink::create_object(table.store(), schema, columns(), parquet, &run_id)?;
                    Sink::ObjectPartitioned { sink: Box::new(sink), table, append }
                }
            }
        };
        Ok(Output { sink })
    }

    /// Encodes (and, in a bucket, uploads) one batch. A failure leaves the output unusable:
    /// [`abort`](Self::abort) it.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.sink {
            Sink::Local(s) => s.write(batch),
            Sink::LocalPartitioned(s) | Sink::ObjectPartitioned { sink: s, .. } | Sink::StagedPartitioned(s) => {
                s.write(batch)
            }
            Sink::Object { sink, .. } | Sink::StagedObject(sink) => sink.write(batch),
            Sink::Iceberg { sink, .. } | Sink::StagedIceberg(sink) => sink.write(batch),
        }
    }

    /// Commits: local files are completed, fsynced and renamed into place; objects are
    /// completed, then the manifest that names them is written (the commit point), then the
    /// objects it no longer names are deleted. Returns the files (paths, or `s3://` URLs).
    /// On failure nothing new is visible.
    pub fn finish(self) -> Result<Vec<CommittedFile>> {
        match self.sink {
            Sink::Local(s) => s.finish(),
            Sink::LocalPartitioned(mut s) => {
                s.seal()?;
                s.finish()
            }
            Sink::Object { sink, mut table, append } => commit(sink.finish(), &mut table, append),
            Sink::ObjectPartitioned { sink, mut table, append } => commit(sink.finish(), &mut table, append),
            // The snapshot is the commit point: files it does not name are no table's.
            Sink::Iceberg { sink, mut table } => {
                let files = sink.finish()?;
                table.commit(&files)?;
                Ok(files)
            }
            // Publishing one writer's objects alone would need the table's cleanup, which
            // deletes the other writers' objects: staged writers in a bucket only stage.
            Sink::StagedObject(sink) => {
                sink.abort();
                Err(staged_close("a bucket"))
            }
            Sink::StagedIceberg(sink) => {
                sink.abort();
                Err(staged_close("an Iceberg table"))
            }
            Sink::StagedPartitioned(sink) => {
                sink.abort();
                Err(staged_close("partition folders"))
            }
        }
    }

    /// Discards everything written: temp files and objects are deleted, nothing becomes
    /// visible. Dropping the output does the same.
    pub fn abort(self) {
        match self.sink {
            Sink::Local(s) => s.abort(),
            Sink::LocalPartitioned(s) | Sink::ObjectPartitioned { sink: s, .. } | Sink::StagedPartitioned(s) => {
                s.abort()
            }
            Sink::Object { sink, .. } | Sink::StagedObject(sink) => sink.abort(),
            Sink::Iceberg { sink, .. } | Sink::StagedIceberg(sink) => sink.abort(),
        }
    }
}

/// Closing a staged writer into `what` instead of staging its files.
fn staged_close(what: &str) -> Error {
    Error::Config(format!(
        "a staged writer into {what} is finished by staging its files (then one commit of every writer's), not by \
         closing it; nothing was written"
    ))
}

/// The table of `target` opened (created if new) for batches of `schema`, and a sink of its
/// data files.
fn open_table(
    target: &IcebergTarget,
    schema: SchemaRef,
    options: OutputOptions,
) -> Result<(IcebergSink, IcebergTable)> {
    let table = IcebergTable::open(target, &schema, &options.partitioning, &options.ingest_date, &lake::run_id())?;
    Ok((table.sink(options.parquet)?, table))
}

/// Connection keys with a local folder are an error: they would be silently ignored otherwise.
fn check_no_connection(connection: &Option<Connection>, place: &Path, label: &str) -> Result<()> {
    let Some(c) = connection else { return Ok(()) };
    let given: Vec<&str> = CONNECTION_KEYS
        .iter()
        .zip([
            c.endpoint.is_some(),
            c.region.is_some(),
            c.access_key_id.is_some(),
            c.secret_access_key.is_some(),
            c.session_token.is_some(),
            c.path_style_access.is_some(),
            c.secure.is_some(),
        ])
        .filter_map(|(k, set)| set.then_some(*k))
        .collect();
    Err(Error::Config(format!(
        "{label}: {} only apply to an s3://bucket/prefix destination, and '{}' is a local folder",
        given.join(", "),
        place.display()
    )))
}

/// A staged writer's object as a staged file (its URL as the staged path, its name the final).
pub(super) fn staged_object(file: CommittedFile) -> StagedFile {
    StagedFile {
        final_name: file.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        temp_path: file.path,
        rows: file.rows,
        bytes: file.bytes,
    }
}

/// Publishes a staged write at `place` (see `parquet::staged`): in a local folder,
/// [`publish_staged`]; in a bucket, every listed object is checked to be under the prefix
/// and named `<prefix>-….parquet`, then the manifest naming them (after the old manifest's
/// files in append mode) is written in one PUT, and the objects of the prefix it does not name
/// (failed or retried writers', an overwritten run's) are deleted. `options` holds the
/// connection keys for a bucket. An Iceberg table's staged data files are committed as one
/// snapshot (appended, unless `write_mode` is `overwrite`); the table must exist (its writers
/// create it). Returns the committed files.
pub fn commit_staged(place: &Path, files: &[StagedFile], options: &str, label: &str) -> Result<Vec<CommittedFile>> {
    let CommitOptions { file_prefix, write_mode, connection, iceberg } = commit_options(options, label)?;
    let file_prefix = file_prefix.as_str();
    let text = place.to_str().unwrap_or("");
    if let Some(target) = table_target(text, &iceberg, write_mode, &connection, label)? {
        return commit_table(&target, files, label);
    }
    let Some((bucket, prefix)) = object_url(text)? else {
        check_no_connection(&connection, place, label)?;
        return publish_staged(place, files, file_prefix, write_mode);
    };
    let config = store_config(bucket, prefix, connection.unwrap_or_default(), label)?;
    let mut table = LakeTable::read(&config, file_prefix)?;
    let url = config.url();
    let mut committed = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        let expected = format!("{url}/{}", file.final_name);
        let named = final_file_name(&file.final_name)
            .is_some_and(|name| name.starts_with(&format!("{file_prefix}-")) && name.ends_with(".parquet"));
        if file.temp_path.to_str() != Some(expected.as_str()) || !named {
            return Err(Error::Config(format!(
                "{label}: staged file {i} ({}) is not an object `{file_prefix}-….parquet` under {url} (directly, or \
                 in `key=value/` partition folders)",
                file.temp_path.display()
            )));
        }
        committed.push(CommittedFile { path: file.temp_path.clone(), rows: file.rows, bytes: file.bytes });
    }
    table.commit(&committed, write_mode == WriteMode::Append)?;
    Ok(committed)
}

/// Removes what a failed staged write left at `place`: a local folder's staged files and dead
/// writers' temps ([`discard_staged`]); in a bucket, every object of the prefix that no
/// manifest names. Visible output is unchanged. For an Iceberg table there is nothing to
/// undo: staged data files are in no snapshot.
pub fn discard_staged_at(place: &Path, options: &str, label: &str) -> Result<()> {
    let CommitOptions { file_prefix, write_mode, connection, iceberg } = commit_options(options, label)?;
    let text = place.to_str().unwrap_or("");
    if table_target(text, &iceberg, write_mode, &connection, label)?.is_some() {
        // Data files that no snapshot names are not the table's: nothing to undo. (They stay
        // as orphan files until a maintenance job removes them; docs/ray.md.)
        return Ok(());
    }
    let Some((bucket, prefix)) = object_url(text)? else {
        check_no_connection(&connection, place, label)?;
        return discard_staged(place, &file_prefix);
    };
    LakeTable::open(&store_config(bucket, prefix, connection.unwrap_or_default(), label)?, &file_prefix).map(drop)
}

/// The options of [`commit_staged`] and [`discard_staged_at`].
struct CommitOptions {
    /// The prefix every writer's prefix starts with (default `part`).
    file_prefix: String,
    write_mode: WriteMode,
    connection: Option<Connection>,
    iceberg: TableKeys,
}

/// From empty text or a JSON object with `file_prefix`, `write_mode` ("overwrite", the
/// default, or "append") and, for a bucket, the connection keys. Writer options may be there
/// too (the writers' options object, passed on whole): they are checked and ignored.
fn commit_options(text: &str, label: &str) -> Result<CommitOptions> {
    crate::yaml::check_limits(text, label)?;
    let mut options = CommitOptions {
        file_prefix: "part".into(),
        write_mode: WriteMode::Overwrite,
        connection: None,
        iceberg: TableKeys::default(),
    };
    if text.trim().is_empty() {
        return Ok(options);
    }
    let Ok(Value::Mapping(map)) = serde_yaml_ng::from_str::<Value>(text) else {
        return Err(Error::Config(format!("{label}: must be a JSON object such as {{\"file_prefix\": \"part\"}}")));
    };
    let mut rest = Mapping::new();
    for (key, value) in map {
        match (key.as_str(), value) {
            (Some("file_prefix"), Value::String(p)) => options.file_prefix = p,
            (Some("write_mode"), Value::String(m)) if m == "overwrite" || m == "append" => {
                options.write_mode = if m == "append" { WriteMode::Append } else { WriteMode::Overwrite };
                options.iceberg.write_mode_given = true;
            }
            (Some(k @ ("file_prefix" | "write_mode")), _) => {
                return Err(Error::Config(format!(
                    "{label}: `{k}` must be a string (write_mode: \"overwrite\" or \"append\")"
                )))
            }
            (_, value) => {
                rest.insert(key, value);
            }
        }
    }
    if !rest.is_empty() {
        let text = serde_yaml_ng::to_string(&rest).map_err(|e| Error::Config(format!("{label}: {e}")))?;
        let rest = output_options_from_text(&text, label)?;
        options.connection = rest.connection;
        options.iceberg.catalog = rest.iceberg.catalog;
        options.iceberg.branch = rest.iceberg.branch;
    }
    Ok(options)
}

/// Commits an Iceberg write's staged data files as one snapshot of `target`'s table: every
/// file is checked first (a data file of the table, its staged size when it is local), so a
/// failed check commits nothing.
fn commit_table(target: &IcebergTarget, files: &[StagedFile], label: &str) -> Result<Vec<CommittedFile>> {
    let mut table = IcebergTable::load(target)?;
    let mut committed = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        let path = file.temp_path.display().to_string();
        if !path.starts_with("s3://") {
            let size =
                std::fs::metadata(&file.temp_path).map_err(|e| Error::io("staged data file", &file.temp_path, e))?;
            if size.len() != file.bytes {
                return Err(Error::Data(format!(
                    "{label}: staged file {i} ({path}) has {} bytes, not the {} it was staged with",
                    size.len(),
                    file.bytes
                )));
            }
        }
        committed.push(CommittedFile { path: file.temp_path.clone(), rows: file.rows, bytes: file.bytes });
    }
    // The table's own check: every file is under its data folder (else nothing is written).
    table.commit(&committed)?;
    Ok(committed)
}

/// The manifest of the completed objects `files`, written last. If writing it fails, the
/// objects stay: a PUT that timed out may still have replaced the manifest, so deleting them
/// could break the table; the next writer or run removes them if no manifest names them.
fn commit(files: Result<Vec<CommittedFile>>, table: &mut LakeTable, append: bool) -> Result<Vec<CommittedFile>> {
    let files = files?;
    table.commit(&files, append)?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn options(text: &str) -> Result<OutputOptions> {
        output_options_from_text(text, "writer options")
    }

    #[test]
    fn connection_and_partitioning_keys_sit_beside_the_writer_keys() {
        let o = options(
            r#"{"compression": "zstd", "partitioning": ["ingest_date", "country"], "endpoint": "127.0.0.1:9000",
                "secure": false, "access_key_id": "AKIAEXAMPLE", "secret_access_key": "s3cr3t-value"}"#,
        )
        .unwrap();
        assert_eq!(o.parquet.compression, crate::parquet::Compression::Zstd(3));
        assert_eq!(o.partitioning, ["ingest_date", "country"]);
        let debug = format!("{o:?}");
        assert!(!debug.contains("AKIAEXAMPLE") && !debug.contains("s3cr3t-value"), "{debug}");
        let config = store_config("b".into(), "p/q".into(), o.connection.unwrap(), "writer options").unwrap();
        assert_eq!(config.url(), "s3://b/p/q");
        assert_eq!(config.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(config.allow_http && config.path_style);
        assert_eq!(config.region, "us-east-1");

        assert!(options("").unwrap().partitioning.is_empty());
        assert!(options(r#"{"partitioning": null}"#).unwrap().partitioning.is_empty());
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        let err = |text: &str| options(text).unwrap_err().to_string();
        assert!(err(r#"{"compresion": "zstd"}"#).contains("compresion"), "{}", err(r#"{"compresion": "zstd"}"#));
        assert!(err(r#"{"partitioning": "country"}"#).contains("partitioning: expected a list"));
        assert!(err(r#"{"partitioning": ["a", "a"]}"#).contains("'a' appears twice"));
        assert!(err(r#"{"secure": "yes"}"#).contains("writer options"));
        assert!(err("[1]").contains("must be a JSON object"));
        let o = options(r#"{"access_key_id": "AKIAEXAMPLE"}"#).unwrap();
        let e = store_config("b".into(), String::new(), o.connection.unwrap(), "writer options").unwrap_err();
        assert!(e.to_string().contains("both access_key_id and secret_access_key"), "{e}");
        assert!(!e.to_string().contains("AKIAEXAMPLE"));
        let o = options(r#"{"endpoint": "ftp://x"}"#).unwrap();
        let e = store_config("b".into(), String::new(), o.connection.unwrap(), "writer options").unwrap_err();
        assert!(e.to_string().contains("endpoint 'ftp://x'"), "{e}");
    }

    #[test]
    fn urls_without_a_bucket_and_connection_keys_with_a_folder_are_refused() {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let dir = tempfile::tempdir().unwrap();
        let open = |place: &Path, text: &str| {
            Output::open(place, schema.clone(), options(text).unwrap(), "writer options").unwrap_err().to_string()
        };
        assert!(open(Path::new("s3://"), "").contains("names no bucket"));
        let e = open(&dir.path().join("out"), r#"{"endpoint": "http://127.0.0.1:1", "region": "x"}"#);
        assert!(e.contains("endpoint, region only apply to an s3://bucket/prefix destination"), "{e}");
        assert!(!dir.path().join("out").exists(), "nothing is created");
    }

    #[test]
    fn a_local_partitioned_output_commits_at_finish_and_aborts_cleanly() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("country", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3])), Arc::new(StringArray::from(vec!["FR", "DE", "FR"]))],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t");
        let mut output =
            Output::open(&out, schema.clone(), options(r#"{"partitioning": ["country"]}"#).unwrap(), "w").unwrap();
        output.write(&batch).unwrap();
        output.abort();
        let visible = |d: &Path| walk(d).into_iter().filter(|p| p.ends_with(".parquet")).count();
        assert_eq!(visible(&out), 0);
        let mut output = Output::open(&out, schema, options(r#"{"partitioning": ["country"]}"#).unwrap(), "w").unwrap();
        output.write(&batch).unwrap();
        let files = output.finish().unwrap();
        assert_eq!(files.iter().map(|f| f.rows).sum::<u64>(), 3);
        assert!(out.join("country=FR/part-00000.parquet").is_file() && out.join("country=DE").is_dir());
        assert_eq!(visible(&out), 2);
    }

    /// Every file name under `dir` (relative), hidden temp files included.
    fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                if !name.starts_with('.') {
                    out.push(name.to_string());
                }
            }
        }
        out
    }

    #[test]
    fn ingest_date_is_given_or_today_and_must_be_a_real_date() {
        let given = output_options_from_text(r#"{"partitioning": ["ingest_date"], "ingest_date": "2024-02-29"}"#, "w");
        assert_eq!(given.unwrap().ingest_date, "2024-02-29");
        assert_eq!(output_options_from_text("", "w").unwrap().ingest_date, super::local_date_today());
        for bad in ["2023-02-29", "2024-13-01", "24-01-01", "2024-01-1x"] {
            let e = output_options_from_text(&format!(r#"{{"ingest_date": "{bad}"}}"#), "w").unwrap_err();
            assert!(e.to_string().contains("YYYY-MM-DD"), "{bad}: {e}");
        }
    }
}
