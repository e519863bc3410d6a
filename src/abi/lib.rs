//! dativo-abi: what crosses dativo's C boundary, in both directions.
//!
//! - [`status`]: `DativoStatus`, the stable status codes, and how engine errors map to them;
//! - [`error`]: `DativoError` (caller-zeroed, filled on failure) and the panic boundary that
//!   every C-facing function and callback runs in;
//! - [`arrow_c`]: the Arrow C stream struct;
//! - [`stream`]: exporting a `RecordBatchReader` as an Arrow C stream, and importing one;
//! - [`plugin_abi`]: the plugin vtable and entry signature (what a plugin implements).
//!
//! The C library (dativo-ffi) and the plugin host and SDK (dativo-plugin) both build on these,
//! so a status, an error or a stream means the same on each side of the boundary.

pub mod arrow_c;
pub mod error;
pub mod plugin_abi;
pub mod status;
pub mod stream;

pub use arrow_c::ArrowArrayStream;
pub use error::DativoError;
pub use status::*;
