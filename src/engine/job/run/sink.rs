//! The pipeline's end of a unit ([`JobSink`]), the hook between sealing and publishing
//! ([`Committing`]), and a unit's rejects file ([`RejectsFile`]).

use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use crate::csv::OnError;
use crate::iceberg::IcebergSink;
use crate::job::plugins::PluginSink;
use crate::parquet::writer::SealedPart;
use crate::parquet::{commit, CommittedFile, ObjectSink, ParquetSink, PartitionedSink};
use crate::{pipeline, Error, Result};

/// Where a unit's batches go.
pub(in crate::job) enum JobSink {
    Parquet(Box<ParquetSink>),
    /// Objects are complete when `finish` returns; the manifest object, written at the end of
    /// the run, makes them visible.
    Object(Box<ObjectSink>),
    /// `target.partitioning`, local or on object storage.
    Partitioned(Box<PartitionedSink>),
    Plugin(PluginSink),
    /// Data files of an Iceberg table; the runner commits the snapshot.
    Iceberg(Box<IcebergSink>),
    Discard,
}

impl JobSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            JobSink::Parquet(sink) => sink.write(batch),
            JobSink::Object(sink) => sink.write(batch),
            JobSink::Partitioned(sink) => sink.write(batch),
            JobSink::Plugin(sink) => sink.write(batch),
            JobSink::Iceberg(sink) => sink.write(batch),
            JobSink::Discard => Ok(()),
        }
    }

    /// Seal what was written, run `before_publish` with the sealed files, then publish them.
    /// Everything that can fail without changing what a reader sees comes before the hook.
    fn commit(self, before_publish: &mut dyn FnMut(&[SealedPart]) -> Result<()>) -> Result<Vec<CommittedFile>> {
        match self {
            JobSink::Parquet(mut sink) => {
                let parts = sink.seal()?;
                if let Err(e) = before_publish(&parts) {
                    sink.abort();
                    return Err(e);
                }
                sink.finish()
            }
            JobSink::Object(sink) => {
                // Completing an upload makes an object, not a visible file: no manifest names
                // it yet. So the objects are the sealed parts.
                let files = sink.finish()?;
                let parts: Vec<SealedPart> =
                    files.iter().map(|f| SealedPart { name: file_name(f), rows: f.rows, bytes: f.bytes }).collect();
                before_publish(&parts)?;
                Ok(files)
            }
            JobSink::Partitioned(mut sink) => {
                let parts = sink.seal()?;
                if let Err(e) = before_publish(&parts) {
                    sink.abort();
                    return Err(e);
                }
                sink.finish()
            }
            JobSink::Plugin(sink) => {
                if let Err(e) = before_publish(&[]) {
                    sink.abort();
                    return Err(e);
                }
                sink.finish()
            }
            JobSink::Iceberg(sink) => {
                // Like objects: complete data files that no snapshot names yet.
                let files = sink.finish()?;
                let parts: Vec<SealedPart> =
                    files.iter().map(|f| SealedPart { name: file_name(f), rows: f.rows, bytes: f.bytes }).collect();
                before_publish(&parts)?;
                Ok(files)
            }
            JobSink::Discard => before_publish(&[]).map(|()| Vec::new()),
        }
    }

    fn abort(self) {
        match self {
            JobSink::Parquet(sink) => sink.abort(),
            JobSink::Object(sink) => sink.abort(),
            JobSink::Partitioned(sink) => sink.abort(),
            JobSink::Plugin(sink) => sink.abort(),
            JobSink::Iceberg(sink) => sink.abort(),
            JobSink::Discard => {}
        }
    }
}

fn file_name(file: &CommittedFile) -> String {
    file.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A [`JobSink`] whose `finish` runs `before_publish` between sealing and publishing.
pub(in crate::job) struct Committing<'h> {
    pub sink: JobSink,
    pub before_publish: &'h mut dyn FnMut(&[SealedPart]) -> Result<()>,
}

impl pipeline::Sink for Committing<'_> {
    type Output = Vec<CommittedFile>;

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.sink.write(batch)
    }

    fn finish(self) -> Result<Vec<CommittedFile>> {
        self.sink.commit(self.before_publish)
    }

    fn abort(self) {
        self.sink.abort()
    }
}

/// A unit's rejects file (`on_error: reject`): written under a hidden temp name next to the
/// final one and renamed over it at the commit, so a failed unit leaves the previous rejects
/// file in place and a committed one never shows rows of an earlier run.
#[derive(Default)]
pub(in crate::job) struct RejectsFile {
    /// (temp, final)
    paths: Option<(PathBuf, PathBuf)>,
}

impl RejectsFile {
    pub fn for_run(on_error: OnError, path: Option<&Path>) -> Result<RejectsFile> {
        let Some(path) = path.filter(|_| on_error == OnError::Reject) else { return Ok(RejectsFile::default()) };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create directory", &dir, e))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Config(format!("rejects_path {} does not end in a file name", path.display())))?;
        // Temps of runs that were killed.
        commit::remove_stale_file_temps(&dir, name)?;
        let temp = dir.join(commit::file_temp_name(name, std::process::id()));
        Ok(RejectsFile { paths: Some((temp, path.to_path_buf())) })
    }

    /// Where the reader writes this unit's rejects.
    pub fn writing(&self) -> Option<&Path> {
        self.paths.as_ref().map(|(temp, _)| temp.as_path())
    }

    /// Publish this unit's rejects file under its final name.
    pub fn commit(self) -> Result<()> {
        let Some((temp, path)) = self.paths else { return Ok(()) };
        let file = fs::File::open(&temp).map_err(|e| Error::io("cannot open the rejects file", &temp, e))?;
        file.sync_all().map_err(|e| Error::io("cannot write the rejects file", &temp, e))?;
        drop(file);
        commit::publish(&temp, &path)?;
        match path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => commit::sync_dir(dir),
            None => commit::sync_dir(Path::new(".")),
        }
    }

    pub fn discard(self) {
        if let Some((temp, _)) = self.paths {
            commit::remove_quietly(&temp);
        }
    }
}
