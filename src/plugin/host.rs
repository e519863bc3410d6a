//! The host side of the plugin ABI: load a library, agree on an ABI version, check what the
//! plugin filled in, and call it with Arrow streams.

use std::ffi::{c_char, CStr, CString};
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use sha2::{Digest, Sha256};

use dativo_abi::plugin_abi::*;
use dativo_abi::stream::{export, ImportedStream};
use dativo_abi::{ArrowArrayStream, DativoError, DativoStatus, DATIVO_STATUS_OK, DATIVO_STATUS_PLUGIN};
use dativo_engine::job::plugins::{PluginKind, PluginSpec};
use dativo_engine::parquet::CommittedFile;
use dativo_engine::{Error, Result};

use crate::entry;
use crate::legacy::LegacyPlugin;

/// Restrictions on which libraries may be loaded. Loading a plugin runs its code.
#[derive(Debug, Clone, Default)]
pub struct LoadPolicy {
    /// The library's sha256 (hex) must be this.
    pub sha256: Option<String>,
    /// The library must be inside this folder (after resolving symlinks).
    pub allow_dir: Option<PathBuf>,
}

impl LoadPolicy {
    /// Check the plugin file of `spec` against the policy, before anything of it runs; its
    /// canonical path (symlinks resolved) on success. Applies to every plugin file, native
    /// libraries and the modules a host provides alike.
    pub fn check(&self, spec: &PluginSpec) -> Result<PathBuf> {
        let fail = |why: String| Error::Plugin(format!("plugin {spec}: {why}"));
        let canonical = fs::canonicalize(&spec.path).map_err(|e| fail(format!("cannot open the library: {e}")))?;
        if let Some(dir) = &self.allow_dir {
            let allowed = fs::canonicalize(dir)
                .map_err(|e| fail(format!("the allowed plugin folder {} cannot be opened: {e}", dir.display())))?;
            if !canonical.starts_with(&allowed) {
                return Err(fail(format!(
                    "{} is outside the allowed plugin folder {}",
                    canonical.display(),
                    allowed.display()
                )));
            }
        }
        if let Some(expected) = &self.sha256 {
            let actual = sha256_hex(&canonical).map_err(|e| fail(format!("cannot read the library: {e}")))?;
            if !actual.eq_ignore_ascii_case(expected.trim()) {
                return Err(fail(format!("its sha256 is {actual}, but the job pins {}", expected.trim())));
            }
        }
        Ok(canonical)
    }
}

