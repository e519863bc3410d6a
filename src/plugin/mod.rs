//! Plugins: custom readers and writers behind the plugin ABI (`include/dativo.h`, DESIGN.md
//! "Plugin ABI"). This is the other side of the C boundary from `ffi`: code dativo calls.
//!
//! - [`spec`]: `path/to/lib.so:symbol` as a job writes it;
//! - [`elf_check`]: refuse a truncated or foreign library file before the loader maps it;
//! - [`host`]: load a library, negotiate the ABI version, check the vtable, and call the
//!   plugin with Arrow streams ([`Plugin`]);
//! - [`sdk`]: traits and the `export_reader!` / `export_writer!` macros for plugins written
//!   in Rust.

pub mod elf_check;
pub mod host;
pub mod sdk;
pub mod spec;

pub use host::{sha256_hex, Kind, LoadPolicy, Plugin, PluginStream};
pub use spec::PluginSpec;

#[cfg(test)]
mod tests;
