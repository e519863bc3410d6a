//! The job file as written: serde structs that refuse unknown keys, and the YAML loading that
//! turns serde's errors into messages naming the key, the line and the nearest valid key.
//!
//! Three kinds of keys besides the supported ones:
//! - Dativo platform metadata that does not change what is read or written (`finops`,
//!   `classification_overrides`, ...): accepted and ignored;
//! - Dativo keys whose meaning dativo does not implement (`source_connector`,
//!   `source.incremental`, `target.partitioning`, ...): a clear "not supported" error, because
//!   ignoring them would silently do something else than the user asked;
//! - anything else: "unknown key", with a suggestion when a valid key is close.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;

use crate::schema::{AssetDoc, ValidationMode};
use crate::{Error, Result};

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Deserialize YAML `text` into `T`; `label` (usually the file path) starts every message.
///
/// Unknown keys become `label: unknown key 'a.b.c' (line 9, column 7); did you mean 'd'?`,
/// other errors `label: a.b.c: <what is wrong> (line 9, column 7)`.
pub fn from_yaml<T: DeserializeOwned>(text: &str, label: &str) -> Result<T> {
    if text.trim().is_empty() || text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(Error::Config(format!("{label}: the file is empty")));
    }
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| yaml_error(label, e))
}

fn yaml_error(label: &str, e: serde_path_to_error::Error<serde_yaml_ng::Error>) -> Error {
    let path = e.path().to_string();
    let inner = e.inner();
    let location = inner.location();
    let mut message = inner.to_string();
    if let Some(loc) = &location {
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_string();
        }
    }
    // serde_yaml_ng may prefix its own path ("a.b: message"); we print ours.
    if let Some((head, tail)) = message.split_once(": ") {
        if !head.contains(char::is_whitespace) && !head.is_empty() {
            message = tail.to_string();
        }
    }
    let at = location.map(|l| format!(" (line {}, column {})", l.line(), l.column())).unwrap_or_default();

    if let Some((word, expected)) = parse_unknown(&message, "unknown field `") {
        // serde_path_to_error's path ends with the unknown key itself.
        let key_path = if path == "." || path.is_empty() {
            word.clone()
        } else if path.ends_with(word.as_str()) {
            path.clone()
        } else {
            format!("{path}.{word}")
        };
        let candidates: Vec<&str> = expected.iter().map(String::as_str).filter(|c| !c.starts_with('_')).collect();
        let hint = suggest(&word, &candidates).map(|s| format!("; did you mean '{s}'?")).unwrap_or_default();
        return Error::Config(format!("{label}: unknown key '{key_path}'{at}{hint}"));
    }
    if let Some((word, expected)) = parse_unknown(&message, "unknown variant `") {
        let candidates: Vec<&str> = expected.iter().map(String::as_str).collect();
        let hint = suggest(&word, &candidates).map(|s| format!("; did you mean '{s}'?")).unwrap_or_default();
        return Error::Config(format!(
            "{label}: {path}: '{word}' is not valid (expected one of: {}){at}{hint}",
            expected.join(", ")
        ));
    }
    if path == "." || path.is_empty() {
        Error::Config(format!("{label}: {message}{at}"))
    } else {
        Error::Config(format!("{label}: {path}: {message}{at}"))
    }
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a`", or
/// "there are no fields"): the word and the expected names.
fn parse_unknown(message: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    let word = rest[..end].to_string();
    let expected: Vec<String> = rest[end + 1..].split('`').skip(1).step_by(2).map(str::to_string).collect();
    Some((word, expected))
}

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

    // Dativo keys dativo refuses (see `Job::load`).
    #[serde(default)]
    pub source_connector: Option<IgnoredAny>,
    #[serde(default)]
    pub source_connector_path: Option<IgnoredAny>,
    #[serde(default)]
    pub target_connector: Option<IgnoredAny>,
    #[serde(default)]
    pub target_connector_path: Option<IgnoredAny>,
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

    // Refused (see `Job::load`).
    #[serde(default)]
    pub custom_reader: Option<IgnoredAny>,
    #[serde(default)]
    pub incremental: Option<IgnoredAny>,
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
    #[serde(default)]
    pub options: Option<ReaderOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderOptions {
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default)]
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
    #[serde(default)]
    pub skip_rows: Option<usize>,
    #[serde(default)]
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
}

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

    // Refused (see `Job::load`).
    #[serde(default)]
    pub custom_writer: Option<IgnoredAny>,
    #[serde(default)]
    pub partitioning: Option<IgnoredAny>,
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
            ("custom_writer", self.custom_writer.is_some()),
            ("partitioning", self.partitioning.is_some()),
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
    #[serde(default)]
    pub options: Option<WriterOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriterOptions {
    #[serde(default)]
    pub compression: Option<String>,
    #[serde(default)]
    pub compression_level: Option<i32>,
    #[serde(default)]
    pub row_group_size: Option<usize>,
    #[serde(default)]
    pub max_rows_per_file: Option<u64>,
    #[serde(default)]
    pub statistics: Option<bool>,
    #[serde(default)]
    pub write_mode: Option<WriteModeName>,
}

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

    #[test]
    fn suggestions_only_when_close() {
        let keys = ["delimiter", "quote", "escape", "header"];
        assert_eq!(suggest("delimeter", &keys), Some("delimiter"));
        assert_eq!(suggest("qoute", &keys), Some("quote"));
        assert_eq!(suggest("hdr", &keys), None);
        assert_eq!(suggest("compression", &keys), None);
    }

    #[test]
    fn parse_unknown_variants_of_serde_message() {
        let (w, e) = parse_unknown("unknown field `x`, expected one of `a`, `b`", "unknown field `").unwrap();
        assert_eq!((w.as_str(), e), ("x", vec!["a".to_string(), "b".to_string()]));
        let (_, e) = parse_unknown("unknown field `x`, expected `a`", "unknown field `").unwrap();
        assert_eq!(e, ["a"]);
        let (_, e) = parse_unknown("unknown field `x`, there are no fields", "unknown field `").unwrap();
        assert!(e.is_empty());
        assert!(parse_unknown("missing field `x`", "unknown field `").is_none());
    }

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
        assert_eq!(e.to_string(), "job.yaml: unknown key 'outer.delimeter' (line 3, column 3); did you mean 'delimiter'?");
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
