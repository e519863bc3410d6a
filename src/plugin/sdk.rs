//! The Rust plugin SDK: implement [`ReaderPlugin`] or [`WriterPlugin`] and export it with
//! [`export_reader!`](crate::export_reader) or [`export_writer!`](crate::export_writer) in a
//! `cdylib` crate. The macros write the ABI's entry function; this module fills the vtable
//! and runs every callback under `catch_unwind`, so a panicking plugin returns
//! `DATIVO_STATUS_PLUGIN` with the panic's text instead of aborting the host.
//!
//! A whole reader plugin (build the crate as `crate-type = ["cdylib"]`; a job then names it
//! `custom_reader: path/to/libnumbers.so`):
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Int64Array, RecordBatch, RecordBatchIterator, RecordBatchReader};
//! use arrow_schema::{DataType, Field, Schema};
//! use dativo_plugin::sdk::{parse_config, ReaderPlugin};
//!
//! #[derive(serde::Deserialize)]
//! struct Config {
//!     connection: Connection, // the job's source.connection
//! }
//! #[derive(serde::Deserialize)]
//! struct Connection {
//!     rows: i64,
//! }
//!
//! struct Numbers;
//!
//! impl ReaderPlugin for Numbers {
//!     fn open(&mut self, config: &str) -> dativo_plugin::Result<Box<dyn RecordBatchReader + Send>> {
//!         let config: Config = parse_config(config)?;
//!         let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
//!         let column = Arc::new(Int64Array::from_iter_values(0..config.connection.rows));
//!         let batch = RecordBatch::try_new(schema.clone(), vec![column])?;
//!         Ok(Box::new(RecordBatchIterator::new(vec![Ok(batch)], schema)))
//!     }
//! }
//!
//! dativo_plugin::export_reader!("numbers", Numbers);
//! ```

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use arrow_array::RecordBatchReader;

use super::host::PluginStream;
use dativo_abi::error::{fill, panic_text, Failure};
use dativo_abi::plugin_abi::*;
use dativo_abi::stream::{export, ImportedStream};
use dativo_abi::{status_of, DATIVO_STATUS_PLUGIN};
use dativo_abi::{ArrowArrayStream, DativoError, DativoStatus, DATIVO_STATUS_INVALID_ARGUMENT, DATIVO_STATUS_OK};
use dativo_engine::parquet::CommittedFile;
use dativo_engine::{Error, Result};

/// A reader plugin: turns a JSON config into a stream of record batches. Errors while
/// reading are returned by the reader's iterator; they reach the host as stream errors.
pub trait ReaderPlugin: Send + 'static {
    /// Start reading. `config` is a JSON object (in a job: the job's `source` section).
    fn open(&mut self, config: &str) -> Result<Box<dyn RecordBatchReader + Send>>;
}

/// A writer plugin: consumes record batches and commits files.
pub trait WriterPlugin: Send + 'static {
    /// Write everything `input` yields, commit, and return the committed files. When `input`
    /// fails (its iterator yields an error), return that error and leave nothing visible.
    /// `config` is a JSON object (in a job: the target section and the asset's schema).
    fn write(&mut self, config: &str, input: &mut dyn RecordBatchReader) -> Result<Vec<CommittedFile>>;
}

/// A plugin's config as the serde type `T`; the error names the plugin and what is wrong.
pub fn parse_config<T: serde::de::DeserializeOwned>(config: &str) -> Result<T> {
    serde_json::from_str(config).map_err(|e| Error::Config(format!("plugin config: {e}")))
}

/// What the vtable's `private_data` holds.
struct State<P> {
    plugin: P,
    name: CString,
    version: CString,
}

/// Runs `body` for a plugin callback: a failure fills `error`; a panic becomes
/// `DATIVO_STATUS_PLUGIN` naming the plugin.
fn guard(name: &str, error: *mut DativoError, body: impl FnOnce() -> Result<(), Failure>) -> DativoStatus {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        Err(Failure::new(DATIVO_STATUS_PLUGIN, format!("plugin '{name}' panicked: {}", panic_text(&payload))))
    });
    match outcome {
        Ok(()) => DATIVO_STATUS_OK,
        Err(failure) => {
            // SAFETY: `error` is NULL or a valid DativoError (the ABI's rule).
            unsafe { fill(error, &failure.message) };
            failure.status
        }
    }
}