/// A library's entry after [`load_verified`]: what it is, proved from the file and the
/// loaded library, and loaded. The library is never unloaded (see [`Plugin`]), so every
/// function and pointer of it stays valid.
pub(crate) enum VerifiedEntry {
    /// The new ABI's entry function `symbol`, whose tag holds `DATIVO_PLUGIN_ABI_MAGIC`.
    New { init: DativoPluginInit, symbol: String },
    /// A legacy Dativo plugin of `kind` with its create function `create`; the library
    /// exports the whole legacy set.
    Legacy { library: &'static libloading::Library, kind: PluginKind, create: String },
}

/// Everything before the first call of plugin code, for every host of native plugins (the
/// [`Plugin`] host and the [conformance suite](crate::conformance)): the load policy, the
/// file's pre-load check, the entry's ABI decided from the library's symbols, the load (which
/// runs the library's initialisers, nothing else), and the new ABI entry's tag. Returns the
/// library's canonical path and its verified entry; errors start with `plugin <spec>: `. The
/// rules of which entry is called as what: [`Plugin::load`].
pub(crate) fn load_verified(spec: &PluginSpec, policy: &LoadPolicy) -> Result<(PathBuf, VerifiedEntry)> {
    let fail = |why: String| Error::Plugin(format!("plugin {spec}: {why}"));
    if !spec.is_native() {
        return Err(fail(
            "not a native library (.so, .dylib or .dll); Python plugins (module.py:Class) run through the Python \
             package: python -m dativo run --config JOB"
                .into(),
        ));
    }
    let canonical = policy.check(spec)?;
    // The loader maps the file as its headers describe it: a truncated library would be
    // mapped past its end and crash the process (SIGBUS) on first touch.
    crate::elf::check_file(&canonical).map_err(fail)?;
    let exports = entry::Exports::read(&canonical).map_err(fail)?;
    let entry = exports.classify(spec.name.as_deref()).map_err(fail)?;
    // SAFETY: loading a library runs its initialisers; the policy above is how a host limits
    // which libraries that can be.
    let library =
        unsafe { libloading::Library::new(&canonical) }.map_err(|e| fail(format!("cannot load the library: {e}")))?;
    let library = keep_loaded(library);
    let verified = match entry {
        entry::Entry::Legacy { kind, create } => VerifiedEntry::Legacy { library, kind, create },
        entry::Entry::New(symbol) => {
            exports.verify_tag(library, &symbol).map_err(fail)?;
            // SAFETY: the tag says the entry symbol has the ABI's entry type.
            let init: DativoPluginInit = unsafe { library.get::<DativoPluginInit>(symbol.as_bytes()) }
                .map(|s| *s)
                .map_err(|_| fail(format!("the library exports no symbol '{symbol}'")))?;
            VerifiedEntry::New { init, symbol }
        }
    };
    Ok((canonical, verified))
}

/// Keep `library` loaded for the life of the process (see [`Plugin`]). It is also listed in a
/// static, so that memory kept on purpose stays reachable for leak checkers (valgrind).
fn keep_loaded(library: libloading::Library) -> &'static libloading::Library {
    static KEPT: std::sync::Mutex<Vec<&'static libloading::Library>> = std::sync::Mutex::new(Vec::new());
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(library);
    library
}

/// A plugin whose vtable has been filled and checked. Releases the vtable when dropped.
///
/// A library, once loaded, stays loaded for the life of the process: a plugin (and the
/// engine inside a Rust plugin) may have started threads or registered thread-local
/// destructors that still run after its last call returns, and unloading the code under them
/// crashes the host. Loading the same library again reuses it.
pub struct Plugin {
    backend: Backend,
    kind: PluginKind,
    name: String,
    version: Option<String>,
    abi_version: u32,
    /// The spec, for messages.
    label: String,
}

/// What is behind a [`Plugin`].
enum Backend {
    /// The plugin ABI. Boxed: the plugin may keep the address it was given.
    Native(Box<DativoPluginVTable>),
    /// The legacy Dativo JSON ABI, through the adapter.
    Legacy(LegacyPlugin),
}

// SAFETY: the ABI requires a plugin to accept calls from any thread, one at a time; a
// `Plugin` is used through `&mut self` (or consumed), so there is one caller at a time.
unsafe impl Send for Plugin {}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plugin({} {} '{}', ABI {})", self.kind.name(), self.label, self.name, self.abi_version)
    }
}

impl Plugin {
    /// Load the native library of `spec` and initialise its plugin, newest ABI version first.
    ///
    /// Nothing is called that has not proved its signature: the library's dynamic symbols are
    /// read from the file first (on ELF systems), and the spec's symbol is called as the new
    /// ABI's entry only when the library also exports its tag
    /// (`dativo_plugin_abi_<symbol>`, see [`DATIVO_PLUGIN_ABI_TAG_PREFIX`]). A legacy name
    /// (`create_reader`, `create_writer`), or a create function of a library that exports the
    /// legacy Dativo set, is run through the [legacy adapter](crate::legacy). Anything else
    /// is an error naming the symbol and what the library exports.
    pub fn load(spec: &PluginSpec, policy: &LoadPolicy) -> Result<Plugin> {
        let label = spec.to_string();
        let (canonical, entry) = load_verified(spec, policy)?;
        match entry {
            VerifiedEntry::Legacy { library, kind, create } => {
                // SAFETY: the library exports the whole legacy set (checked by
                // `load_verified`), which is what the Dativo bridge trusts as well.
                let legacy = unsafe { LegacyPlugin::new(library, &canonical, &label, kind, &create) }?;
                Ok(Plugin {
                    kind,
                    name: legacy.name().to_string(),
                    version: None,
                    abi_version: 0,
                    label,
                    backend: Backend::Legacy(legacy),
                })
            }
            // SAFETY: `init` follows the ABI's entry signature (its tag says so).
            VerifiedEntry::New { init, .. } => {
                Plugin::negotiate(&label, |version, vtable, error| unsafe { init(version, vtable, error) })
            }
        }
    }

