//! One error type for the whole engine.
//!
//! Variants are grouped by *what the user must fix* (their config, their data, their disk),
//! because that is what the CLI exit message and, later, the C API status codes report.
//! Every message is complete on its own: it names the file, line, column and value involved.

use std::path::Path;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The job file or the options are invalid (unknown key, bad value, missing variable).
    #[error("{0}")]
    Config(String),
    /// The input data is bad: a row that cannot be read or typed, an empty file.
    #[error("{0}")]
    Data(String),
    /// The data does not match the declared schema (asset), or files disagree on their columns.
    #[error("{0}")]
    Schema(String),
    /// An operating-system I/O failure; `context` says what we were doing to which path.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Failure inside the Parquet encoder.
    #[error("parquet: {0}")]
    Parquet(#[from] ::parquet::errors::ParquetError),
    /// Failure inside an Arrow kernel.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A plugin failed, or could not be loaded; the message names the plugin and says why.
    #[error("{0}")]
    Plugin(String),
    /// A bug in dativo (a thread panicked, an invariant broke). Please report it.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// An I/O error with what we were doing, e.g. `Error::io("cannot open", path, e)`.
    pub fn io(action: &str, path: &Path, source: std::io::Error) -> Self {
        Error::Io { context: format!("{action} {}", path.display()), source }
    }

    /// The operating system refused a new thread (`std::thread::Builder::spawn` failed: too
    /// many threads, no memory for its stack): a resource error of the machine, not a bug.
    /// `what` names the thread, e.g. `a parse thread`.
    pub fn thread_start(what: &str, source: std::io::Error) -> Self {
        Error::Io { context: format!("cannot start {what} (out of threads or memory?)"), source }
    }

    /// The same error with its message passed through `redact`.
    /// Used to keep substituted secrets out of error text (see `job::env`).
    pub fn redacted(self, redact: impl Fn(&str) -> String) -> Self {
        match self {
            Error::Config(m) => Error::Config(redact(&m)),
            Error::Data(m) => Error::Data(redact(&m)),
            Error::Schema(m) => Error::Schema(redact(&m)),
            Error::Io { context, source } => Error::Io {
                context: redact(&context),
                source: std::io::Error::new(source.kind(), redact(&source.to_string())),
            },
            Error::Parquet(e) => Error::Parquet(::parquet::errors::ParquetError::General(redact(&e.to_string()))),
            Error::Arrow(e) => Error::Arrow(arrow_schema::ArrowError::ComputeError(redact(&e.to_string()))),
            Error::Plugin(m) => Error::Plugin(redact(&m)),
            Error::Internal(m) => Error::Internal(redact(&m)),
        }
    }
}

/// Errors crossing an Arrow `RecordBatchReader` must be `ArrowError`s; we wrap ours so the
/// original (with its kind) can be recovered with [`Error::from_arrow`].
impl From<Error> for arrow_schema::ArrowError {
    fn from(e: Error) -> Self {
        arrow_schema::ArrowError::ExternalError(Box::new(e))
    }
}

impl Error {
    /// Recover a dativo error that travelled through an Arrow interface.
    pub fn from_arrow(e: arrow_schema::ArrowError) -> Self {
        match e {
            arrow_schema::ArrowError::ExternalError(inner) => match inner.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(other) => Error::Arrow(arrow_schema::ArrowError::ExternalError(other)),
            },
            other => Error::Arrow(other),
        }
    }
}
