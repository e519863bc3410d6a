//! dativo-engine: a streaming CSV -> Arrow -> Parquet ingestion engine.
//!
//! The engine is organised by concept; each module has one job:
//! - [`csv`]: decode, split, parse and type CSV text into Arrow record batches;
//! - [`parquet`]: encode record batches into Parquet files committed atomically;
//! - [`schema`]: asset schemas (the Dativo asset format) and their validation;
//! - [`job`]: YAML job files, `${VAR}` substitution, and running a job;
//! - [`pipeline`]: the reader and writer threads joined by a bounded channel;
//! - [`gen`]: the deterministic benchmark file generator;
//! - [`yaml`]: YAML loading with messages that name the key, line and nearest valid key.
//!
//! This crate knows nothing of the C API, the plugin ABI or the command line: those are the
//! crates above it (dativo-abi, dativo-plugin, dativo-ffi, dativo-cli). Plugins reach the
//! engine as Arrow streams through [`job::plugins::PluginLoader`].

pub mod csv;
pub mod error;
pub mod gen;
pub mod iceberg;
pub mod job;
pub mod parquet;
pub mod pipeline;
pub mod schema;
pub mod store;
pub mod yaml;

pub use error::{Error, Result};

/// The Rust examples of docs/rust.md are compiled as doctests, so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../docs/rust.md")]
pub struct RustDocDoctests;
