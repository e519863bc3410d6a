//! The C API of libdativo. `include/dativo.h` is generated from this module by cbindgen
//! (`make header`; tests/c_header.rs fails when the committed header is out of date).
//!
//! This layer only converts: C arguments into engine types, engine results and errors back into
//! C. It holds no ingestion logic. The rules every function follows (docs/design.md, "C API
//! conventions"), stated once here and in the header:
//!
//! - every fallible function returns a [`DativoStatus`] and takes a caller-zeroed
//!   [`DativoError`], filled only on failure (see [`error`]);
//! - out-parameters are written only on success;
//! - consumed inputs (`struct ArrowArray`, `struct ArrowArrayStream`) are moved: the caller's
//!   struct is marked released (`release = NULL`), on success and on failure alike;
//! - every exported function, and every callback of every stream handed out, runs inside a
//!   panic boundary ([`error::boundary`]); a panic becomes `DATIVO_STATUS_INTERNAL`;
//! - NULL where a value is required is `DATIVO_STATUS_INVALID_ARGUMENT`, never a crash.
//!
//! One module per kind of handle: [`csv`] (reader), [`parquet`] (writer and file lists),
//! [`staged`] (a writer's files staged, then committed once, for distributed writes),
//! [`job`] (run a job file, its report), [`units`] (a job run whose units an executor runs
//! elsewhere, e.g. Ray tasks), [`plugin`] (load and use plugins; run a job whose
//! plugins the caller provides) with [`plugin_abi`] (what a plugin implements); [`stream`] exports and imports Arrow C streams;
//! [`version`], [`status`] and [`error`] are shared by all.

mod args;
pub mod csv;
pub mod job;
pub mod parquet;
pub mod plugin;
pub mod staged;
pub mod status;
pub mod units;
pub mod version;

// The types every function above uses live in dativo-abi, shared with the plugin host and SDK.
pub use dativo_abi::{arrow_c, error, plugin_abi, stream};
pub use dativo_abi::{ArrowArrayStream, DativoError};
pub use status::*;

#[cfg(test)]
mod plugin_tests;
#[cfg(test)]
mod tests;
