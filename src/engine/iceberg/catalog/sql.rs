//! The embedded catalog: a SQLite file with the two tables of pyiceberg's `SqlCatalog`
//! (`iceberg_tables`, `iceberg_namespace_properties`, same columns), so that
//! `SqlCatalog(name, uri="sqlite:///file", warehouse=...)` opens what dativo wrote and the
//! other way round. Tables are created at `<warehouse>/<namespace>/<table>`, as pyiceberg
//! does, with metadata files `<location>/metadata/NNNNN-<uuid>.metadata.json`.
//!
//! A commit writes the next metadata file, then swaps the table's `metadata_location` in one
//! statement that only matches while it still holds the metadata the commit was built on
//! (`UPDATE ... WHERE metadata_location = <old>`); SQLite serialises writers, so of two
//! concurrent commits one updates a row and the other none (a conflict, retried by the caller).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::{Catalog, CommitOutcome, LoadedTable, SnapshotCommit, TableIdent};
use crate::iceberg::io::FileIo;
use crate::iceberg::metadata::{self, PartitionSpec, TableMetadata};
use crate::iceberg::schema::TableSchema;
use crate::{Error, Result};

/// pyiceberg's `iceberg_type` of a table row.
const TABLE_TYPE: &str = "TABLE";

pub struct SqlCatalog {
    path: PathBuf,
    conn: Connection,
    /// `catalog_name` of the rows (pyiceberg: the catalog's name).
    name: String,
    /// `file:///...` or `s3://bucket/prefix`, without a trailing `/`.
    warehouse: String,
    io: FileIo,
}

/// The SQLite file of `uri`: SQLAlchemy's `sqlite:///relative/path` or `sqlite:////abs/path`
/// (what pyiceberg is given), or a path.
pub fn sqlite_path(uri: &str) -> PathBuf {
    PathBuf::from(uri.strip_prefix("sqlite:///").unwrap_or(uri))
}

fn sql_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::Data(format!("the SQL catalog {}: {e}", path.display()))
}

impl SqlCatalog {
    /// Opens (creating when missing) the catalog file and its tables.
    pub fn open(path: &Path, name: &str, warehouse: &str, io: FileIo) -> Result<SqlCatalog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
        }
        let conn = Connection::open(path).map_err(|e| sql_error(path, e))?;
        // Another writer may hold the write lock for the length of its commit.
        conn.busy_timeout(Duration::from_secs(30)).map_err(|e| sql_error(path, e))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS iceberg_tables (
                catalog_name VARCHAR(255) NOT NULL,
                table_namespace VARCHAR(255) NOT NULL,
                table_name VARCHAR(255) NOT NULL,
                metadata_location VARCHAR(1000),
                previous_metadata_location VARCHAR(1000),
                iceberg_type VARCHAR(5),
                PRIMARY KEY (catalog_name, table_namespace, table_name));
             CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
                catalog_name VARCHAR(255) NOT NULL,
                namespace VARCHAR(255) NOT NULL,
                property_key VARCHAR(255) NOT NULL,
                property_value VARCHAR(1000) NOT NULL,
                PRIMARY KEY (catalog_name, namespace, property_key));",
        )
        .map_err(|e| sql_error(path, e))?;
        Ok(SqlCatalog {
            path: path.to_path_buf(),
            conn,
            name: name.to_string(),
            warehouse: warehouse.trim_end_matches('/').to_string(),
            io,
        })
    }

    /// Whether the table has pyiceberg's newer `iceberg_type` column (files of older versions
    /// do not).
    fn has_type_column(&self) -> bool {
        self.conn.prepare("SELECT iceberg_type FROM iceberg_tables LIMIT 0").is_ok()
    }

    fn load_location(&self, ident: &TableIdent) -> Result<Option<String>> {
        let filter = if self.has_type_column() { " AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)" } else { "" };
        let sql = format!(
            "SELECT metadata_location FROM iceberg_tables \
             WHERE catalog_name = ?1 AND table_namespace = ?2 AND table_name = ?3{filter}"
        );
        self.conn
            .query_row(&sql, params![self.name, ident.namespace.join("."), ident.name], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()
            .map(Option::flatten)
            .map_err(|e| sql_error(&self.path, e))
    }

    fn read_metadata(&self, location: &str) -> Result<TableMetadata> {
        TableMetadata::parse(&self.io.read(location)?, location)
    }

    /// `<location>/metadata/NNNNN-<uuid>.metadata.json`, one version after `previous`.
    fn next_metadata_location(table_location: &str, previous: Option<&str>) -> String {
        let version = previous
            .and_then(|p| p.rsplit('/').next())
            .and_then(|name| name.split_once('-'))
            .and_then(|(v, _)| v.parse::<u64>().ok())
            .map_or(0, |v| v + 1);
        format!("{table_location}/metadata/{version:05}-{}.metadata.json", metadata::uuid4())
    }
}

