//! Plugins through the C API: load a native plugin and use it directly, or run a job whose
//! plugins the caller provides (how the Python package runs `module.py:Class` plugins).

use std::ffi::{c_char, c_void, CString};
use std::path::PathBuf;
use std::ptr;
use std::sync::Arc;

use serde::Deserialize;

use super::args;
use super::job::DativoJobReport;
use super::parquet::DativoFileList;
use dativo_abi::arrow_c::ArrowArrayStream;
use dativo_abi::error::{boundary, c_text, no_panic, DativoError, Failure};
use dativo_abi::plugin_abi::DativoPluginVTable;
use dativo_abi::status::DativoStatus;
use dativo_abi::stream::{export, ImportedStream};
use dativo_engine::Error;
use dativo_plugin::{LoadPolicy, Loader, Plugin, PluginKind, PluginResolver, PluginSpec, PluginStream};

/// A loaded plugin. Opaque; used by one thread at a time.
pub struct DativoPlugin {
    plugin: Plugin,
    name: CString,
    version: Option<CString>,
}

/// `options_json` of `dativo_plugin_load`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LoadOptions {
    sha256: Option<String>,
    allow_dir: Option<PathBuf>,
}

/// Load the native plugin `spec` (`path/to/lib.so:symbol`, or `path/to/lib.so` for the entry
/// symbol `dativo_plugin_init`) and agree on an ABI version with it, newest first.
///
/// `options_json` is NULL or a JSON object: `{"sha256": "<hex>"}` refuses a library whose
/// sha256 differs; `{"allow_dir": "<folder>"}` refuses a library outside that folder.
/// Loading runs the library's code: restrict it when the spec comes from someone else.
/// On success `*out` is a new handle; free it with `dativo_plugin_free`.
/// Errors: INVALID_ARGUMENT, CONFIG (malformed spec or options), PLUGIN (missing file or
/// symbol, refused by the options, no common ABI version, an invalid vtable, init failed).
/// Thread-safe.
///
/// # Safety
/// `spec` is NULL or a C string; `options_json` NULL or a C string; `out` writable; `error`
/// NULL or a zero-initialised `DativoError`.
#[no_mangle]
pub unsafe extern "C" fn dativo_plugin_load(
    spec: *const c_char,
    options_json: *const c_char,
    out: *mut *mut DativoPlugin,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_plugin_load", error, || {
        let out = args::required(out, "out")?;
        let spec = PluginSpec::parse(args::text(spec, "spec")?)?;
        let options = args::optional_text(options_json, "options_json")?;
        let options: LoadOptions = if options.trim().is_empty() {
            LoadOptions::default()
        } else {
            serde_json::from_str(options).map_err(|e| Error::Config(format!("plugin options: {e}")))?
        };
        let policy = LoadPolicy { sha256: options.sha256, allow_dir: options.allow_dir };
        let plugin = Plugin::load(&spec, &policy)?;
        let name = c_text(plugin.name());
        let version = plugin.version().map(c_text);
        ptr::write(out, Box::into_raw(Box::new(DativoPlugin { plugin, name, version })));
        Ok(())
    })
}

/// Parse a plugin spec as jobs and `dativo_plugin_load` do, without loading anything, so
/// that bindings agree with the library on what a spec means. On success `*out_json` is a new
/// NUL-terminated JSON object, freed with `dativo_string_free`:
/// `{"path": "<the file>", "name": "<symbol or class>" or null, "native": true|false}`, where
/// `native` says whether the library loads the file itself (a `.so` (also `lib.so.1`),
/// `.dylib` or `.dll` file) or a host must provide it (`module.py:Class`). The file is not
/// looked at. Errors: INVALID_ARGUMENT (NULL, not UTF-8), CONFIG (a malformed spec: the
/// message says what is wrong). Thread-safe.
///
/// # Safety
/// `spec` is NULL or a C string; `out_json` writable; `error` NULL or a zero-initialised
/// `DativoError`.
#[no_mangle]
pub unsafe extern "C" fn dativo_plugin_spec_parse(
    spec: *const c_char,
    out_json: *mut *mut c_char,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_plugin_spec_parse", error, || {
        let out = args::required(out_json, "out_json")?;
        let spec = PluginSpec::parse(args::text(spec, "spec")?)?;
        let json = serde_json::json!({
            "path": spec.path.to_string_lossy(),
            "name": spec.name,
            "native": spec.is_native(),
        });
        ptr::write(out, c_text(&json.to_string()).into_raw());
        Ok(())
    })
}