    /// Initialise a plugin through `init` (a library's entry function, or a host's
    /// resolver), asking for every ABI version this host speaks, newest first.
    pub fn negotiate(
        label: &str,
        init: impl Fn(u32, *mut DativoPluginVTable, *mut DativoError) -> DativoStatus,
    ) -> Result<Plugin> {
        let mut refusals = Vec::new();
        for version in (1..=DATIVO_PLUGIN_ABI_VERSION).rev() {
            let mut vtable = Box::new(DativoPluginVTable::empty());
            let mut error = DativoError::default();
            let status = init(version, &mut *vtable, &mut error);
            let message = dativo_abi::error::take_message(&mut error, "no message");
            match status {
                DATIVO_STATUS_OK => return Plugin::check(label, version, vtable),
                DATIVO_STATUS_PLUGIN => refusals.push(format!("version {version}: {message}")),
                _ => return Err(Error::Plugin(format!("plugin {label}: initialisation failed: {message}"))),
            }
        }
        Err(Error::Plugin(format!(
            "plugin {label} speaks none of the plugin ABI versions this dativo speaks (1 to {}): {}",
            DATIVO_PLUGIN_ABI_VERSION,
            refusals.join("; ")
        )))
    }

    /// Check what the plugin filled in for `version`.
    fn check(label: &str, version: u32, vtable: Box<DativoPluginVTable>) -> Result<Plugin> {
        let fail = |why: String| Error::Plugin(format!("plugin {label}: {why}"));
        if vtable.size != DATIVO_PLUGIN_VTABLE_V1_SIZE {
            // A wrong size means the plugin was built against another layout: its release
            // pointer cannot be trusted either, so nothing of it is called (a leak, not a crash).
            return Err(fail(format!(
                "its vtable has size {} but ABI version {version} needs {DATIVO_PLUGIN_VTABLE_V1_SIZE}; rebuild \
                 the plugin against this dativo.h",
                vtable.size
            )));
        }
        // From here on the plugin is released when dropped, also when a check fails.
        let mut plugin = Plugin {
            backend: Backend::Native(vtable),
            kind: PluginKind::Reader,
            name: String::new(),
            version: None,
            abi_version: version,
            label: label.to_string(),
        };
        let Backend::Native(vtable) = &plugin.backend else { unreachable!("built native above") };
        let (kind, name, version, open_reader, write) =
            (vtable.kind, vtable.name, vtable.version, vtable.open_reader.is_some(), vtable.write.is_some());
        plugin.kind = match kind {
            DATIVO_PLUGIN_READER => PluginKind::Reader,
            DATIVO_PLUGIN_WRITER => PluginKind::Writer,
            other => return Err(fail(format!("unknown plugin kind {other} (1 reader, 2 writer)"))),
        };
        // SAFETY: the ABI says these are NULL or NUL-terminated strings valid until release.
        plugin.name = match unsafe { text(name) } {
            Some(name) if !name.is_empty() => name,
            _ => return Err(fail("its vtable has no name".into())),
        };
        plugin.version = unsafe { text(version) };
        let (needed, present) = match plugin.kind {
            PluginKind::Reader => ("open_reader", open_reader),
            PluginKind::Writer => ("write", write),
        };
        if !present {
            return Err(fail(format!("a {} plugin must set {needed}, which is NULL", plugin.kind.name())));
        }
        Ok(plugin)
    }

    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's own version text, if it gave one.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The ABI version host and plugin agreed on; 0 for a plugin of the legacy Dativo JSON
    /// ABI.
    pub fn abi_version(&self) -> u32 {
        self.abi_version
    }

