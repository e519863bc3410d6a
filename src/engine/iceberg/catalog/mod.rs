//! The catalogs a table is committed through: what dativo needs of one (load, create, and a
//! commit that either applies on top of the metadata it was built on or reports a conflict).
//!
//! - [`sql`]: an embedded catalog in a SQLite file, in the tables pyiceberg's `SqlCatalog`
//!   uses, so both open the same file; no server.
//! - [`rest`]: the Iceberg REST catalog protocol (Nessie, Polaris, Lakekeeper, SeaweedFS, ...).

pub mod rest;
pub mod sql;

use serde_json::Value;

use super::metadata::{PartitionSpec, TableMetadata};
use super::schema::TableSchema;
use crate::Result;

/// `namespace.table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableIdent {
    /// Levels of the namespace (`a.b` is `["a", "b"]`).
    pub namespace: Vec<String>,
    pub name: String,
}

impl std::fmt::Display for TableIdent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.namespace.join("."), self.name)
    }
}

/// A table as a catalog returned it.
#[derive(Debug, Clone)]
pub struct LoadedTable {
    pub metadata: TableMetadata,
    /// The metadata file the catalog points to (None when the catalog does not say).
    pub metadata_location: Option<String>,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Another writer committed first: reload, rebuild on the new snapshot, try again.
    Conflict,
}

/// A new snapshot for a ref.
pub struct SnapshotCommit<'a> {
    pub snapshot: &'a Value,
    /// The branch set to the snapshot.
    pub ref_name: &'a str,
    /// The ref's snapshot the new one was built on (None: the ref does not exist yet).
    pub expected: Option<i64>,
}

/// A catalog dativo commits through.
pub trait Catalog {
    /// The table, or None when the catalog has no such table.
    fn load(&mut self, ident: &TableIdent) -> Result<Option<LoadedTable>>;
    /// Creates an empty table (and its namespace when missing). A table that another writer
    /// created meanwhile is loaded instead.
    fn create(&mut self, ident: &TableIdent, schema: &TableSchema, spec: &PartitionSpec) -> Result<LoadedTable>;
    /// Sets `commit.ref_name` to `commit.snapshot` if the table is still `base` for that ref.
    fn commit(&mut self, ident: &TableIdent, base: &LoadedTable, commit: &SnapshotCommit) -> Result<CommitOutcome>;
    /// How the catalog is named in messages (never with credentials).
    fn describe(&self) -> String;
}