/// Free a string the library returned as `char *` (`dativo_plugin_spec_parse`'s JSON). NULL
/// is allowed.
///
/// # Safety
/// `text` is NULL or a string the library returned for the caller to free, not used
/// afterwards.
#[no_mangle]
pub unsafe extern "C" fn dativo_string_free(text: *mut c_char) {
    no_panic((), || {
        if !text.is_null() {
            drop(CString::from_raw(text));
        }
    })
}

/// `DATIVO_PLUGIN_READER` or `DATIVO_PLUGIN_WRITER`; 0 for NULL.
///
/// # Safety
/// `plugin` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dativo_plugin_kind(plugin: *const DativoPlugin) -> u32 {
    no_panic(0, || {
        plugin.as_ref().map_or(0, |p| match p.plugin.kind() {
            PluginKind::Reader => dativo_abi::plugin_abi::DATIVO_PLUGIN_READER,
            PluginKind::Writer => dativo_abi::plugin_abi::DATIVO_PLUGIN_WRITER,
        })
    })
}

/// The plugin's name, valid until `dativo_plugin_free`; NULL for NULL.
///
/// # Safety
/// `plugin` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dativo_plugin_name(plugin: *const DativoPlugin) -> *const c_char {
    no_panic(ptr::null(), || plugin.as_ref().map_or(ptr::null(), |p| p.name.as_ptr()))
}

/// The plugin's own version text, valid until `dativo_plugin_free`; NULL for NULL or when the
/// plugin gave none.
///
/// # Safety
/// `plugin` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dativo_plugin_version(plugin: *const DativoPlugin) -> *const c_char {
    no_panic(ptr::null(), || plugin.as_ref().and_then(|p| p.version.as_ref()).map_or(ptr::null(), |v| v.as_ptr()))
}

/// The plugin ABI version host and plugin agreed on; 0 for NULL.
///
/// # Safety
/// `plugin` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dativo_plugin_abi_version(plugin: *const DativoPlugin) -> u32 {
    no_panic(0, || plugin.as_ref().map_or(0, |p| p.plugin.abi_version()))
}

/// Open a reader plugin with `config_json` (a JSON object, passed to the plugin as is) and
/// write its data into `*out` as a stream, which the caller releases. The stream follows
/// the rules of dativo's own streams: an error is sticky and never looks like the end, and
/// `dativo_status_from_stream` recovers its status. It stays valid after
/// `dativo_plugin_free`.
/// Errors: INVALID_ARGUMENT (NULL, or a writer plugin), and whatever the plugin reports.
///
/// # Safety
/// `plugin` is NULL or a live handle not used elsewhere during the call; `config_json` NULL
/// or a C string; `out` writable; `error` NULL or a zero-initialised `DativoError`.
#[no_mangle]
pub unsafe extern "C" fn dativo_plugin_open_reader(
    plugin: *mut DativoPlugin,
    config_json: *const c_char,
    out: *mut ArrowArrayStream,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_plugin_open_reader", error, || {
        let plugin = args::handle(plugin, "plugin")?;
        let config = args::text(config_json, "config_json")?;
        let out = args::required(out, "out")?;
        if plugin.plugin.kind() != PluginKind::Reader {
            return Err(Failure::invalid(format!("plugin '{}' is a writer, not a reader", plugin.plugin.name())));
        }
        let stream = plugin.plugin.open_reader(config, None)?;
        export(Box::new(stream), out);
        Ok(())
    })
}

/// Hand `stream` (moved: released on return, on success and on failure) to a writer plugin
/// with `config_json` (a JSON object, passed as is). On success `*out` lists the files the
/// plugin committed; free it with `dativo_file_list_free`.
/// Errors: INVALID_ARGUMENT (NULL, a released stream, or a reader plugin), and whatever the
/// plugin or the stream reports.
///
/// # Safety
/// `plugin` is NULL or a live handle not used elsewhere during the call; `config_json` NULL
/// or a C string; `stream` NULL or a valid stream; `out` writable; `error` NULL or a
/// zero-initialised `DativoError`.
#[no_mangle]
pub unsafe extern "C" fn dativo_plugin_write(
    plugin: *mut DativoPlugin,
    config_json: *const c_char,
    stream: *mut ArrowArrayStream,
    out: *mut *mut DativoFileList,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_plugin_write", error, || {
        // Take the stream first: it is moved in whatever fails next.
        let input = ImportedStream::take(stream, "stream")?;
        let plugin = args::handle(plugin, "plugin")?;
        let config = args::text(config_json, "config_json")?;
        let out = args::required(out, "out")?;
        if plugin.plugin.kind() != PluginKind::Writer {
            return Err(Failure::invalid(format!("plugin '{}' is a reader, not a writer", plugin.plugin.name())));
        }
        let input = PluginStream::new(input, "the caller's stream".into());
        let files = plugin.plugin.write(config, Box::new(input))?;
        ptr::write(out, Box::into_raw(Box::new(DativoFileList::new(&files))));
        Ok(())
    })
}

