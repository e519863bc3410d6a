//! What a run records around each unit's commit, and what it writes last.

use std::path::PathBuf;

use crate::job::lake::LakeTable;
use crate::job::report::RunReport;
use crate::job::state::Manifest;
use crate::parquet::writer::SealedPart;
use crate::parquet::CommittedFile;
use crate::Result;

/// The run's bookkeeping, called by the runner at fixed points of every unit (see `run.rs`).
/// A plain run keeps only the manifest ([`WholeRun`]); an incremental run also keeps the state
/// of every input (`incremental.rs`).
pub(in crate::job) trait Ledger {
    /// Unit `unit` starts being read.
    fn start(&mut self, _unit: usize) -> Result<()> {
        Ok(())
    }

    /// Unit `unit`'s files are complete and durable but not visible: `parts` become visible
    /// when this returns. `rows_rejected` is the unit's count of bad rows.
    fn before_publish(&mut self, unit: usize, parts: &[SealedPart], rows_rejected: u64) -> Result<()>;

    /// Unit `unit`'s files (`files`) and rejects file are published.
    fn committed(&mut self, _unit: usize, _files: &[CommittedFile]) -> Result<()> {
        Ok(())
    }

    /// Unit `unit` failed: nothing it wrote became visible.
    fn failed(&mut self, _unit: usize) {}

    /// After the last unit: the manifest, and the ledger's part of the report.
    fn finish(self: Box<Self>, report: &mut RunReport) -> Result<()>;
}

/// A plain run: its one unit replaces the folder's output (or adds to it, in append mode),
/// and the manifest lists it.
pub(in crate::job) struct WholeRun {
    /// The local folder whose `_manifest.json` the run replaces; `None` when the target keeps
    /// no local manifest (a writer plugin, object storage, a check).
    pub manifest_dir: Option<PathBuf>,
    /// An object-store target: its manifest object is the run's commit point.
    pub table: Option<LakeTable>,
    pub append: bool,
}

impl Ledger for WholeRun {
    fn before_publish(&mut self, _unit: usize, _parts: &[SealedPart], _rows_rejected: u64) -> Result<()> {
        // The old manifest names the old files: it goes before they change.
        match &self.manifest_dir {
            Some(dir) => Manifest::remove(dir),
            None => Ok(()),
        }
    }

    fn finish(mut self: Box<Self>, report: &mut RunReport) -> Result<()> {
        if let Some(table) = &mut self.table {
            table.commit(&report.files, self.append)?;
        }
        match &self.manifest_dir {
            Some(dir) => Manifest::of_files(&report.files, dir).save(dir),
            None => Ok(()),
        }
    }
}
