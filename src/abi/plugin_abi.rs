//! The plugin ABI: what a plugin library exports and fills in (DESIGN.md, "Plugin ABI").
//!
//! A plugin exports one entry function of type [`DativoPluginInit`] (by default named
//! [`DATIVO_PLUGIN_INIT_SYMBOL`]). The host zeroes a [`DativoPluginVTable`] and calls the
//! entry with the newest ABI version it speaks; a plugin that does not speak that version
//! returns `DATIVO_STATUS_PLUGIN` and the host asks again with the next older one. For the
//! version it accepts, the plugin fills exactly that version's fields and sets `size` to
//! that version's size: the vtable only ever grows by appending fields, so a host can tell
//! from `size` which fields exist, and a plugin never writes past what the host allocated.
//!
//! Data crosses only as Arrow C streams: a reader plugin produces an `ArrowArrayStream`, a
//! writer plugin consumes one and reports the files it committed through a
//! [`DativoFileSink`].
//!
//! Threads: the host calls the functions of one vtable from one thread at a time, though
//! not always from the same thread; a stream a reader returns may be read on another thread
//! than the one that opened it.

use std::ffi::{c_char, c_void};

use super::arrow_c::ArrowArrayStream;
use super::error::DativoError;
use super::status::DativoStatus;

/// The newest plugin ABI version this library speaks (as a host, and through the Rust SDK).
pub const DATIVO_PLUGIN_ABI_VERSION: u32 = 1;

/// `DativoPluginVTable.kind` of a reader plugin (produces a stream).
pub const DATIVO_PLUGIN_READER: u32 = 1;

/// `DativoPluginVTable.kind` of a writer plugin (consumes a stream, commits files).
pub const DATIVO_PLUGIN_WRITER: u32 = 2;

/// The entry symbol the host looks up when a plugin spec names none (`lib.so` rather than
/// `lib.so:symbol`).
pub const DATIVO_PLUGIN_INIT_SYMBOL: &str = "dativo_plugin_init";

/// The companion data symbol that proves a symbol is a new-ABI entry: a library whose entry
/// is `S` also exports the data symbol `dativo_plugin_abi_S` holding
/// [`DATIVO_PLUGIN_ABI_MAGIC`]. The host calls `S` only when that tag is there, so a spec
/// naming any other function (`libc.so.6:puts`, a legacy `create_reader`) is never called
/// with the entry signature. `export_reader!` / `export_writer!` export it; in C,
/// `DATIVO_PLUGIN_ENTRY_TAG(S);` from dativo.h.
pub const DATIVO_PLUGIN_ABI_TAG_PREFIX: &str = "dativo_plugin_abi_";

/// The bytes of a new-ABI entry's tag (see [`DATIVO_PLUGIN_ABI_TAG_PREFIX`]), NUL included:
/// `DATIVO_PLUGIN_ABI_MAGIC` in dativo.h.
pub const DATIVO_PLUGIN_ABI_MAGIC: [u8; 22] = *b"dativo-plugin-entry-1\0";

/// Where a writer plugin reports each file it committed. Owned by the host; valid during
/// the `write` call only.
#[repr(C)]
pub struct DativoFileSink {
    /// For the host; do not touch.
    pub private_data: *mut c_void,
    /// Report one committed file: its path (NUL-terminated UTF-8, copied by the host), rows
    /// and size in bytes. Returns DATIVO_STATUS_OK, or INVALID_ARGUMENT for a NULL or
    /// non-UTF-8 path.
    pub add: Option<
        unsafe extern "C" fn(sink: *mut DativoFileSink, path: *const c_char, rows: u64, bytes: u64) -> DativoStatus,
    >,
}

/// The functions and facts of one plugin, filled in by its init function (ABI version 1).
///
/// Every function returns a status and, on failure, fills the caller-zeroed `error` (as the
/// C API does: `message` plus a `release` of the plugin's own that frees it). A function
/// must never unwind or `longjmp` into the host.
#[repr(C)]
pub struct DativoPluginVTable {
    /// The size in bytes of the vtable version the plugin filled: for ABI version 1,
    /// `sizeof(DativoPluginVTable)` of this header. The host refuses any other value.
    pub size: u32,
    /// `DATIVO_PLUGIN_READER` or `DATIVO_PLUGIN_WRITER`.
    pub kind: u32,
    /// The plugin's name (NUL-terminated UTF-8, not NULL), valid until `release`.
    pub name: *const c_char,
    /// The plugin's own version text (NUL-terminated UTF-8, may be NULL), valid until
    /// `release`.
    pub version: *const c_char,
    /// Readers: start reading with `config_json` (a JSON object; in a job, the job's `source`
    /// section) and write a new stream into `*out`, which the host releases when done.
    /// Errors while reading must be returned by the stream's `get_next` (with a message
    /// from `get_last_error`): an error must never look like the end of the data.
    /// NULL in writers.
    pub open_reader: Option<
        unsafe extern "C" fn(
            plugin: *mut DativoPluginVTable,
            config_json: *const c_char,
            out: *mut ArrowArrayStream,
            error: *mut DativoError,
        ) -> DativoStatus,
    >,
    /// Writers: consume `*stream` (moved in: the plugin releases it, on success and on
    /// failure), commit the output described by `config_json` (a JSON object; in a job, the
    /// target section with the asset's schema), report every committed file through
    /// `files->add`, and only then return DATIVO_STATUS_OK. When the stream fails, or the
    /// plugin fails, it returns an error and leaves no partial output visible.
    /// NULL in readers.
    pub write: Option<
        unsafe extern "C" fn(
            plugin: *mut DativoPluginVTable,
            config_json: *const c_char,
            stream: *mut ArrowArrayStream,
            files: *mut DativoFileSink,
            error: *mut DativoError,
        ) -> DativoStatus,
    >,
    /// Frees `private_data` and everything the plugin allocated; the host calls it once, after
    /// its last use of the vtable (streams a reader returned may still be alive and must stay
    /// valid). May be NULL when there is nothing to free.
    pub release: Option<unsafe extern "C" fn(plugin: *mut DativoPluginVTable)>,
    /// For the plugin; the host never touches it.
    pub private_data: *mut c_void,
}

impl DativoPluginVTable {
    /// The zeroed vtable the host hands to an init function.
    pub const fn empty() -> Self {
        DativoPluginVTable {
            size: 0,
            kind: 0,
            name: std::ptr::null(),
            version: std::ptr::null(),
            open_reader: None,
            write: None,
            release: None,
            private_data: std::ptr::null_mut(),
        }
    }
}

/// Size of the version 1 vtable: the value `size` must have for ABI version 1. (C plugins
/// write `sizeof(DativoPluginVTable)`.)
/// cbindgen:ignore
pub const DATIVO_PLUGIN_VTABLE_V1_SIZE: u32 = std::mem::size_of::<DativoPluginVTable>() as u32;

/// The entry function a plugin exports. Fill `*vtable` (zeroed by the host) for
/// `abi_version` and return DATIVO_STATUS_OK, or return DATIVO_STATUS_PLUGIN (with a
/// message) when the plugin does not speak `abi_version`, or another status when it cannot
/// start.
pub type DativoPluginInit =
    unsafe extern "C" fn(abi_version: u32, vtable: *mut DativoPluginVTable, error: *mut DativoError) -> DativoStatus;
