//! The job file as written: serde structs that refuse unknown keys (loaded with
//! [`crate::yaml::from_yaml`], whose messages name the key, the line and the nearest valid key).
//!
//! Three kinds of keys besides the supported ones:
//! - Dativo platform metadata that does not change what is read or written (`finops`,
//!   `classification_overrides`, ...): accepted and ignored;
//! - Dativo keys whose meaning dativo does not implement (`source_connector`,
//!   `source.incremental.cursor_field`, `target.catalog`, ...): a clear "not supported" error, because
//!   ignoring them would silently do something else than the user asked;
//! - anything else: "unknown key", with a suggestion when a valid key is close.

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::schema::{AssetDoc, ValidationMode};

pub use crate::yaml::{from_yaml, suggest};

/// A YAML scalar read as text (`tenant_id: 42` and `tenant_id: "42"` are both fine).
pub use crate::schema::asset::Scalar;

/// The whole job file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    #[serde(default)]
    pub tenant_id: Option<Scalar>,
    #[serde(default)]
    pub environment: Option<Scalar>,
    #[serde(default)]
    pub asset_path: Option<String>,
    #[serde(default)]
    pub asset: Option<AssetRef>,
    #[serde(default)]
    pub schema_validation_mode: Option<ValidationMode>,
    pub source: SourceConfig,
    pub target: TargetConfig,
    #[serde(default)]
    pub logging: Option<LoggingConfig>,

    // Dativo platform metadata: accepted, ignored.
    #[serde(default)]
    pub finops: Option<IgnoredAny>,
    #[serde(default)]
    pub classification_overrides: Option<IgnoredAny>,
    #[serde(default)]
    pub governance_overrides: Option<IgnoredAny>,
    #[serde(default)]
    pub retry_config: Option<IgnoredAny>,
    #[serde(default)]
    pub infrastructure: Option<IgnoredAny>,

    // Dativo platform connector recipes: loaded, their defaults merged under the job's keys.
    /// The source connector's name (informational; the recipe at the path is what counts).
    #[serde(default)]
    pub source_connector: Option<Scalar>,
    #[serde(default)]
    pub source_connector_path: Option<String>,
    #[serde(default)]
    pub target_connector: Option<Scalar>,
    #[serde(default)]
    pub target_connector_path: Option<String>,

    // Dativo platform blocks dativo cannot serve yet: "not supported" errors (see resolve.rs).
    /// Data catalog integration (lineage and metadata push).
    #[serde(default)]
    pub catalog: Option<IgnoredAny>,
    #[serde(default)]
    pub plugins: Option<PluginsConfig>,
}

/// The platform's `plugins:` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// Running plugins in a container sandbox: refused (dativo loads plugins in process).
    #[serde(default)]
    pub sandbox: Option<IgnoredAny>,
}

/// A Dativo platform connector recipe (`source_connector_path`, `target_connector_path`):
/// defaults for one side of a job. `O` is the options type of the side it serves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "O: Deserialize<'de>"))]
pub struct ConnectorRecipe<O> {
    #[serde(default)]
    pub name: Option<Scalar>,
    /// The source or target type the recipe gives the job (`csv`, `s3`, `iceberg`, ...).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<IgnoredAny>,
    #[serde(default)]
    pub default_engine: Option<RecipeEngine<O>>,
    /// `credentials: {type: none}` for files; other credentials belong to sources dativo
    /// does not read.
    #[serde(default)]
    pub credentials: Option<IgnoredAny>,
    /// Defaults merged under the job's `source.incremental`, when the job enables it.
    #[serde(default)]
    pub incremental: Option<RecipeIncremental>,
    #[serde(default)]
    pub rate_limits: Option<IgnoredAny>,
    /// Defaults merged under the job's `target.connection` (a source recipe's: under
    /// `source.connection`), key by key; see `resolve/lake.rs` [`Template`](super::resolve).
    #[serde(default)]
    pub connection_template: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub catalog: Option<IgnoredAny>,
    #[serde(default)]
    pub file_format: Option<String>,
    #[serde(default)]
    pub partitioning_default: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "O: Deserialize<'de>"))]
pub struct RecipeEngine<O> {
    #[serde(default, rename = "type")]
    pub kind: Option<Scalar>,
    #[serde(default = "none")]
    pub options: Option<O>,
}

fn none<T>() -> Option<T> {
    None
}

/// A recipe's `incremental` defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeIncremental {
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub lookback_days_default: Option<u32>,
}