/// Release the plugin (its vtable's `release`). Streams it produced stay valid. NULL is
/// allowed.
///
/// # Safety
/// `plugin` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dativo_plugin_free(plugin: *mut DativoPlugin) {
    no_panic((), || {
        if !plugin.is_null() {
            drop(Box::from_raw(plugin));
        }
    })
}

/// Provides a plugin the library cannot load itself: called with a job's `custom_reader` or
/// `custom_writer` spec whose file is not a native library (e.g. `/jobs/my_reader.py:MyReader`,
/// the path made absolute relative to the job file), it fills `*vtable` exactly as a plugin's
/// init function would for `abi_version` (returning DATIVO_STATUS_PLUGIN for a version it does
/// not speak). Called on the thread that runs the job; the vtable's functions may then be
/// called from other threads, one at a time.
pub type DativoPluginResolver = Option<
    unsafe extern "C" fn(
        context: *mut c_void,
        spec: *const c_char,
        abi_version: u32,
        vtable: *mut DativoPluginVTable,
        error: *mut DativoError,
    ) -> DativoStatus,
>;

/// A C resolver and its context.
struct CResolver {
    /// Never None: a NULL resolver installs no `CResolver`.
    resolve: DativoPluginResolver,
    context: *mut c_void,
}

// SAFETY: the caller of dativo_job_run_with_resolver promises the context may be used from
// the thread running the job, which is the only one that calls it.
unsafe impl Send for CResolver {}
unsafe impl Sync for CResolver {}

impl PluginResolver for CResolver {
    fn init(
        &self,
        spec: &str,
        abi_version: u32,
        vtable: *mut DativoPluginVTable,
        error: *mut DativoError,
    ) -> DativoStatus {
        let Some(resolve) = self.resolve else { return dativo_abi::DATIVO_STATUS_INTERNAL };
        let spec = c_text(spec);
        // SAFETY: the resolver follows the DativoPluginResolver contract.
        unsafe { resolve(self.context, spec.as_ptr(), abi_version, vtable, error) }
    }
}

/// Gives `job` the plugin loader of `dativo_job_run`, with `resolver` (NULL: none) for its
/// non-native plugins.
pub(crate) fn set_loader(
    job: &mut dativo_engine::job::Job,
    resolver: DativoPluginResolver,
    context: *mut c_void,
) -> Result<(), Failure> {
    let mut loader = if job.uses_plugins() { Loader::from_env()? } else { Loader::default() };
    if resolver.is_some() {
        loader.resolver = Some(Arc::new(CResolver { resolve: resolver, context }));
    }
    job.set_plugin_loader(loader.shared());
    Ok(())
}

/// Like `dativo_job_run`, with `resolver` (and its `context`, passed back as is) providing
/// the job's non-native plugins. Native plugins load as in `dativo_job_run`; both honour
/// `DATIVO_PLUGIN_DIR`. `resolver` may be NULL (then this is `dativo_job_run`).
/// Errors: as `dativo_job_run`, and PLUGIN.
///
/// # Safety
/// As `dativo_job_run`; `resolver` is NULL or follows `DativoPluginResolver`.
#[no_mangle]
pub unsafe extern "C" fn dativo_job_run_with_resolver(
    path: *const c_char,
    resolver: DativoPluginResolver,
    context: *mut c_void,
    out: *mut *mut DativoJobReport,
    error: *mut DativoError,
) -> DativoStatus {
    boundary("dativo_job_run_with_resolver", error, || {
        let out = args::required(out, "out")?;
        let path = args::path(path, "path")?;
        let mut job = dativo_engine::job::load(&path)?;
        set_loader(&mut job, resolver, context)?;
        let report = job.run(&|_| {})?;
        ptr::write(out, DativoJobReport::new(report));
        Ok(())
    })
}
