//! The Dativo asset file: a named, versioned list of typed fields.
//!
//! Two layouts are accepted:
//! ```yaml
//! asset:                      # wrapped (Dativo)
//!   name: users
//!   version: "1.0"
//!   schema:
//!     - {name: id, type: integer, required: true}
//! ```
//! or the same keys at the top level (ODCS style), next to metadata keys such as `$schema`,
//! `apiVersion`, `kind`, `id`, `status`, `tenant`, `description`, `tags`, `source_type`,
//! `object`, `data_quality`, `team`, `compliance`, `change_management`, `finops`, which are
//! accepted and ignored. `domain`, `dataProduct` and `target` (`file_format`, `partitioning`,
//! `mode`) are read: the job uses them or refuses what it cannot serve.

use std::path::Path;

use arrow_schema::{DataType, TimeUnit};
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::{Error, Result};

/// Type names accepted in `type:`, with the Arrow type each one maps to.
pub const TYPE_NAMES: &[(&str, &str)] = &[
    ("integer", "int64"),
    ("int", "int64"),
    ("long", "int64"),
    ("bigint", "int64"),
    ("string", "utf8"),
    ("str", "utf8"),
    ("text", "utf8"),
    ("double", "float64"),
    ("float", "float64"),
    ("number", "float64"),
    ("boolean", "boolean"),
    ("bool", "boolean"),
    ("date", "date32"),
    ("timestamp", "timestamp[us, UTC]"),
    ("datetime", "timestamp[us, UTC]"),
];

/// The Arrow type of an asset type name (case-insensitive), or `None` if unknown.
pub fn parse_type(name: &str) -> Option<DataType> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "integer" | "int" | "long" | "bigint" => DataType::Int64,
        "string" | "str" | "text" => DataType::Utf8,
        "double" | "float" | "number" => DataType::Float64,
        "boolean" | "bool" => DataType::Boolean,
        "date" => DataType::Date32,
        "timestamp" | "datetime" => timestamp_type(),
        _ => return None,
    })
}

/// The timestamp type dativo produces: microseconds, normalised to UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The asset type name of an Arrow type (the canonical spelling of [`parse_type`]'s names),
/// as used in messages and in `dativo infer`.
pub fn type_name(t: &DataType) -> &'static str {
    match t {
        DataType::Int64 => "integer",
        DataType::Float64 => "double",
        DataType::Boolean => "boolean",
        DataType::Utf8 => "string",
        DataType::Date32 => "date",
        DataType::Timestamp(..) => "timestamp",
        _ => "unsupported",
    }
}

/// One field of an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetField {
    pub name: String,
    /// The type name as written in the asset (e.g. `bigint`).
    pub type_name: String,
    pub data_type: DataType,
    pub required: bool,
}

/// A parsed and validated asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    pub name: String,
    pub version: Option<String>,
    pub fields: Vec<AssetField>,
    /// The asset's `target:` section (Dativo extension): how its table is stored.
    pub target: AssetTarget,
    /// Where the asset came from (its file, or `inline asset in <job>`), for error messages.
    pub origin: String,
    /// `domain` and `dataProduct` (platform metadata): the default folders of an object-store
    /// target, `<bucket>/<domain>/<data_product>/<table>/`.
    pub domain: Option<String>,
    pub data_product: Option<String>,
}

impl Asset {
    /// Read and validate an asset file.
    pub fn load(path: &Path) -> Result<Asset> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read asset file", path, e))?;
        Asset::parse(&text, &path.display().to_string())
    }

    /// Parse asset YAML; `label` names the file in error messages.
    pub fn parse(text: &str, label: &str) -> Result<Asset> {
        let doc: AssetDoc = crate::yaml::from_yaml(text, label)?;
        doc.into_asset(label)
    }

    /// The field called `name`, if any.
    pub fn field(&self, name: &str) -> Option<&AssetField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A YAML scalar read as text (`version: 1.0` and `version: "1.0"` are both fine).
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The asset document as written: the wrapped and the flat layout share this struct
/// (`asset:` holds the wrapped body). Metadata keys are accepted and ignored; any other
/// key is an error, so that a typo such as `requried` is caught.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetDoc {
    #[serde(default)]
    pub asset: Option<Box<AssetDoc>>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub version: Option<Scalar>,
    #[serde(default)]
    pub schema: Option<Vec<FieldDoc>>,

    #[serde(default, rename = "$schema")]
    _schema_uri: Option<IgnoredAny>,
    #[serde(default, rename = "apiVersion")]
    _api_version: Option<IgnoredAny>,
    #[serde(default, rename = "kind")]
    _kind: Option<IgnoredAny>,
    #[serde(default, rename = "id")]
    _id: Option<IgnoredAny>,
    #[serde(default, rename = "status")]
    _status: Option<IgnoredAny>,
    /// The platform's domain: the first folder of an object-store target's default layout.
    #[serde(default)]
    pub domain: Option<Scalar>,
    /// The platform's data product: the second folder of that layout.
    #[serde(default, rename = "dataProduct")]
    pub data_product: Option<Scalar>,
    #[serde(default, rename = "tenant")]
    _tenant: Option<IgnoredAny>,
    #[serde(default, rename = "description")]
    _description: Option<IgnoredAny>,
    #[serde(default, rename = "tags")]
    _tags: Option<IgnoredAny>,
    #[serde(default, rename = "source_type")]
    _source_type: Option<IgnoredAny>,
    #[serde(default, rename = "object")]
    _object: Option<IgnoredAny>,
    #[serde(default)]
    target: Option<AssetTarget>,
    #[serde(default, rename = "data_quality")]
    _data_quality: Option<IgnoredAny>,
    #[serde(default, rename = "team")]
    _team: Option<IgnoredAny>,
    #[serde(default, rename = "compliance")]
    _compliance: Option<IgnoredAny>,
    #[serde(default, rename = "change_management")]
    _change_management: Option<IgnoredAny>,
    #[serde(default, rename = "finops")]
    _finops: Option<IgnoredAny>,
}

