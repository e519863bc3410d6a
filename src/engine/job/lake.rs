//! Jobs whose target is object storage (`target.type: s3` or `minio`): how a run commits on a
//! store that has no rename.
//!
//! 1. **Open.** The table's `_manifest.json` is read (a manifest that is not one stops the
//!    job before anything is written), and every `<prefix>-*.parquet` object under the prefix
//!    that it does not name is deleted: what failed or killed runs left behind.
//! 2. **Write.** [`ObjectSink`] uploads this run's files under names no other run uses
//!    (`part-<run id>-NNNNN.parquet`); each object appears whole when its upload completes, or
//!    not at all. No manifest names them yet, so readers still see the previous run's table.
//!    A failure aborts the open upload and deletes the run's complete objects.
//! 3. **Commit.** The new manifest is written in one PUT, which replaces the old one whole: the
//!    commit point of the run. Then the objects it no longer names (the previous run's, in
//!    overwrite mode) are deleted.
//!
//! A run killed at any moment therefore leaves either the old manifest and the old files, or
//! the new manifest and the new files, plus objects no manifest names (removed by the next
//! run). Readers must read the manifest, not list the prefix. Two runs of one table at the
//! same time are not supported (nothing locks a bucket).
//!
//! An incremental run (`source.incremental`, state in a local file) commits input by input:
//! an input's objects are uploaded (`part-<input id>-<run id>-NNNNN.parquet`), the state marks
//! it `publishing`, the manifest of the state (with this input's new objects) is written, the
//! state marks it `committed`, and the objects no manifest names (its older ones) are deleted.
//! A kill before the manifest leaves the old manifest (the new objects are removed by the next
//! run, which reads the input again); a kill after it and before the mark makes the next run
//! read the input again and replace its objects in the next manifest: exactly one copy of
//! every input's rows after a complete rerun.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::state::{Manifest, MANIFEST_FILE};
use super::Job;
use crate::parquet::CommittedFile;
use crate::store::{Store, StoreConfig};
use crate::{Error, Result};

/// An object-store table being written by this run.
pub(super) struct LakeTable {
    store: Arc<Store>,
    /// The Parquet objects' name prefix (`part`).
    file_prefix: String,
    /// The manifest in the store when the run started.
    manifest: Option<Manifest>,
}

impl LakeTable {
    /// Connects, reads the manifest and deletes the objects it does not name (step 1).
    pub(super) fn open(config: &StoreConfig, file_prefix: &str) -> Result<LakeTable> {
        let table = LakeTable::read(config, file_prefix)?;
        let removed = table.remove_unnamed()?;
        if removed > 0 {
            log::info!("{}: removed {removed} object(s) of failed runs that no manifest names", table.store.url());
        }
        Ok(table)
    }

    /// Connects and reads the manifest, deleting nothing: for the committer of a staged write,
    /// whose writers' objects no manifest names yet.
    pub(super) fn read(config: &StoreConfig, file_prefix: &str) -> Result<LakeTable> {
        let store = Arc::new(Store::connect(config)?);
        let manifest = match store.get(MANIFEST_FILE)? {
            None => None,
            Some(bytes) => Some(serde_json::from_slice::<Manifest>(&bytes).map_err(|e| {
                Error::Data(format!(
                    "{} is not a dativo manifest ({e}): restore it, or delete it to start the table over",
                    store.object_url(MANIFEST_FILE)
                ))
            })?),
        };
        Ok(LakeTable { store, file_prefix: file_prefix.to_string(), manifest })
    }

    pub(super) fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// Writes the manifest of `files` (after the current one's files in append mode), then
    /// deletes the objects it does not name (step 3).
    pub(super) fn commit(&mut self, files: &[CommittedFile], append: bool) -> Result<()> {
        let mut manifest = Manifest::of_files(files, std::path::Path::new(&self.store.url()));
        if append {
            if let Some(old) = &self.manifest {
                let mut all = old.files.clone();
                all.append(&mut manifest.files);
                manifest.files = all;
                manifest.rows = manifest.files.iter().map(|f| f.rows).sum();
            }
        }
        self.publish(manifest)
    }

    /// Writes `manifest` in one PUT (the commit point), then deletes the objects it does not
    /// name. An incremental run publishes the manifest of its state after each input.
    pub(super) fn publish(&mut self, manifest: Manifest) -> Result<()> {
        self.store.put(MANIFEST_FILE, manifest.to_json()?)?;
        self.manifest = Some(manifest);
        self.remove_unnamed()?;
        Ok(())
    }

    /// Deletes the `<prefix>-*.parquet` objects the manifest does not name, under the prefix
    /// and in its Hive partition folders (`key=value/...`); returns how many.
    fn remove_unnamed(&self) -> Result<usize> {
        let named: HashSet<&str> = self.manifest.iter().flat_map(|m| m.files.iter()).map(|f| f.file.as_str()).collect();
        let start = format!("{}-", self.file_prefix);
        let ours = |name: &str| {
            let (folders, file) = name.rsplit_once('/').unwrap_or(("", name));
            let in_partition = folders.is_empty()
                || folders
                    .split('/')
                    .all(|f| !f.starts_with('.') && f.split_once('=').is_some_and(|(k, _)| !k.is_empty()));
            in_partition && file.starts_with(&start) && file.ends_with(".parquet")
        };
        let mut removed = 0;
        for name in self.store.list_all()? {
            if ours(&name) && !named.contains(name.as_str()) {
                self.store.delete(&name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A name for this run's objects: 12 hex digits from the time and the process id, so that no
/// two runs share one.
pub(super) fn run_id() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut hash = Sha256::new();
    hash.update(nanos.to_le_bytes());
    hash.update(std::process::id().to_le_bytes());
    hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
}

impl Job {
    /// The object-store table of an `s3`/`minio` target, opened for this run.
    pub(super) fn open_table(&self, config: &StoreConfig) -> Result<LakeTable> {
        LakeTable::open(config, &self.parquet.file_prefix)
    }
}

impl Job {
    /// The Iceberg table of a `target.type: iceberg` run, opened and checked against `schema`
    /// (see `iceberg/`). The run's date is taken here, once, as for Hive partitions.
    pub(super) fn open_iceberg(
        &self,
        target: &crate::iceberg::IcebergTarget,
        schema: &arrow_schema::Schema,
    ) -> Result<crate::iceberg::IcebergTable> {
        let date = crate::parquet::partitioned::local_date_today();
        crate::iceberg::IcebergTable::open(target, schema, &self.partitioning, &date, &run_id())
    }
}
