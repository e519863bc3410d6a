//! What the reader reads: [`Input`], a local file or a byte source that can be opened again
//! from its first byte ([`OpenInput`]: an object in a bucket). The reader opens every input
//! after the first twice, once to check its header before any work starts and once to read
//! it, so an input must be re-openable; a one-shot stream goes through
//! [`CsvReader::from_reader`](super::CsvReader::from_reader) instead.
//!
//! The CSV module knows nothing of object storage: the job module adapts a bucket's object
//! to [`OpenInput`].

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

/// A re-openable byte source, e.g. an `s3://` object.
pub trait OpenInput: Send + Sync {
    /// How the input is named in messages (`s3://bucket/key`); bad rows cite it with their
    /// line and column, as they cite a file's path.
    fn name(&self) -> String;
    /// Its size in bytes, for progress (0 when unknown).
    fn size(&self) -> u64;
    /// A reader from the first byte. Errors should name the input.
    fn open(&self) -> std::io::Result<Box<dyn Read + Send>>;
}

/// One input of a [`CsvReader`](super::CsvReader).
#[derive(Clone)]
pub enum Input {
    File(PathBuf),
    Open(Arc<dyn OpenInput>),
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Open(o) => o.name(),
        }
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::File(p) => f.debug_tuple("File").field(p).finish(),
            Input::Open(o) => f.debug_tuple("Open").field(&o.name()).finish(),
        }
    }
}

impl From<PathBuf> for Input {
    fn from(p: PathBuf) -> Input {
        Input::File(p)
    }
}
