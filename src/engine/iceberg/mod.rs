//! Iceberg tables (`target.type: iceberg`): a run writes its Parquet data files into the
//! table's location and commits them as one snapshot through a catalog.
//!
//! Why not the `iceberg` crate: its 0.10 release builds on arrow/parquet 58 and dativo is on
//! 60, so the two cannot link into one binary. dativo writes the v2 metadata itself instead
//! (the spec's JSON and Avro files; Avro through the maintained `apache-avro` crate) and
//! speaks the catalog protocols directly. pyiceberg reads the result in the tests.
//!
//! - [`schema`]: the asset as an Iceberg schema with field ids, and the compatibility check;
//! - [`metadata`]: table metadata, partition specs, ids;
//! - [`manifest`]: manifests and manifest lists (Avro);
//! - [`catalog`]: the SQL (SQLite) and REST catalogs;
//! - [`commit`]: the snapshot of a run, and the retry on conflict;
//! - [`sink`]: the data files;
//! - [`io`]: reading and writing metadata files on local disk or S3.
//!
//! A run: [`IcebergTable::open`] loads the table (creating it, empty, on the first run) and
//! checks the run's schema and partitioning against it, before any row is read;
//! [`IcebergTable::sink`] writes the data files; [`IcebergTable::commit`] writes one manifest
//! naming them and commits one snapshot. Until that commit, readers see the table as it was;
//! a run that fails before it leaves data files that no snapshot names (readers never see
//! them; they stay until a maintenance job removes orphan files).

pub mod catalog;
pub mod commit;
pub mod io;
pub mod manifest;
pub mod metadata;
pub mod schema;
pub mod sink;

use std::path::PathBuf;

use arrow_schema::{DataType, Field, Schema, SchemaRef};

use self::catalog::rest::{RestCatalog, RestConfig};
use self::catalog::sql::SqlCatalog;
use self::catalog::{Catalog, LoadedTable, TableIdent};
use self::io::FileIo;
use self::metadata::{PartitionSpec, MAIN};
use self::schema::TableSchema;
use self::sink::DataDir;
use crate::parquet::partitioned::INGEST_DATE;
use crate::parquet::{CommittedFile, ParquetOptions};
use crate::store::StoreConfig;
use crate::{Error, Result};

pub use self::sink::IcebergSink;

/// Which catalog, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogConfig {
    /// A SQLite file; `name` is the `catalog_name` of its rows.
    Sql {
        path: PathBuf,
        name: String,
    },
    Rest(RestConfig),
}

/// An Iceberg target, resolved from the job (see `job/resolve/iceberg.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcebergTarget {
    pub catalog: CatalogConfig,
    /// SQL catalog: where new tables go (`file:///abs/path` or `s3://bucket/prefix`).
    /// REST catalog: the `warehouse` sent to the catalog (optional).
    pub warehouse: Option<String>,
    pub table: TableIdent,
    /// The branch committed to (`main` unless `branch` is given).
    pub branch: String,
    /// Endpoint and keys for files on S3 (its bucket and prefix are taken from the table's
    /// location).
    pub s3: Option<StoreConfig>,
    /// Add the run's rows (true) or replace the table's (false).
    pub append: bool,
}

impl IcebergTarget {
    /// How the table is named in logs and the report.
    pub fn describe(&self) -> String {
        let catalog = match &self.catalog {
            CatalogConfig::Sql { path, .. } => format!("sql:{}", path.display()),
            CatalogConfig::Rest(rest) => rest.uri.clone(),
        };
        let branch = if self.branch == MAIN { String::new() } else { format!("@{}", self.branch) };
        format!("iceberg table {}{branch} ({catalog})", self.table)
    }

    fn connect(&self) -> Result<Box<dyn Catalog>> {
        Ok(match &self.catalog {
            CatalogConfig::Sql { path, name } => {
                let warehouse = self
                    .warehouse
                    .as_deref()
                    .ok_or_else(|| Error::Config("an Iceberg SQL catalog needs target.catalog.warehouse".into()))?;
                let io = FileIo::for_location(warehouse, self.s3.as_ref())?;
                Box::new(SqlCatalog::open(path, name, warehouse, io)?)
            }
            CatalogConfig::Rest(rest) => Box::new(RestCatalog::connect(rest)?),
        })
    }
}

/// The table a run writes to.
pub struct IcebergTable {
    target: IcebergTarget,
    catalog: Box<dyn Catalog>,
    loaded: LoadedTable,
    schema: TableSchema,
    spec: PartitionSpec,
    /// The data files' schema (None for a table loaded for a commit only).
    file_schema: Option<SchemaRef>,
    partitions: Vec<String>,
    ingest_date: Option<i32>,
    io: FileIo,
    data: DataDir,
    run_id: String,
}