fn failure(e: Error) -> Failure {
    Failure::new(status_of(&e), e.to_string())
}

/// The entry function of [`export_reader!`](crate::export_reader).
///
/// # Safety
/// The arguments follow the ABI: `vtable` is zeroed and writable, `error` NULL or valid.
pub unsafe fn init_reader<P: ReaderPlugin>(
    abi_version: u32,
    vtable: *mut DativoPluginVTable,
    error: *mut DativoError,
    name: &str,
    version: &str,
    make: impl FnOnce() -> P,
) -> DativoStatus {
    init(abi_version, vtable, error, name, version, DATIVO_PLUGIN_READER, make, |vt| {
        vt.open_reader = Some(open_reader::<P>);
        vt.release = Some(release::<P>);
    })
}

/// The entry function of [`export_writer!`](crate::export_writer).
///
/// # Safety
/// As [`init_reader`].
pub unsafe fn init_writer<P: WriterPlugin>(
    abi_version: u32,
    vtable: *mut DativoPluginVTable,
    error: *mut DativoError,
    name: &str,
    version: &str,
    make: impl FnOnce() -> P,
) -> DativoStatus {
    init(abi_version, vtable, error, name, version, DATIVO_PLUGIN_WRITER, make, |vt| {
        vt.write = Some(write::<P>);
        vt.release = Some(release::<P>);
    })
}

#[allow(clippy::too_many_arguments)]
unsafe fn init<P: Send + 'static>(
    abi_version: u32,
    vtable: *mut DativoPluginVTable,
    error: *mut DativoError,
    name: &str,
    version: &str,
    kind: u32,
    make: impl FnOnce() -> P,
    functions: impl FnOnce(&mut DativoPluginVTable),
) -> DativoStatus {
    guard(name, error, || {
        if abi_version != DATIVO_PLUGIN_ABI_VERSION {
            return Err(Failure::new(
                DATIVO_STATUS_PLUGIN,
                format!("plugin '{name}' speaks plugin ABI version {DATIVO_PLUGIN_ABI_VERSION}, not {abi_version}"),
            ));
        }
        if vtable.is_null() {
            return Err(Failure::new(DATIVO_STATUS_INVALID_ARGUMENT, "init: vtable is NULL"));
        }
        let state = Box::new(State {
            plugin: make(),
            name: dativo_abi::error::c_text(name),
            version: dativo_abi::error::c_text(version),
        });
        let mut filled = DativoPluginVTable::empty();
        filled.size = DATIVO_PLUGIN_VTABLE_V1_SIZE;
        filled.kind = kind;
        filled.name = state.name.as_ptr();
        filled.version = state.version.as_ptr();
        functions(&mut filled);
        filled.private_data = Box::into_raw(state).cast();
        ptr::write(vtable, filled);
        Ok(())
    })
}

/// The plugin state behind `vtable`.
unsafe fn state<'a, P>(vtable: *mut DativoPluginVTable) -> Result<&'a mut State<P>, Failure> {
    if vtable.is_null() || (*vtable).private_data.is_null() {
        return Err(Failure::new(DATIVO_STATUS_INVALID_ARGUMENT, "the plugin vtable is NULL or released"));
    }
    Ok(&mut *(*vtable).private_data.cast::<State<P>>())
}

unsafe fn config_text<'a>(config: *const c_char) -> Result<&'a str, Failure> {
    if config.is_null() {
        return Err(Failure::new(DATIVO_STATUS_INVALID_ARGUMENT, "config_json is NULL"));
    }
    CStr::from_ptr(config)
        .to_str()
        .map_err(|_| Failure::new(DATIVO_STATUS_INVALID_ARGUMENT, "config_json is not valid UTF-8"))
}

/// The name of the plugin behind `vtable`, for panic messages (read before the call).
unsafe fn plugin_name<P>(vtable: *mut DativoPluginVTable) -> String {
    state::<P>(vtable).map(|s| s.name.to_string_lossy().into_owned()).unwrap_or_else(|_| "?".into())
}

unsafe extern "C" fn open_reader<P: ReaderPlugin>(
    vtable: *mut DativoPluginVTable,
    config: *const c_char,
    out: *mut ArrowArrayStream,
    error: *mut DativoError,
) -> DativoStatus {
    let name = plugin_name::<P>(vtable);
    guard(&name, error, || {
        let state = state::<P>(vtable)?;
        let config = config_text(config)?;
        if out.is_null() {
            return Err(Failure::new(DATIVO_STATUS_INVALID_ARGUMENT, "open_reader: out is NULL"));
        }
        let reader = state.plugin.open(config).map_err(failure)?;
        export(reader, out);
        Ok(())
    })
}