/// An asset's `target:` (Dativo extension). Every key is read: the job refuses what it cannot
/// serve, so that nothing an asset declares is silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetTarget {
    #[serde(default)]
    pub file_format: Option<String>,
    /// Hive partition columns (e.g. `[ingest_date]`).
    #[serde(default)]
    pub partitioning: Option<Vec<String>>,
    /// The schema validation mode the asset asks for; the job's `schema_validation_mode` wins.
    #[serde(default)]
    pub mode: Option<super::ValidationMode>,
}

/// One entry of `schema:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDoc {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default, rename = "description")]
    _description: Option<IgnoredAny>,
    #[serde(default, rename = "classification")]
    _classification: Option<IgnoredAny>,
    #[serde(default, rename = "tags")]
    _tags: Option<IgnoredAny>,
}

impl AssetDoc {
    /// Validate the document; `origin` names it in error messages.
    pub fn into_asset(self, origin: &str) -> Result<Asset> {
        let (outer_domain, outer_product) = (self.domain.clone(), self.data_product.clone());
        let body = match self.asset {
            Some(inner) => {
                if self.name.is_some() || self.schema.is_some() {
                    return Err(Error::Config(format!(
                        "{origin}: 'name' and 'schema' belong either under 'asset:' or at the top \
                         level, not both"
                    )));
                }
                if inner.asset.is_some() {
                    return Err(Error::Config(format!("{origin}: 'asset:' inside 'asset:'")));
                }
                *inner
            }
            None => self,
        };
        let name = match body.name {
            Some(n) if !n.trim().is_empty() => n,
            _ => return Err(Error::Config(format!("{origin}: the asset has no name (key 'name')"))),
        };
        let docs = match body.schema {
            Some(s) if !s.is_empty() => s,
            _ => {
                return Err(Error::Schema(format!(
                    "{origin}: asset '{name}' has an empty schema (key 'schema': a list of \
                     {{name, type, required}})"
                )))
            }
        };
        let mut fields: Vec<AssetField> = Vec::with_capacity(docs.len());
        for (i, f) in docs.into_iter().enumerate() {
            if f.name.is_empty() {
                return Err(Error::Schema(format!("{origin}: schema[{i}] has an empty name")));
            }
            if fields.iter().any(|g| g.name == f.name) {
                return Err(Error::Schema(format!("{origin}: asset '{name}' declares field '{}' twice", f.name)));
            }
            let Some(data_type) = parse_type(&f.type_name) else {
                let names: Vec<&str> = TYPE_NAMES.iter().map(|(n, _)| *n).collect();
                let hint = crate::yaml::suggest(&f.type_name.to_ascii_lowercase(), &names)
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default();
                return Err(Error::Schema(format!(
                    "{origin}: field '{}' of asset '{name}' has unknown type '{}' (valid types: \
                     {}){hint}",
                    f.name,
                    f.type_name,
                    names.join(", ")
                )));
            };
            fields.push(AssetField { name: f.name, type_name: f.type_name, data_type, required: f.required });
        }
        Ok(Asset {
            name,
            version: body.version.map(|v| v.0),
            fields,
            target: body.target.unwrap_or_default(),
            origin: origin.to_string(),
            domain: body.domain.or(outer_domain).map(|s| s.0),
            data_product: body.data_product.or(outer_product).map(|s| s.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRAPPED: &str = "\
asset:
  name: users
  version: 1.0
  description: people
  schema:
    - name: id
      type: integer
      required: true
      description: key
      classification: internal
      tags: [pk]
    - {name: email, type: string, required: true, classification: PII}
    - {name: score, type: double}
";

    #[test]
    fn wrapped_layout() {
        let a = Asset::parse(WRAPPED, "users.yaml").unwrap();
        assert_eq!(a.name, "users");
        assert_eq!(a.version.as_deref(), Some("1"));
        assert_eq!(a.origin, "users.yaml");
        let names: Vec<_> = a.fields.iter().map(|f| (f.name.as_str(), f.required)).collect();
        assert_eq!(names, [("id", true), ("email", true), ("score", false)]);
        assert_eq!(a.field("score").unwrap().data_type, DataType::Float64);
        assert!(a.field("nope").is_none());
    }

    #[test]
    fn flat_odcs_layout_with_metadata() {
        let text = "\
$schema: https://example.com/odcs.json
apiVersion: v3.0.0
kind: DataContract
id: 1234
name: orders
version: \"2.1\"
status: active
domain: sales
dataProduct: shop
tenant: acme
description: {purpose: x}
tags: [a, b]
source_type: csv
object: orders
target: {file_format: parquet}
data_quality: {monitoring: {enabled: true}}
team: {owner: me@example.com}
compliance: {classification: [PII]}
change_management: {policy: x}
finops: {cost_center: c1}
schema:
  - {name: order_id, type: bigint, required: true}
";
        let a = Asset::parse(text, "orders.yaml").unwrap();
        assert_eq!(a.name, "orders");
        assert_eq!(a.version.as_deref(), Some("2.1"));
        assert_eq!(a.fields.len(), 1);
        assert!(a.fields[0].required);
    }

    #[test]
    fn every_type_alias() {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let cases = [
            ("integer", DataType::Int64),
            ("int", DataType::Int64),
            ("long", DataType::Int64),
            ("bigint", DataType::Int64),
            ("string", DataType::Utf8),
            ("str", DataType::Utf8),
            ("text", DataType::Utf8),
            ("double", DataType::Float64),
            ("float", DataType::Float64),
            ("number", DataType::Float64),
            ("boolean", DataType::Boolean),
            ("bool", DataType::Boolean),
            ("date", DataType::Date32),
            ("timestamp", ts.clone()),
            ("datetime", ts.clone()),
            ("BigInt", DataType::Int64),
        ];
        for (name, dt) in cases {
            assert_eq!(parse_type(name), Some(dt.clone()), "{name}");
            let text = format!("name: a\nschema:\n  - {{name: c, type: {name}}}\n");
            assert_eq!(Asset::parse(&text, "a.yaml").unwrap().fields[0].data_type, dt, "{name}");
        }
        assert_eq!(TYPE_NAMES.len(), 15);
        for (n, _) in TYPE_NAMES {
            assert!(parse_type(n).is_some(), "{n}");
        }
    }

    #[test]
    fn unknown_type_names_field_and_lists_valid_types() {
        let text = "name: a\nschema:\n  - {name: email, type: strng}\n";
        let e = Asset::parse(text, "a.yaml").unwrap_err();
        assert!(matches!(e, Error::Schema(_)));
        let m = e.to_string();
        assert!(m.starts_with("a.yaml: field 'email' of asset 'a' has unknown type 'strng'"), "{m}");
        assert!(m.contains("valid types: integer, int, long, bigint, string"), "{m}");
        assert!(m.ends_with("did you mean 'string'?"), "{m}");
        let m = Asset::parse("name: a\nschema:\n  - {name: x, type: geometry}\n", "a.yaml").unwrap_err().to_string();
        assert!(!m.contains("did you mean"), "{m}");
    }

    #[test]
    fn duplicate_and_empty() {
        let e = Asset::parse("name: a\nschema:\n  - {name: x, type: int}\n  - {name: x, type: str}\n", "a.yaml")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "a.yaml: asset 'a' declares field 'x' twice");
        let e = Asset::parse("name: a\nschema: []\n", "a.yaml").unwrap_err().to_string();
        assert!(e.contains("empty schema"), "{e}");
        let e = Asset::parse("name: a\n", "a.yaml").unwrap_err().to_string();
        assert!(e.contains("empty schema"), "{e}");
        let e = Asset::parse("asset:\n  schema:\n    - {name: x, type: int}\n", "a.yaml").unwrap_err().to_string();
        assert!(e.contains("no name"), "{e}");
        let e = Asset::parse("", "a.yaml").unwrap_err().to_string();
        assert!(e.contains("a.yaml"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_with_suggestion() {
        let text = "name: a\nschema:\n  - name: x\n    type: int\n    requried: true\n";
        let e = Asset::parse(text, "a.yaml").unwrap_err().to_string();
        assert!(e.contains("unknown key 'schema[0].requried'"), "{e}");
        assert!(e.contains("did you mean 'required'?"), "{e}");
        let e = Asset::parse("asset:\n  name: a\n  shema: []\n", "a.yaml").unwrap_err().to_string();
        assert!(e.contains("unknown key 'asset.shema'") && e.contains("'schema'"), "{e}");
    }

    #[test]
    fn missing_type_is_reported_with_path() {
        let e = Asset::parse("name: a\nschema:\n  - {name: x}\n", "a.yaml").unwrap_err().to_string();
        assert!(e.contains("schema[0]") && e.contains("type"), "{e}");
    }

    #[test]
    fn load_reports_missing_file() {
        let e = Asset::load(Path::new("/nonexistent/asset.yaml")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
        assert!(e.to_string().contains("/nonexistent/asset.yaml"));
    }
}