impl IcebergTable {
    /// Connects to the catalog, loads the table (creating it from `arrow` and `partitioning`
    /// when it does not exist) and checks that this run fits it. `ingest_date` is the run's
    /// date (`YYYY-MM-DD`), stored in the `ingest_date` column when the table is partitioned by it.
    pub fn open(
        target: &IcebergTarget,
        arrow: &Schema,
        partitioning: &[String],
        ingest_date: &str,
        run_id: &str,
    ) -> Result<IcebergTable> {
        let with_date = partitioning.iter().any(|p| p == INGEST_DATE);
        let mut fields: Vec<Field> = arrow.fields().iter().map(|f| f.as_ref().clone()).collect();
        if with_date {
            if arrow.field_with_name(INGEST_DATE).is_ok() {
                return Err(Error::Config(format!(
                    "partitioning: `{INGEST_DATE}` is the run's date, but the data has a column of that name too"
                )));
            }
            fields.push(Field::new(INGEST_DATE, DataType::Date32, true));
        }
        let arrow = Schema::new(fields);
        let mut catalog = target.connect()?;
        let loaded = match catalog.load(&target.table)? {
            Some(t) => t,
            None => {
                let schema = TableSchema::from_arrow(&arrow)?;
                let spec = PartitionSpec::identity(&schema, partitioning)?;
                log::info!("{}: creating table {}", catalog.describe(), target.table);
                catalog.create(&target.table, &schema, &spec)?
            }
        };
        let mut table = IcebergTable::of(target, catalog, loaded)?;
        if table.partitions != partitioning {
            return Err(Error::Config(format!(
                "the Iceberg table {} is partitioned by [{}] but the write partitions by [{}]; set \
                 partitioning (a job's target.partitioning) to the table's columns",
                target.table,
                table.partitions.join(", "),
                partitioning.join(", ")
            )));
        }
        table.file_schema = Some(table.schema.bind(&arrow, &target.table.to_string())?);
        table.ingest_date = match with_date {
            true => Some(
                sink::days_from_date(ingest_date)
                    .ok_or_else(|| Error::Internal(format!("the run's date '{ingest_date}' is not YYYY-MM-DD")))?,
            ),
            false => None,
        };
        table.run_id = run_id.to_string();
        Ok(table)
    }

    /// Connects to the catalog and loads the existing table `target` names, for a commit of data
    /// files its writers wrote (a distributed write's committer); it cannot write files itself.
    pub fn load(target: &IcebergTarget) -> Result<IcebergTable> {
        let mut catalog = target.connect()?;
        let loaded = catalog.load(&target.table)?.ok_or_else(|| {
            Error::Config(format!(
                "{}: the table {} does not exist (its writers create it when they open); nothing was committed",
                catalog.describe(),
                target.table
            ))
        })?;
        IcebergTable::of(target, catalog, loaded)
    }

    /// The table as loaded, before any run's schema is bound to it.
    fn of(target: &IcebergTarget, catalog: Box<dyn Catalog>, loaded: LoadedTable) -> Result<IcebergTable> {
        let schema = loaded.metadata.schema()?;
        let spec = loaded.metadata.spec()?;
        let partitions = spec.source_names(&schema);
        if let Some(f) = spec.fields.iter().find(|f| f.transform != "identity") {
            return Err(Error::Config(format!(
                "the Iceberg table {} is partitioned by {}({}); dativo writes identity partitions only",
                target.table, f.transform, f.name
            )));
        }
        let location = loaded.metadata.location()?.to_string();
        let io = FileIo::for_location(&location, target.s3.as_ref())?;
        let data = DataDir::of(&location, target.s3.as_ref())?;
        Ok(IcebergTable {
            target: target.clone(),
            catalog,
            loaded,
            schema,
            spec,
            file_schema: None,
            partitions,
            ingest_date: None,
            io,
            data,
            run_id: String::new(),
        })
    }

    /// The table's location.
    pub fn location(&self) -> String {
        self.loaded.metadata.location().unwrap_or_default().to_string()
    }

    /// The sink of the run's data files.
    pub fn sink(&self, options: ParquetOptions) -> Result<IcebergSink> {
        let schema = self.file_schema.clone().ok_or_else(|| {
            Error::Internal(format!("the Iceberg table {} was loaded for a commit, not to write", self.target.table))
        })?;
        IcebergSink::create(&self.data, schema, &self.partitions, self.ingest_date, options, &self.run_id)
    }

    /// Writes the manifest of `files` and commits one snapshot (retrying on conflicts);
    /// returns its id.
    pub fn commit(&mut self, files: &[CommittedFile]) -> Result<i64> {
        let data_files = sink::data_files(files, &self.data, &self.schema, &self.partitions)?;
        let bytes = manifest::write_manifest(&self.schema, &self.spec, &data_files)?;
        let path = format!("{}/metadata/{}-m0.avro", self.location(), metadata::uuid4());
        self.io.write(&path, &bytes)?;
        let run = commit::RunManifest {
            path,
            length: bytes.len() as i64,
            spec_id: self.spec.spec_id as i32,
            files: data_files.len() as i32,
            rows: data_files.iter().map(|f| f.record_count as i64).sum(),
            bytes: data_files.iter().map(|f| f.file_size_in_bytes as i64).sum(),
        };
        let request = commit::Request {
            ident: &self.target.table,
            branch: &self.target.branch,
            append: self.target.append,
            manifest: &run,
        };
        let id = commit::commit(self.catalog.as_mut(), &self.io, self.loaded.clone(), &request)?;
        log::info!(
            "{}: committed snapshot {id} ({} file(s), {} row(s), {})",
            self.target.describe(),
            run.files,
            run.rows,
            if self.target.append { "append" } else { "overwrite" }
        );
        Ok(id)
    }
}
