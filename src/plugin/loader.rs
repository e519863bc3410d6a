//! The plugin loader jobs use: native libraries are loaded here, other plugins
//! (`module.py:Class`) come from a [`PluginResolver`] the host installs (the Python package
//! does), and every plugin file is checked against the job's sha256 pin and the allowed
//! plugin folder before any of its code runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatchReader;
use arrow_schema::SchemaRef;
use dativo_abi::plugin_abi::DativoPluginVTable;
use dativo_abi::{DativoError, DativoStatus};
use dativo_engine::job::plugins::{LoadedPlugin, PluginKind, PluginLoader, PluginUse};
use dativo_engine::parquet::CommittedFile;
use dativo_engine::{Error, Result};

use crate::host::{LoadPolicy, Plugin};

/// Environment variable naming the only folder plugins may be loaded from.
pub const PLUGIN_DIR_ENV: &str = "DATIVO_PLUGIN_DIR";

/// Provides plugins the engine cannot load itself (e.g. `module.py:Class`): fills `vtable` as
/// a plugin's init function would, for `abi_version`.
pub trait PluginResolver: Send + Sync {
    fn init(
        &self,
        spec: &str,
        abi_version: u32,
        vtable: *mut DativoPluginVTable,
        error: *mut DativoError,
    ) -> DativoStatus;
}

/// Where a job's plugins may come from.
#[derive(Clone, Default)]
pub struct Loader {
    /// Only libraries inside this folder load (`--plugin-dir`, or `DATIVO_PLUGIN_DIR`).
    pub allow_dir: Option<PathBuf>,
    /// Provides non-native plugins.
    pub resolver: Option<Arc<dyn PluginResolver>>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("allow_dir", &self.allow_dir)
            .field("resolver", &self.resolver.is_some())
            .finish()
    }
}

impl Loader {
    /// `DATIVO_PLUGIN_DIR` when set (and not empty), no resolver.
    pub fn from_env() -> Self {
        let allow_dir = std::env::var_os(PLUGIN_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        Loader { allow_dir, resolver: None }
    }

    /// The same loader, as the engine takes it.
    pub fn shared(self) -> Arc<dyn PluginLoader> {
        Arc::new(self)
    }
}

impl PluginLoader for Loader {
    fn load(&self, plugin: &PluginUse, job: &Path) -> Result<Box<dyn LoadedPlugin>> {
        let policy = LoadPolicy { sha256: plugin.sha256.clone(), allow_dir: self.allow_dir.clone() };
        let loaded = if plugin.spec.is_native() {
            Plugin::load(&plugin.spec, &policy)?
        } else {
            let Some(resolver) = &self.resolver else {
                return Err(Error::Plugin(format!(
                    "{} '{}' is not a native library (.so, .dylib or .dll); Python plugins (module.py:Class) \
                     run through the Python package: python -m dativo run --config {}",
                    plugin.key,
                    plugin.spec,
                    job.display()
                )));
            };
            // The host finds the file itself; the engine only enforces the policy on it.
            if policy.sha256.is_some() || policy.allow_dir.is_some() {
                policy.check(&plugin.spec)?;
            }
            let spec = plugin.spec.to_string();
            Plugin::negotiate(&spec, |version, vtable, error| resolver.init(&spec, version, vtable, error))?
        };
        Ok(Box::new(loaded))
    }
}

impl LoadedPlugin for Plugin {
    fn kind(&self) -> PluginKind {
        Plugin::kind(self)
    }
    fn name(&self) -> &str {
        Plugin::name(self)
    }
    fn version(&self) -> Option<&str> {
        Plugin::version(self)
    }
    fn abi_version(&self) -> u32 {
        Plugin::abi_version(self)
    }
    fn open_reader(&mut self, config_json: &str) -> Result<Box<dyn RecordBatchReader + Send>> {
        Ok(Box::new(Plugin::open_reader(self, config_json)?))
    }
    fn open_reader_with_schema(
        &mut self,
        config_json: &str,
        expected: Option<SchemaRef>,
    ) -> Result<Box<dyn RecordBatchReader + Send>> {
        Ok(Box::new(Plugin::open_reader_with_schema(self, config_json, expected)?))
    }
    fn write(&mut self, config_json: &str, input: Box<dyn RecordBatchReader + Send>) -> Result<Vec<CommittedFile>> {
        Plugin::write(self, config_json, input)
    }
}