/// `asset:` is either a name (informational) or an inline asset (same keys as an asset file).
#[derive(Debug)]
pub enum AssetRef {
    Name(String),
    Inline(Box<AssetDoc>),
}

impl<'de> Deserialize<'de> for AssetRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = AssetRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an asset name or an inline asset (a mapping with name and schema)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<AssetRef, E> {
                Ok(AssetRef::Name(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> std::result::Result<AssetRef, A::Error> {
                let doc = AssetDoc::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(AssetRef::Inline(Box::new(doc)))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    #[serde(default)]
    pub level: Option<String>,
    /// Accepted for compatibility; secrets are always redacted.
    #[serde(default)]
    pub redaction: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub description: Option<IgnoredAny>,
    #[serde(default)]
    pub files: Option<Vec<FileConfig>>,
    #[serde(default)]
    pub engine: Option<ReaderEngine>,

    /// A reader plugin, `path/to/lib.so:symbol` (or `module.py:Class` through the Python
    /// package); the other source keys are then passed to it as its config.
    #[serde(default)]
    pub custom_reader: Option<String>,
    /// The sha256 (hex) the reader plugin's file must have.
    #[serde(default)]
    pub custom_reader_sha256: Option<String>,

    // Refused (see `Job::load`) unless a custom reader takes them.
    /// Incremental runs (see [`crate::job::state`]).
    #[serde(default)]
    pub incremental: Option<IncrementalConfig>,
    #[serde(default)]
    pub connection: Option<IgnoredAny>,
    #[serde(default)]
    pub credentials: Option<IgnoredAny>,
    #[serde(default)]
    pub objects: Option<IgnoredAny>,
    #[serde(default)]
    pub tables: Option<IgnoredAny>,
    #[serde(default)]
    pub sheets: Option<IgnoredAny>,
    #[serde(default)]
    pub dsn: Option<IgnoredAny>,
    #[serde(default)]
    pub rate_limits: Option<IgnoredAny>,
}

impl SourceConfig {
    /// The refused platform keys present, by name.
    pub fn platform_keys(&self) -> Vec<&'static str> {
        let keys = [
            ("connection", self.connection.is_some()),
            ("credentials", self.credentials.is_some()),
            ("objects", self.objects.is_some()),
            ("tables", self.tables.is_some()),
            ("sheets", self.sheets.is_some()),
            ("dsn", self.dsn.is_some()),
            ("rate_limits", self.rate_limits.is_some()),
        ];
        keys.iter().filter(|(_, present)| *present).map(|(k, _)| *k).collect()
    }
}

/// `source.incremental`, as in Dativo jobs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrementalConfig {
    /// `file_modified_time` or `file_fingerprint`; other Dativo strategies are refused.
    #[serde(default)]
    pub strategy: Option<String>,
    /// The state file; default `<output_base>/_dativo_state.json`.
    #[serde(default)]
    pub state_path: Option<String>,
    /// Files modified within this many days are ingested again even when unchanged.
    #[serde(default)]
    pub lookback_days: Option<u32>,
    /// Dativo's row-cursor strategies: refused (dativo tracks whole files).
    #[serde(default)]
    pub cursor_field: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub path: String,
    #[serde(default)]
    pub id: Option<Scalar>,
    #[serde(default)]
    pub object: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderEngine {
    /// Informational (e.g. `native`, `arrow`); dativo always uses its own reader.
    #[serde(default, rename = "type")]
    pub kind: Option<Scalar>,
    /// Read by [`engine_options`]: typed as [`ReaderOptions`] for dativo's reader, passed
    /// through untouched to a custom reader.
    #[serde(default)]
    pub options: Option<IgnoredAny>,
}

/// `source.engine.options`. The platform's spellings are aliases (`quote_char` for `quote`,
/// `chunk_size` for `batch_size`), and its nested `native:` mapping (which also names the
/// Python library it used) gives the same keys; the keys beside `native` win.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderOptions {
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Ends every record before its line break (`&|`); `""` means plain line breaks.
    #[serde(default)]
    pub record_terminator: Option<String>,
    #[serde(default, alias = "quote_char")]
    pub quote: Option<String>,
    #[serde(default)]
    pub escape: Option<String>,
    #[serde(default)]
    pub header: Option<bool>,
    #[serde(default)]
    pub column_names: Option<Vec<String>>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub null_values: Option<Vec<String>>,
    /// Types pinned by column name (asset type names); the other columns are inferred.
    #[serde(default)]
    pub column_types: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    pub skip_rows: Option<usize>,
    #[serde(default, alias = "chunk_size")]
    pub batch_size: Option<usize>,
    #[serde(default)]
    pub infer_sample_rows: Option<usize>,
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub on_error: Option<OnErrorName>,
    #[serde(default)]
    pub rejects_path: Option<String>,
    #[serde(default)]
    pub max_rejects: Option<u64>,
    #[serde(default)]
    pub max_line_bytes: Option<usize>,
    #[serde(default)]
    pub threads: Option<usize>,
    /// The platform's engine options, one level down.
    #[serde(default)]
    pub native: Option<Box<ReaderOptions>>,
    /// The Python library the platform used (`pandas`) and its version: informational.
    #[serde(default)]
    pub library: Option<IgnoredAny>,
    #[serde(default)]
    pub library_version: Option<IgnoredAny>,
}

/// `a.or(b)`: the options of `a`, with every key `a` leaves unset taken from `b`.
macro_rules! options_or {
    ($ty:ident { $($field:ident),* $(,)? } ignoring { $($ignored:ident),* }) => {
        impl $ty {
            pub fn or(self, base: $ty) -> $ty {
                $ty { $($field: self.$field.or(base.$field),)* $($ignored: None,)* native: None }
            }

            /// The options with their `native:` keys moved up (the keys beside it win).
            pub fn flattened(mut self) -> $ty {
                match self.native.take() {
                    Some(native) => self.or(native.flattened()),
                    None => self,
                }
            }
        }
    };
}

options_or!(ReaderOptions {
    delimiter, record_terminator, quote, escape, header, column_names, comment, null_values, column_types, skip_rows,
    batch_size, infer_sample_rows, encoding, on_error, rejects_path, max_rejects, max_line_bytes, threads
} ignoring { library, library_version });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnErrorName {
    Fail,
    Skip,
    Reject,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub description: Option<IgnoredAny>,
    #[serde(default)]
    pub output_base: Option<String>,
    #[serde(default)]
    pub file_format: Option<String>,
    #[serde(default)]
    pub parquet_target_size_mb: Option<f64>,
    #[serde(default)]
    pub engine: Option<WriterEngine>,

    /// A writer plugin, like `source.custom_reader`; the target keys are its config.
    #[serde(default)]
    pub custom_writer: Option<String>,
    /// The sha256 (hex) the writer plugin's file must have.
    #[serde(default)]
    pub custom_writer_sha256: Option<String>,

    /// Hive partition columns (`[]`: unpartitioned); see `parquet/partitioned.rs`.
    #[serde(default)]
    pub partitioning: Option<Vec<String>>,
    // Refused (see `Job::load`) unless a custom writer takes them.
    #[serde(default)]
    pub catalog: Option<IgnoredAny>,
    #[serde(default)]
    pub warehouse: Option<IgnoredAny>,
    #[serde(default)]
    pub branch: Option<IgnoredAny>,
    #[serde(default)]
    pub connection: Option<IgnoredAny>,
}

impl TargetConfig {
    /// The refused keys present, by name.
    pub fn unsupported_keys(&self) -> Vec<&'static str> {
        let keys = [
            ("catalog", self.catalog.is_some()),
            ("warehouse", self.warehouse.is_some()),
            ("branch", self.branch.is_some()),
            ("connection", self.connection.is_some()),
        ];
        keys.iter().filter(|(_, present)| *present).map(|(k, _)| *k).collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriterEngine {
    /// Informational.
    #[serde(default, rename = "type")]
    pub kind: Option<Scalar>,
    /// Read by [`engine_options`], like `source.engine.options`.
    #[serde(default)]
    pub options: Option<IgnoredAny>,
}

/// `source.engine.options` (`side` = "source") or `target.engine.options` ("target") of the
/// job `text`, typed as `T`. The job is parsed a second time for just this key so that its
/// errors keep their key path, line and suggestion, while a plugin's options (which only the
/// plugin understands) are never checked here. None when the key is absent.
pub fn engine_options<T: serde::de::DeserializeOwned>(text: &str, label: &str, side: &str) -> crate::Result<Option<T>> {
    #[derive(Deserialize)]
    struct Engine<T> {
        #[serde(default = "none")]
        options: Option<T>,
    }
    #[derive(Deserialize)]
    struct Side<T> {
        #[serde(default = "none")]
        engine: Option<Engine<T>>,
    }
    // Only the side asked for is typed; the other keys, including the other side, are skipped.
    #[derive(Deserialize)]
    struct Source<T> {
        #[serde(default = "none")]
        source: Option<Side<T>>,
    }
    #[derive(Deserialize)]
    struct Target<T> {
        #[serde(default = "none")]
        target: Option<Side<T>>,
    }
    fn none<T>() -> Option<T> {
        None
    }
    let side = match side {
        "source" => from_yaml::<Source<T>>(text, label)?.source,
        _ => from_yaml::<Target<T>>(text, label)?.target,
    };
    Ok(side.and_then(|s| s.engine).and_then(|e| e.options))
}

/// `target.engine.options`, with the platform's spellings (`batch_size_rows` for
/// `row_group_size`, `max_file_size_mb`) and its nested `native:` mapping, as for the reader.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriterOptions {
    #[serde(default)]
    pub compression: Option<String>,
    #[serde(default)]
    pub compression_level: Option<i32>,
    #[serde(default, alias = "batch_size_rows")]
    pub row_group_size: Option<usize>,
    #[serde(default)]
    pub max_rows_per_file: Option<u64>,
    /// Roll to a new file past this size (as `target.parquet_target_size_mb`, which wins).
    #[serde(default)]
    pub max_file_size_mb: Option<f64>,
    #[serde(default)]
    pub statistics: Option<bool>,
    #[serde(default)]
    pub adaptive_compression: Option<bool>,
    #[serde(default)]
    pub write_mode: Option<WriteModeName>,
    #[serde(default)]
    pub threads: Option<usize>,
    /// The platform's default partition columns, under `target.partitioning`.
    #[serde(default)]
    pub partition_by_default: Option<Vec<String>>,
    /// With partitioning: partitions with a file open at once.
    #[serde(default)]
    pub max_open_partitions: Option<usize>,
    #[serde(default)]
    pub native: Option<Box<WriterOptions>>,
    #[serde(default)]
    pub library: Option<IgnoredAny>,
    #[serde(default)]
    pub library_version: Option<IgnoredAny>,
}

options_or!(WriterOptions {
    compression, compression_level, row_group_size, max_rows_per_file, max_file_size_mb, statistics,
    adaptive_compression, write_mode, threads, partition_by_default, max_open_partitions
} ignoring { library, library_version });

/// `write_mode` as written; see [`crate::parquet::WriteMode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteModeName {
    Overwrite,
    Append,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Top {
        outer: Inner,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        delimiter: Option<String>,
        on_error: Option<OnErrorName>,
        n: Option<usize>,
    }