impl Catalog for SqlCatalog {
    fn load(&mut self, ident: &TableIdent) -> Result<Option<LoadedTable>> {
        let Some(location) = self.load_location(ident)? else { return Ok(None) };
        let metadata = self.read_metadata(&location)?;
        Ok(Some(LoadedTable { metadata, metadata_location: Some(location) }))
    }

    fn create(&mut self, ident: &TableIdent, schema: &TableSchema, spec: &PartitionSpec) -> Result<LoadedTable> {
        let namespace = ident.namespace.join(".");
        let table_location = format!("{}/{namespace}/{}", self.warehouse, ident.name);
        let new = metadata::new_table(&table_location, schema, spec);
        let location = Self::next_metadata_location(&table_location, None);
        self.io.write(&location, new.0.to_string().as_bytes())?;
        let tx = self.conn.transaction().map_err(|e| sql_error(&self.path, e))?;
        tx.execute(
            "INSERT OR IGNORE INTO iceberg_namespace_properties VALUES (?1, ?2, 'exists', 'true')",
            params![self.name, namespace],
        )
        .map_err(|e| sql_error(&self.path, e))?;
        let has_type = tx.prepare("SELECT iceberg_type FROM iceberg_tables LIMIT 0").is_ok();
        let inserted = if has_type {
            tx.execute(
                "INSERT OR IGNORE INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, \
                 previous_metadata_location, iceberg_type) VALUES (?1, ?2, ?3, ?4, NULL, ?5)",
                params![self.name, namespace, ident.name, location, TABLE_TYPE],
            )
        } else {
            tx.execute(
                "INSERT OR IGNORE INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, \
                 previous_metadata_location) VALUES (?1, ?2, ?3, ?4, NULL)",
                params![self.name, namespace, ident.name, location],
            )
        }
        .map_err(|e| sql_error(&self.path, e))?;
        tx.commit().map_err(|e| sql_error(&self.path, e))?;
        if inserted == 0 {
            // Created by another writer meanwhile: theirs is the table.
            self.io.remove(&location);
            return self.load(ident)?.ok_or_else(|| {
                Error::Data(format!("the SQL catalog {}: table {ident} vanished", self.path.display()))
            });
        }
        Ok(LoadedTable { metadata: new, metadata_location: Some(location) })
    }

    fn commit(&mut self, ident: &TableIdent, base: &LoadedTable, commit: &SnapshotCommit) -> Result<CommitOutcome> {
        let old = base
            .metadata_location
            .as_deref()
            .ok_or_else(|| Error::Internal("a SQL catalog table without a metadata location".into()))?;
        let next = base.metadata.with_snapshot(commit.snapshot, commit.ref_name, Some(old));
        let location = Self::next_metadata_location(base.metadata.location()?, Some(old));
        self.io.write(&location, next.0.to_string().as_bytes())?;
        let updated = self
            .conn
            .execute(
                "UPDATE iceberg_tables SET metadata_location = ?1, previous_metadata_location = ?2 \
                 WHERE catalog_name = ?3 AND table_namespace = ?4 AND table_name = ?5 AND metadata_location = ?2",
                params![location, old, self.name, ident.namespace.join("."), ident.name],
            )
            .map_err(|e| sql_error(&self.path, e))?;
        if updated == 1 {
            Ok(CommitOutcome::Committed)
        } else {
            self.io.remove(&location);
            Ok(CommitOutcome::Conflict)
        }
    }

    fn describe(&self) -> String {
        format!("the SQL catalog {} (catalog name {})", self.path.display(), self.name)
    }
}