    /// Whether this is a plugin of the legacy Dativo JSON ABI, hosted through the adapter.
    pub fn is_legacy(&self) -> bool {
        matches!(self.backend, Backend::Legacy(_))
    }

    /// The symbol the host calls: the new ABI's entry, or a legacy plugin's create function.
    pub fn entry_symbol<'a>(&'a self, spec: &'a PluginSpec) -> &'a str {
        match &self.backend {
            Backend::Legacy(legacy) => legacy.create_symbol(),
            Backend::Native(_) => spec.name.as_deref().unwrap_or(DATIVO_PLUGIN_INIT_SYMBOL),
        }
    }

    /// How messages name this plugin: `plugin 'name' (spec)`.
    fn origin(&self) -> String {
        format!("plugin '{}' ({})", self.name, self.label)
    }

    fn expect(&self, kind: PluginKind) -> Result<()> {
        if self.kind == kind {
            return Ok(());
        }
        Err(Error::Plugin(format!("{} is a {}, not a {}", self.origin(), self.kind.name(), kind.name())))
    }

    /// Ask a reader plugin for its data. `expected` is the schema the job expects (its asset's,
    /// if any): a legacy plugin's JSON records are typed with it instead of inferred. Plugins
    /// of the new ABI type their own streams and are not told.
    pub fn open_reader(&mut self, config_json: &str, expected: Option<SchemaRef>) -> Result<PluginStream> {
        self.expect(PluginKind::Reader)?;
        let vtable = match &mut self.backend {
            Backend::Legacy(legacy) => {
                let stream = legacy.open_reader(config_json, expected)?;
                return Ok(PluginStream::from_reader(Box::new(stream), self.origin()));
            }
            Backend::Native(vtable) => vtable,
        };
        let config = c_string(config_json, "the plugin config")?;
        let open = vtable.open_reader.expect("checked at load");
        let mut stream = ArrowArrayStream::empty();
        let mut error = DativoError::default();
        // SAFETY: the vtable was checked; the out-structs are valid.
        let status = unsafe { open(&mut **vtable, config.as_ptr(), &mut stream, &mut error) };
        let message = dativo_abi::error::take_message(&mut error, "no message");
        if status != DATIVO_STATUS_OK {
            return Err(dativo_abi::error::Failure::new(status, message).into_error(&self.origin()));
        }
        if stream.is_released() {
            return Err(Error::Plugin(format!("{}: open_reader succeeded but returned no stream", self.origin())));
        }
        // SAFETY: `stream` is a live stream we own.
        let inner = unsafe { ImportedStream::take(&mut stream, "the plugin's stream") }
            .map_err(|f| f.into_error(&self.origin()))?;
        Ok(PluginStream::new(inner, self.origin()))
    }