unsafe extern "C" fn write<P: WriterPlugin>(
    vtable: *mut DativoPluginVTable,
    config: *const c_char,
    stream: *mut ArrowArrayStream,
    files: *mut DativoFileSink,
    error: *mut DativoError,
) -> DativoStatus {
    let name = plugin_name::<P>(vtable);
    guard(&name, error, || {
        // Take the stream first: it is ours to release whatever happens next.
        let input = ImportedStream::take(stream, "stream")?;
        let state = state::<P>(vtable)?;
        let config = config_text(config)?;
        let Some(add) = files.as_ref().and_then(|f| f.add) else {
            return Err(Failure::new(DATIVO_STATUS_INVALID_ARGUMENT, "write: files is NULL or has no add"));
        };
        let mut input = PluginStream::new(input, "the host's stream".into());
        let committed = state.plugin.write(config, &mut input).map_err(failure)?;
        for file in committed {
            let path = dativo_abi::error::c_text(&file.path.to_string_lossy());
            let status = add(files, path.as_ptr(), file.rows, file.bytes);
            if status != DATIVO_STATUS_OK {
                return Err(Failure::new(status, format!("the host refused file {}", file.path.display())));
            }
        }
        Ok(())
    })
}

unsafe extern "C" fn release<P>(vtable: *mut DativoPluginVTable) {
    let _ = catch_unwind(|| {
        if vtable.is_null() || (*vtable).private_data.is_null() {
            return;
        }
        drop(Box::from_raw((*vtable).private_data.cast::<State<P>>()));
        (*vtable).private_data = ptr::null_mut();
        (*vtable).release = None;
    });
}

/// Export a [`ReaderPlugin`] from a `cdylib`: `export_reader!("name", make_expr)` defines
/// the default entry symbol `dativo_plugin_init`; `export_reader!(symbol, "name", make_expr)`
/// names another (several plugins in one library). `make_expr` builds the plugin when the
/// host loads it. The plugin's version is the crate's version.
#[macro_export]
macro_rules! export_reader {
    ($symbol:ident, $name:expr, $make:expr) => {
        $crate::__export_plugin!($symbol, init_reader, $name, $make);
    };
    ($name:expr, $make:expr) => {
        $crate::__export_plugin!(dativo_plugin_init, init_reader, $name, $make);
    };
}

/// Export a [`WriterPlugin`] from a `cdylib`; the forms are those of
/// [`export_reader!`](crate::export_reader).
#[macro_export]
macro_rules! export_writer {
    ($symbol:ident, $name:expr, $make:expr) => {
        $crate::__export_plugin!($symbol, init_writer, $name, $make);
    };
    ($name:expr, $make:expr) => {
        $crate::__export_plugin!(dativo_plugin_init, init_writer, $name, $make);
    };
}

/// The entry function of `export_reader!` / `export_writer!` (`$init`: `init_reader` or
/// `init_writer`).
#[doc(hidden)]
#[macro_export]
macro_rules! __export_plugin {
    ($symbol:ident, $init:ident, $name:expr, $make:expr) => {
        /// The dativo plugin entry function (plugin ABI), generated by `export_reader!` or
        /// `export_writer!`.
        ///
        /// # Safety
        /// Called by a dativo host with the arguments the plugin ABI defines.
        #[no_mangle]
        pub unsafe extern "C" fn $symbol(
            abi_version: u32,
            vtable: *mut $crate::abi::plugin_abi::DativoPluginVTable,
            error: *mut $crate::abi::DativoError,
        ) -> $crate::abi::DativoStatus {
            $crate::sdk::$init(abi_version, vtable, error, $name, env!("CARGO_PKG_VERSION"), || $make)
        }

        /// The entry's tag, `dativo_plugin_abi_<symbol>`: it tells a host that the symbol is
        /// a plugin-ABI entry before the host calls it.
        const _: () = {
            #[export_name = concat!("dativo_plugin_abi_", stringify!($symbol))]
            #[used]
            pub static DATIVO_PLUGIN_ABI_TAG: [u8; 22] = $crate::abi::plugin_abi::DATIVO_PLUGIN_ABI_MAGIC;
        };
    };
}