    #[test]
    fn yaml_errors_name_key_line_and_suggestion() {
        let e = from_yaml::<Top>("outer:\n  delimiter: ';'\n  delimeter: ','\n", "job.yaml").unwrap_err();
        assert!(matches!(e, Error::Config(_)));
        assert_eq!(
            e.to_string(),
            "job.yaml: unknown key 'outer.delimeter' (line 3, column 3); did you mean 'delimiter'?"
        );
        let e = from_yaml::<Top>("outer:\n  zzz: 1\n", "job.yaml").unwrap_err().to_string();
        assert_eq!(e, "job.yaml: unknown key 'outer.zzz' (line 2, column 3)");
        let e = from_yaml::<Top>("outer:\n  on_error: skp\n", "job.yaml").unwrap_err().to_string();
        assert_eq!(
            e,
            "job.yaml: outer.on_error: 'skp' is not valid (expected one of: fail, skip, reject) (line 2, column 13); did you mean 'skip'?"
        );
        let e = from_yaml::<Top>("outer:\n  n: -3\n", "job.yaml").unwrap_err().to_string();
        assert!(e.starts_with("job.yaml: outer.n: invalid type: integer `-3`, expected usize"), "{e}");
        assert!(e.ends_with("(line 2, column 6)"), "{e}");
        let e = from_yaml::<Top>("other: 1\n", "job.yaml").unwrap_err().to_string();
        assert!(e.starts_with("job.yaml: unknown key 'other' (line 1, column 1)"), "{e}");
        let e = from_yaml::<Top>("outer: {}\nouter: {}\n", "job.yaml").unwrap_err().to_string();
        assert!(e.starts_with("job.yaml: "), "{e}");
        let e = from_yaml::<Top>("# nothing\n\n", "job.yaml").unwrap_err().to_string();
        assert_eq!(e, "job.yaml: the file is empty");
        let e = from_yaml::<Top>("outer: [unclosed\n", "job.yaml").unwrap_err().to_string();
        assert!(e.starts_with("job.yaml: ") && e.contains("line"), "{e}");
    }
}
