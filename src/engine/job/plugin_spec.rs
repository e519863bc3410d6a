//! Plugin specs as a job writes them: `path/to/lib.so:symbol`, `path/to/lib.so` (default
//! entry symbol), or `path/to/module.py:ClassName` (a plugin only a host such as the Python
//! package can provide).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// File extensions of libraries the engine loads itself.
const NATIVE_EXTENSIONS: [&str; 3] = ["so", "dylib", "dll"];

/// A parsed plugin spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    /// The library or module file.
    pub path: PathBuf,
    /// The entry symbol (native) or class name (Python); None for the default.
    pub name: Option<String>,
}

impl PluginSpec {
    /// Parse `text`. The name is what follows the last `:` after the last path separator, so
    /// `C:\plugins\x.dll` has no name and `C:\plugins\x.dll:init` names `init`.
    pub fn parse(text: &str) -> Result<PluginSpec> {
        let bad = |why: &str| Error::Config(format!("plugin '{text}': {why} (expected path/to/lib.so:symbol)"));
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(bad("the spec is empty"));
        }
        let file_start = trimmed.rfind(['/', '\\']).map_or(0, |i| i + 1);
        let (path, name) = match trimmed[file_start..].rfind(':') {
            Some(i) => {
                let colon = file_start + i;
                (&trimmed[..colon], Some(&trimmed[colon + 1..]))
            }
            None => (trimmed, None),
        };
        if path.is_empty() {
            return Err(bad("the library path before ':' is empty"));
        }
        if let Some(name) = name {
            if name.is_empty() {
                return Err(bad("the name after ':' is empty"));
            }
            let mut chars = name.chars();
            let valid = chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
            if !valid {
                return Err(bad(&format!("'{name}' is not a valid symbol or class name")));
            }
        }
        Ok(PluginSpec { path: PathBuf::from(path), name: name.map(str::to_string) })
    }

    /// Whether the engine can load this spec itself: a `.so` (also `.so.1`), `.dylib` or
    /// `.dll` file.
    pub fn is_native(&self) -> bool {
        let Some(file) = self.path.file_name().and_then(|f| f.to_str()) else { return false };
        let mut parts = file.split('.').skip(1);
        parts.any(|ext| NATIVE_EXTENSIONS.iter().any(|n| ext.eq_ignore_ascii_case(n)))
    }

    /// The same spec with a relative path made relative to `base` instead of the working
    /// directory.
    pub fn relative_to(&self, base: &Path) -> PluginSpec {
        if self.path.is_absolute() || base.as_os_str().is_empty() {
            return self.clone();
        }
        PluginSpec { path: crate::job::normalize(&base.join(&self.path)), name: self.name.clone() }
    }
}

impl fmt::Display for PluginSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}:{name}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> PluginSpec {
        PluginSpec::parse(text).unwrap()
    }

    #[test]
    fn paths_names_and_kinds() {
        let s = spec("plugins/libcsv.so:make_reader");
        assert_eq!((s.path.as_path(), s.name.as_deref()), (Path::new("plugins/libcsv.so"), Some("make_reader")));
        assert!(s.is_native());
        assert_eq!(spec("lib/x.so").name, None);
        assert!(spec("lib/libx.so.1").is_native());
        assert!(spec("x.DLL").is_native());
        assert!(spec("x.dylib:init").is_native());
        let py = spec("readers/my_reader.py:MyReader");
        assert!(!py.is_native());
        assert_eq!(py.name.as_deref(), Some("MyReader"));
        let win = spec(r"C:\plugins\x.dll");
        assert_eq!((win.path.as_path(), win.name), (Path::new(r"C:\plugins\x.dll"), None));
        assert_eq!(spec(r"C:\plugins\x.dll:init").name.as_deref(), Some("init"));
        assert_eq!(spec("a/x.so:init").to_string(), "a/x.so:init");
    }

    #[test]
    fn malformed_specs_say_what_is_wrong() {
        for (text, why) in [
            ("", "the spec is empty"),
            ("lib.so:", "the name after ':' is empty"),
            (":init", "the library path before ':' is empty"),
            ("lib.so:1init", "'1init' is not a valid symbol or class name"),
            ("lib.so:a-b", "'a-b' is not a valid symbol or class name"),
        ] {
            let e = PluginSpec::parse(text).unwrap_err().to_string();
            assert!(e.contains(why), "{text:?}: {e}");
            assert!(e.contains("expected path/to/lib.so:symbol"), "{e}");
        }
    }

    #[test]
    fn relative_paths_follow_the_job_folder() {
        let s = spec("../plugins/x.so:init").relative_to(Path::new("/jobs/daily"));
        assert_eq!(s.path, Path::new("/jobs/plugins/x.so"));
        assert_eq!(spec("/abs/x.so").relative_to(Path::new("/jobs")).path, Path::new("/abs/x.so"));
    }
}