    /// Hand `input` to a writer plugin; returns the files it committed.
    pub fn write(&mut self, config_json: &str, input: Box<dyn RecordBatchReader + Send>) -> Result<Vec<CommittedFile>> {
        self.expect(PluginKind::Writer)?;
        let vtable = match &mut self.backend {
            Backend::Legacy(legacy) => return legacy.write(config_json, input),
            Backend::Native(vtable) => vtable,
        };
        let config = c_string(config_json, "the plugin config")?;
        let write = vtable.write.expect("checked at load");
        let mut stream = ArrowArrayStream::empty();
        // SAFETY: `stream` is a valid out-struct.
        unsafe { export(input, &mut stream) };
        let mut files: Vec<CommittedFile> = Vec::new();
        let mut sink =
            DativoFileSink { private_data: (&mut files as *mut Vec<CommittedFile>).cast(), add: Some(add_file) };
        let mut error = DativoError::default();
        // SAFETY: the vtable was checked; the stream is moved to the plugin; `sink` lives
        // through the call.
        let status = unsafe { write(&mut **vtable, config.as_ptr(), &mut stream, &mut sink, &mut error) };
        let message = dativo_abi::error::take_message(&mut error, "no message");
        // A plugin that did not release the stream broke the ABI; `stream` releases it when
        // dropped, so nothing leaks either way.
        drop(stream);
        if status != DATIVO_STATUS_OK {
            return Err(dativo_abi::error::Failure::new(status, message).into_error(&self.origin()));
        }
        Ok(files)
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        if let Backend::Native(vtable) = &mut self.backend {
            if let Some(release) = vtable.release {
                // SAFETY: called once, after the last use.
                unsafe { release(&mut **vtable) };
            }
        }
    }
}

/// A stream from foreign code as a `RecordBatchReader`: a reader plugin's (an Arrow C stream,
/// or the legacy adapter's), or the host's stream inside a writer plugin.
pub struct PluginStream {
    inner: StreamSource,
    origin: String,
    /// After an error the stream is not read again (its producer may be in any state).
    failed: bool,
}

enum StreamSource {
    Imported(ImportedStream),
    Reader(Box<dyn RecordBatchReader + Send>),
}

impl std::fmt::Debug for PluginStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PluginStream({})", self.origin)
    }
}

impl PluginStream {
    /// `origin` starts every error message (`plugin 'x' (lib.so)`).
    pub fn new(inner: ImportedStream, origin: String) -> Self {
        PluginStream { inner: StreamSource::Imported(inner), origin, failed: false }
    }

    /// A stream whose errors already name their origin (the legacy adapter's).
    fn from_reader(inner: Box<dyn RecordBatchReader + Send>, origin: String) -> Self {
        PluginStream { inner: StreamSource::Reader(inner), origin, failed: false }
    }
}

impl Iterator for PluginStream {
    type Item = std::result::Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = match &mut self.inner {
            StreamSource::Imported(inner) => {
                let origin = &self.origin;
                inner.next_batch()?.map_err(|f| ArrowError::from(f.into_error(origin)))
            }
            StreamSource::Reader(inner) => inner.next()?,
        };
        if item.is_err() {
            self.failed = true;
        }
        Some(item)
    }
}

impl RecordBatchReader for PluginStream {
    fn schema(&self) -> SchemaRef {
        match &self.inner {
            StreamSource::Imported(inner) => inner.schema().clone(),
            StreamSource::Reader(inner) => inner.schema(),
        }
    }
}

/// `DativoFileSink.add` of [`Plugin::write`].
unsafe extern "C" fn add_file(sink: *mut DativoFileSink, path: *const c_char, rows: u64, bytes: u64) -> DativoStatus {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if sink.is_null() || path.is_null() {
            return dativo_abi::DATIVO_STATUS_INVALID_ARGUMENT;
        }
        let Ok(path) = CStr::from_ptr(path).to_str() else { return dativo_abi::DATIVO_STATUS_INVALID_ARGUMENT };
        let files = &mut *(*sink).private_data.cast::<Vec<CommittedFile>>();
        files.push(CommittedFile { path: PathBuf::from(path), rows, bytes });
        DATIVO_STATUS_OK
    }));
    outcome.unwrap_or(dativo_abi::DATIVO_STATUS_INTERNAL)
}

/// A C string from a plugin; None for NULL. Invalid UTF-8 is replaced.
unsafe fn text(p: *const c_char) -> Option<String> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
}

fn c_string(text: &str, what: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::Config(format!("{what} contains a NUL character")))
}

/// The sha256 of a file, as lowercase hex.
pub fn sha256_hex(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
