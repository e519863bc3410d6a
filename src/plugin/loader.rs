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
    /// Refuse a plugin without a sha256 pin, and any plugin when there is no allowed folder
    /// (`dativo run --mode cloud`).
    pub require_pins: bool,
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
    /// `DATIVO_PLUGIN_DIR` as the allowed folder when set, no resolver. Set but empty (or
    /// only blanks), as an unset shell variable gives it, is an error rather than "no
    /// restriction": the allow-list must never turn off by accident.
    pub fn from_env() -> Result<Self> {
        Ok(Loader {
            allow_dir: plugin_dir_from(std::env::var_os(PLUGIN_DIR_ENV))?,
            resolver: None,
            require_pins: false,
        })
    }

    /// The same loader, as the engine takes it.
    pub fn shared(self) -> Arc<dyn PluginLoader> {
        Arc::new(self)
    }
}

/// The allowed plugin folder for a value of `DATIVO_PLUGIN_DIR` (`None`: unset).
fn plugin_dir_from(value: Option<std::ffi::OsString>) -> Result<Option<PathBuf>> {
    match value {
        None => Ok(None),
        Some(v) if v.to_string_lossy().trim().is_empty() => Err(Error::Config(format!(
            "{PLUGIN_DIR_ENV} is set but empty: unset it or give a folder (only plugins inside it may load)"
        ))),
        Some(v) => Ok(Some(PathBuf::from(v))),
    }
}

impl PluginLoader for Loader {
    fn load(&self, plugin: &PluginUse, job: &Path) -> Result<Box<dyn LoadedPlugin>> {
        if self.require_pins {
            if plugin.sha256.is_none() {
                return Err(Error::Plugin(format!(
                    "{} '{}': --mode cloud runs only pinned plugins; add {}_sha256: <sha256sum of the file>",
                    plugin.key, plugin.spec, plugin.key
                )));
            }
            if self.allow_dir.is_none() {
                return Err(Error::Plugin(format!(
                    "{} '{}': --mode cloud runs only plugins from an allowed folder; set {PLUGIN_DIR_ENV}",
                    plugin.key, plugin.spec
                )));
            }
        }
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
    fn open_reader(
        &mut self,
        config_json: &str,
        expected: Option<SchemaRef>,
    ) -> Result<Box<dyn RecordBatchReader + Send>> {
        Ok(Box::new(Plugin::open_reader(self, config_json, expected)?))
    }
    fn write(&mut self, config_json: &str, input: Box<dyn RecordBatchReader + Send>) -> Result<Vec<CommittedFile>> {
        Plugin::write(self, config_json, input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_plugin_dir_variable_is_an_error_not_no_restriction() {
        assert_eq!(plugin_dir_from(None).unwrap(), None);
        assert_eq!(plugin_dir_from(Some("/opt/plugins".into())).unwrap(), Some(PathBuf::from("/opt/plugins")));
        for empty in ["", " ", "\t\n"] {
            let e = plugin_dir_from(Some(empty.into())).unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{e:?}");
            assert_eq!(
                e.to_string(),
                "DATIVO_PLUGIN_DIR is set but empty: unset it or give a folder (only plugins inside it may load)"
            );
        }
    }
}
