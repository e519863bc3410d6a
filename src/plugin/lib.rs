//! dativo-plugin: custom readers and writers behind the plugin ABI (`include/dativo.h`,
//! docs/plugins.md). This is the other side of the C boundary from dativo-ffi: code dativo
//! calls.
//!
//! - [`elf`]: a library file read before it is loaded: [`elf::check`] refuses a truncated or
//!   foreign file before the loader maps it, [`elf::symbols`] lists the dynamic symbols from
//!   which the host decides which ABI an entry speaks;
//! - [`host`]: load a library, negotiate the ABI version, check the vtable, and call the
//!   plugin with Arrow streams ([`Plugin`]);
//! - [`loader`]: the engine's [`PluginLoader`](dativo_engine::job::plugins::PluginLoader) for
//!   jobs: where plugins may come from (`DATIVO_PLUGIN_DIR`) and who provides non-native ones;
//! - [`legacy`]: the adapter that hosts plugins of the legacy Dativo JSON ABI
//!   (`create_reader` / `extract_batch` / ...) as Arrow streams;
//! - [`sdk`]: traits and the `export_reader!` / `export_writer!` macros for plugins written
//!   in Rust;
//! - [`conformance`]: the battery of checks any plugin can be run against (`dativo plugin
//!   test`), with [`isolate`] running each check in a child process.

pub mod conformance;
pub mod elf;
mod entry;
pub mod host;
pub mod isolate;
pub mod legacy;
pub mod loader;
pub mod sdk;

/// The ABI types, for the SDK macros and for plugins that use them directly.
pub use dativo_abi as abi;
pub use dativo_engine::job::plugins::{PluginKind, PluginSpec};
/// The engine's error type, which plugin code returns.
pub use dativo_engine::{Error, Result};
pub use host::{sha256_hex, LoadPolicy, Plugin, PluginStream};
pub use loader::{Loader, PluginResolver, PLUGIN_DIR_ENV};

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod tests;
