//! Building a run's snapshot and committing it, with retries on conflict.
//!
//! The run's data files are in one manifest, written once. Each attempt then reads the
//! branch's current snapshot, writes a manifest list of the run's manifest followed by every
//! manifest of that snapshot (append; an overwrite keeps none), and asks the catalog to move
//! the branch from that snapshot to the new one. When another writer moved it first, the
//! catalog refuses (a conflict): the table is reloaded and the list rebuilt on the newer
//! snapshot, so the other writer's manifests are kept and neither run loses rows. Attempts
//! are bounded ([`MAX_ATTEMPTS`]) and spaced by a growing, jittered wait.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::catalog::{Catalog, CommitOutcome, LoadedTable, SnapshotCommit, TableIdent};
use super::io::FileIo;
use super::manifest::{self, ManifestFile};
use super::metadata::{self, MAIN};
use crate::{Error, Result};

/// Commit attempts before giving up.
pub const MAX_ATTEMPTS: u32 = 12;

/// The run's manifest, already written.
pub struct RunManifest {
    pub path: String,
    pub length: i64,
    pub spec_id: i32,
    pub files: i32,
    pub rows: i64,
    pub bytes: i64,
}

/// What the commit asks for.
pub struct Request<'a> {
    pub ident: &'a TableIdent,
    pub branch: &'a str,
    /// Keep the branch's current files (append) or replace them (overwrite).
    pub append: bool,
    pub manifest: &'a RunManifest,
}

/// A summary count of the snapshot `id` (0 when absent).
fn total(base: &LoadedTable, id: Option<i64>, key: &str) -> i64 {
    id.and_then(|id| base.metadata.snapshot(id))
        .and_then(|s| s.get("summary"))
        .and_then(|s| s.get(key))
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Commits `request` to the table loaded as `base`; returns the new snapshot's id.
pub fn commit(catalog: &mut dyn Catalog, io: &FileIo, mut base: LoadedTable, request: &Request) -> Result<i64> {
    let uuid = base.metadata.uuid()?.to_string();
    for attempt in 0..MAX_ATTEMPTS {
        let expected = base
            .metadata
            .ref_snapshot_id(request.branch)
            .filter(|_| base.metadata.has_ref(request.branch) || request.branch == MAIN);
        // A branch that does not exist yet starts from main's snapshot.
        let parent = expected.or_else(|| base.metadata.ref_snapshot_id(MAIN));
        let mut manifests = Vec::new();
        if request.append {
            if let Some(parent) = parent {
                let list = base
                    .metadata
                    .snapshot(parent)
                    .and_then(|s| s.get("manifest-list"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        Error::Data(format!("snapshot {parent} of {} has no manifest list", request.ident))
                    })?;
                manifests = manifest::read_manifest_list(&io.read(list)?, list)?;
            }
        }
        let sequence_number = base.metadata.last_sequence_number() + 1;
        let snapshot_id = metadata::snapshot_id();
        let m = request.manifest;
        let ours = ManifestFile {
            manifest_path: m.path.clone(),
            manifest_length: m.length,
            partition_spec_id: m.spec_id,
            content: 0,
            sequence_number,
            min_sequence_number: sequence_number,
            added_snapshot_id: snapshot_id,
            added_files_count: m.files,
            existing_files_count: 0,
            deleted_files_count: 0,
            added_rows_count: m.rows,
            existing_rows_count: 0,
            deleted_rows_count: 0,
        };
        manifests.insert(0, ours);
        let location = base.metadata.location()?.to_string();
        let list_uri = format!("{location}/metadata/snap-{snapshot_id}-{attempt}-{}.avro", metadata::uuid4());
        io.write(&list_uri, &manifest::write_manifest_list(&manifests, snapshot_id, parent, sequence_number)?)?;

        let summary = summary(&base, parent, m, request.append);
        let mut snapshot = json!({
            "snapshot-id": snapshot_id,
            "sequence-number": sequence_number,
            "timestamp-ms": metadata::now_ms(),
            "manifest-list": list_uri,
            "summary": summary,
            "schema-id": base.metadata.0.get("current-schema-id").cloned().unwrap_or(json!(0)),
        });
        if let Some(parent) = parent {
            snapshot["parent-snapshot-id"] = json!(parent);
        }
        let outcome = catalog.commit(
            request.ident,
            &base,
            &SnapshotCommit { snapshot: &snapshot, ref_name: request.branch, expected },
        )?;
        if outcome == CommitOutcome::Committed {
            return Ok(snapshot_id);
        }
        io.remove(&list_uri);
        let wait = Duration::from_millis((50u64 << attempt.min(7)) + u64::from(metadata::random_bytes::<1>()[0]));
        log::info!(
            "{}: {} changed while this run committed (attempt {} of {MAX_ATTEMPTS}); retrying on the new \
             snapshot in {} ms",
            catalog.describe(),
            request.ident,
            attempt + 1,
            wait.as_millis()
        );
        std::thread::sleep(wait);
        base = catalog.load(request.ident)?.ok_or_else(|| {
            Error::Data(format!("{}: table {} was dropped during the commit", catalog.describe(), request.ident))
        })?;
        if base.metadata.uuid()? != uuid {
            return Err(Error::Data(format!(
                "{}: table {} was dropped and created again during the commit; run the job again",
                catalog.describe(),
                request.ident
            )));
        }
    }
    Err(Error::Data(format!(
        "{}: could not commit to {} after {MAX_ATTEMPTS} attempts: other writers kept committing first; the \
         run's data files are written but no snapshot names them; run the job again",
        catalog.describe(),
        request.ident
    )))
}

/// The snapshot summary: the operation, what the run added, and the table's new totals.
fn summary(base: &LoadedTable, parent: Option<i64>, m: &RunManifest, append: bool) -> Value {
    let mut s = Map::new();
    let mut put = |k: &str, v: String| {
        s.insert(k.to_string(), Value::String(v));
    };
    put("operation", if append { "append" } else { "overwrite" }.to_string());
    put("added-data-files", m.files.to_string());
    put("added-records", m.rows.to_string());
    put("added-files-size", m.bytes.to_string());
    let (files, records, size) = if append {
        (
            total(base, parent, "total-data-files") + i64::from(m.files),
            total(base, parent, "total-records") + m.rows,
            total(base, parent, "total-files-size") + m.bytes,
        )
    } else {
        let deleted_files = total(base, parent, "total-data-files");
        if deleted_files > 0 {
            put("deleted-data-files", deleted_files.to_string());
            put("deleted-records", total(base, parent, "total-records").to_string());
            put("removed-files-size", total(base, parent, "total-files-size").to_string());
        }
        (i64::from(m.files), m.rows, m.bytes)
    };
    put("total-data-files", files.to_string());
    put("total-records", records.to_string());
    put("total-files-size", size.to_string());
    put("total-delete-files", "0".into());
    put("total-position-deletes", "0".into());
    put("total-equality-deletes", "0".into());
    Value::Object(s)
}
