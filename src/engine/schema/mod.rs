//! Asset schemas (the Dativo asset format) and how a CSV file is checked against one.
//!
//! - [`asset`]: parsing and validating asset files;
//! - [`Asset::output_schema`] / [`Asset::column_types`]: the Arrow schema written and the
//!   types pinned in the CSV reader, which depend on the [`ValidationMode`];
//! - [`match_header`]: a file's columns against the asset (missing, extra, renamed columns);
//! - [`Projection`]: per batch, reorders the columns into asset order and adds null columns;

pub mod asset;
mod write;

pub use asset::{parse_type, timestamp_type, type_name, Asset, AssetDoc, AssetField, TYPE_NAMES};
pub use write::asset_yaml;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{new_null_array, Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::Deserialize;

use crate::{Error, Result};

/// How strictly data must follow the asset (`schema_validation_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationMode {
    /// A required column missing from a file is an error, and a null in a required column is
    /// a bad row (it fails the job, or is skipped/rejected per `on_error`). Default.
    #[default]
    Strict,
    /// Both only give warnings: the missing column is filled with nulls, the null is kept.
    Warn,
}

impl ValidationMode {
    pub fn name(&self) -> &'static str {
        match self {
            ValidationMode::Strict => "strict",
            ValidationMode::Warn => "warn",
        }
    }
}

impl Asset {
    /// The field as written to Parquet: required fields are non-nullable in strict mode;
    /// everything is nullable in warn mode.
    pub fn arrow_field(&self, field: &AssetField, mode: ValidationMode) -> Field {
        let nullable = !(field.required && mode == ValidationMode::Strict);
        Field::new(&field.name, field.data_type.clone(), nullable)
    }

    /// The Arrow schema of the output, in asset order.
    pub fn output_schema(&self, mode: ValidationMode) -> SchemaRef {
        Arc::new(Schema::new(self.fields.iter().map(|f| self.arrow_field(f, mode)).collect::<Vec<_>>()))
    }

    /// Types to pin in the CSV reader (`CsvOptions::column_types`): one per asset field, with
    /// the nullability of [`Asset::output_schema`], so that in strict mode the reader itself
    /// turns a null in a required column into a bad row (with file, line and column).
    pub fn column_types(&self, mode: ValidationMode) -> Vec<Field> {
        self.fields.iter().map(|f| self.arrow_field(f, mode)).collect()
    }
}

/// A message to log: schema matching never logs itself, so that the caller can pass the
/// text through its redactor first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub level: log::Level,
    pub message: String,
}

/// How one file's columns line up with the asset.
#[derive(Debug, Clone)]
pub struct HeaderMatch {
    /// Types to pin in the reader for this file: the asset type for asset columns, `Utf8`
    /// (nullable) for the columns that will be dropped, so that nothing is inferred and a
    /// dropped column can never make a row bad. In file order.
    pub column_types: Vec<Field>,
    /// The file's column names, in file order.
    pub file_columns: Vec<String>,
    /// The output schema (asset order).
    pub output: SchemaRef,
    /// Asset fields absent from the file; written as null columns.
    pub missing: Vec<String>,
    /// File columns that are not in the asset; dropped.
    pub dropped: Vec<String>,
    /// Required asset fields present in the file whose nulls must be counted (warn mode only).
    pub required_present: Vec<String>,
    /// Warnings and infos to log.
    pub notes: Vec<Note>,
}

impl HeaderMatch {
    /// Number of warnings among the notes.
    pub fn warnings(&self) -> u64 {
        self.notes.iter().filter(|n| n.level == log::Level::Warn).count() as u64
    }

    /// The projection from this file's batches to the output schema.
    pub fn projection(&self) -> Result<Projection> {
        Projection::from_names(&self.file_columns, self.output.clone())
    }
}

/// Match the columns of `file` (as `csv::read_column_names` returns them) to `asset`.
///
/// - a field present gets its pinned type;
/// - a required field missing: strict -> `Error::Schema` naming the column, the asset and
///   the file and listing the file's columns; warn -> a warning, the column is null;
/// - an optional field missing: a null column (info);
/// - a file column not in the asset: dropped, with a warning (both modes).
pub fn match_header(asset: &Asset, mode: ValidationMode, file: &Path, columns: &[String]) -> Result<HeaderMatch> {
    let file_name = file.display();
    // Maps, not scans: a file and its asset can have 100,000 columns.
    let fields: HashMap<&str, &AssetField> = asset.fields.iter().map(|f| (f.name.as_str(), f)).collect();
    let mut seen: HashSet<&str> = HashSet::with_capacity(columns.len());
    for c in columns {
        if !seen.insert(c.as_str()) && fields.contains_key(c.as_str()) {
            return Err(Error::Schema(format!(
                "{file_name}: column '{c}' appears twice in the header; cannot tell which one is \
                 field '{c}' of asset '{}'",
                asset.name
            )));
        }
    }
    let mut notes = Vec::new();
    let mut missing = Vec::new();
    let mut required_present = Vec::new();
    for f in &asset.fields {
        if seen.contains(f.name.as_str()) {
            if f.required && mode == ValidationMode::Warn {
                required_present.push(f.name.clone());
            }
            continue;
        }
        let hint = near_column(&f.name, columns);
        if f.required {
            if mode == ValidationMode::Strict {
                return Err(Error::Schema(format!(
                    "{file_name}: required column '{}' of asset '{}' ({}) is missing; the file's \
                     columns are: {}{hint}",
                    f.name,
                    asset.name,
                    asset.origin,
                    list(columns)
                )));
            }
            notes.push(Note {
                level: log::Level::Warn,
                message: format!(
                    "{file_name}: required column '{}' of asset '{}' is missing; writing nulls \
                     (schema_validation_mode: warn){hint}",
                    f.name, asset.name
                ),
            });
        } else {
            notes.push(Note {
                level: log::Level::Info,
                message: format!(
                    "{file_name}: optional column '{}' of asset '{}' is missing; writing nulls{hint}",
                    f.name, asset.name
                ),
            });
        }
        missing.push(f.name.clone());
    }
    let mut dropped = Vec::new();
    let mut dropped_set: HashSet<&str> = HashSet::new();
    let mut column_types = Vec::with_capacity(columns.len());
    for c in columns {
        match fields.get(c.as_str()) {
            Some(f) => column_types.push(asset.arrow_field(f, mode)),
            None => {
                if dropped_set.insert(c.as_str()) {
                    notes.push(Note {
                        level: log::Level::Warn,
                        message: format!("{file_name}: column '{c}' is not in asset '{}'; dropping it", asset.name),
                    });
                    dropped.push(c.clone());
                }
                column_types.push(Field::new(c, DataType::Utf8, true));
            }
        }
    }
    Ok(HeaderMatch {
        column_types,
        file_columns: columns.to_vec(),
        output: asset.output_schema(mode),
        missing,
        dropped,
        required_present,
        notes,
    })
}

fn list(columns: &[String]) -> String {
    if columns.is_empty() {
        return "(none)".to_string();
    }
    columns.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ")
}

/// `; did you mean 'X'?` when a file column is a near miss for `name` (case or typo).
fn near_column(name: &str, columns: &[String]) -> String {
    if let Some(c) = columns.iter().find(|c| c.eq_ignore_ascii_case(name)) {
        return format!("; did you mean '{c}'? (names are case-sensitive)");
    }
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    crate::yaml::suggest(name, &names).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default()
}

/// Builds output batches from input batches: picks the output columns by name, in output
/// order, drops the others, and adds all-null columns for outputs the input lacks.
#[derive(Debug, Clone)]
pub struct Projection {
    output: SchemaRef,
    /// For each output column, the index of the input column, or `None` for a null column.
    sources: Vec<Option<usize>>,
    input_len: usize,
}

impl Projection {
    /// A projection from batches whose columns are named `input` (in order).
    pub fn from_names(input: &[String], output: SchemaRef) -> Result<Self> {
        // The first column of each name, looked up in a map (headers can be very wide).
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(input.len());
        for (i, c) in input.iter().enumerate().rev() {
            index.insert(c.as_str(), i);
        }
        let sources = output.fields().iter().map(|f| index.get(f.name().as_str()).copied()).collect();
        Ok(Projection { output, sources, input_len: input.len() })
    }

    /// A projection from batches of schema `input`.
    pub fn new(input: &Schema, output: SchemaRef) -> Result<Self> {
        let names: Vec<String> = input.fields().iter().map(|f| f.name().clone()).collect();
        Projection::from_names(&names, output)
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.output.clone()
    }

    /// Whether batches pass through unchanged (same columns, same order).
    pub fn is_identity(&self) -> bool {
        self.input_len == self.sources.len() && self.sources.iter().enumerate().all(|(i, s)| *s == Some(i))
    }

    /// Project one batch. Errors if a column's type differs from the output's, or if a
    /// non-nullable output column would receive nulls.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if batch.num_columns() != self.input_len {
            return Err(Error::Internal(format!(
                "projection expects batches of {} columns, got {}",
                self.input_len,
                batch.num_columns()
            )));
        }
        let rows = batch.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.sources.len());
        for (field, source) in self.output.fields().iter().zip(&self.sources) {
            match source {
                Some(i) => {
                    let col = batch.column(*i);
                    if col.data_type() != field.data_type() {
                        return Err(Error::Internal(format!(
                            "column '{}' was read as {} but the asset declares {}",
                            field.name(),
                            col.data_type(),
                            field.data_type()
                        )));
                    }
                    if !field.is_nullable() && col.null_count() > 0 {
                        return Err(Error::Schema(format!(
                            "required column '{}' has {} null value(s)",
                            field.name(),
                            col.null_count()
                        )));
                    }
                    columns.push(col.clone());
                }
                None => {
                    if !field.is_nullable() && rows > 0 {
                        return Err(Error::Schema(format!(
                            "required column '{}' is missing from the input",
                            field.name()
                        )));
                    }
                    columns.push(new_null_array(field.data_type(), rows));
                }
            }
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(self.output.clone(), columns, &options)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int64Array, StringArray};
    use arrow_schema::TimeUnit;

    fn asset() -> Asset {
        Asset::parse(
            "name: users\nschema:\n  - {name: id, type: int, required: true}\n  - {name: email, type: str, required: true}\n  - {name: score, type: double}\n  - {name: seen, type: timestamp}\n",
            "users.yaml",
        )
        .unwrap()
    }

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn schemas_per_mode() {
        let a = asset();
        let strict = a.output_schema(ValidationMode::Strict);
        let null: Vec<bool> = strict.fields().iter().map(|f| f.is_nullable()).collect();
        assert_eq!(null, [false, false, true, true]);
        assert_eq!(strict.field(3).data_type(), &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
        let warn = a.output_schema(ValidationMode::Warn);
        assert!(warn.fields().iter().all(|f| f.is_nullable()));
        let pinned = a.column_types(ValidationMode::Strict);
        assert_eq!(pinned.len(), 4);
        assert!(!pinned[0].is_nullable());
        assert!(a.column_types(ValidationMode::Warn).iter().all(|f| f.is_nullable()));
    }

    #[test]
    fn header_all_present_in_other_order() {
        let a = asset();
        let m = match_header(&a, ValidationMode::Strict, Path::new("in.csv"), &cols(&["seen", "score", "email", "id"]))
            .unwrap();
        assert!(m.missing.is_empty() && m.dropped.is_empty() && m.notes.is_empty());
        let names: Vec<_> = m.column_types.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["seen", "score", "email", "id"]);
        assert_eq!(m.column_types[3].data_type(), &DataType::Int64);
        assert!(!m.column_types[3].is_nullable());
        assert!(m.required_present.is_empty(), "strict mode leaves null checks to the reader");
    }

    #[test]
    fn strict_missing_required_column_is_an_error() {
        let a = asset();
        let e = match_header(&a, ValidationMode::Strict, Path::new("data/in.csv"), &cols(&["id", "Email", "x"]))
            .unwrap_err();
        assert!(matches!(e, Error::Schema(_)));
        assert_eq!(
            e.to_string(),
            "data/in.csv: required column 'email' of asset 'users' (users.yaml) is missing; the \
             file's columns are: 'id', 'Email', 'x'; did you mean 'Email'? (names are case-sensitive)"
        );
    }

    #[test]
    fn warn_missing_required_and_optional_and_extra() {
        let a = asset();
        let m = match_header(&a, ValidationMode::Warn, Path::new("in.csv"), &cols(&["extra", "id", "scor"])).unwrap();
        assert_eq!(m.missing, ["email", "score", "seen"]);
        assert_eq!(m.dropped, ["extra", "scor"]);
        assert_eq!(m.required_present, ["id"]);
        assert_eq!(m.warnings(), 3); // email missing, two dropped
        let levels: Vec<_> = m.notes.iter().map(|n| n.level).collect();
        assert_eq!(levels, [log::Level::Warn, log::Level::Info, log::Level::Info, log::Level::Warn, log::Level::Warn]);
        assert!(
            m.notes[1].message.contains("optional column 'score'")
                && m.notes[1].message.contains("did you mean 'scor'?")
        );
        assert_eq!(m.notes[3].message, "in.csv: column 'extra' is not in asset 'users'; dropping it");
        // Dropped columns are read as text, so they can never make a row bad.
        assert_eq!(m.column_types[0], Field::new("extra", DataType::Utf8, true));
        assert!(m.column_types.iter().all(|f| f.is_nullable()));
    }

    #[test]
    fn strict_optional_missing_and_extra_are_fine() {
        let a = asset();
        let m = match_header(&a, ValidationMode::Strict, Path::new("in.csv"), &cols(&["id", "email", "junk"])).unwrap();
        assert_eq!(m.missing, ["score", "seen"]);
        assert_eq!(m.dropped, ["junk"]);
        assert_eq!(m.warnings(), 1);
    }

    #[test]
    fn duplicate_asset_column_in_header() {
        let a = asset();
        let e = match_header(&a, ValidationMode::Strict, Path::new("in.csv"), &cols(&["id", "email", "id"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("column 'id' appears twice"), "{e}");
        // A duplicated column that is dropped anyway is fine.
        let m =
            match_header(&a, ValidationMode::Strict, Path::new("in.csv"), &cols(&["id", "email", "x", "x"])).unwrap();
        assert_eq!(m.dropped, ["x"]);
    }

    fn input_batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("extra", DataType::Utf8, true),
            Field::new("email", DataType::Utf8, true),
            Field::new("id", DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])),
                Arc::new(StringArray::from(vec![Some("x@y"), None, Some("z@w")])),
                Arc::new(Int64Array::from(vec![1, 2, 3])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn projection_reorders_drops_and_fills() {
        let a = asset();
        let b = input_batch();
        let p = Projection::new(&b.schema(), a.output_schema(ValidationMode::Warn)).unwrap();
        assert!(!p.is_identity());
        let out = p.apply(&b).unwrap();
        assert_eq!(out.schema(), a.output_schema(ValidationMode::Warn));
        assert_eq!(out.num_rows(), 3);
        let ids = out.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(ids.values(), &[1, 2, 3]);
        assert_eq!(out.column(1).null_count(), 1);
        assert_eq!(out.column(2).null_count(), 3);
        assert!(out.column(2).as_any().downcast_ref::<Float64Array>().is_some());
        assert_eq!(out.column(3).null_count(), 3);
    }

    #[test]
    fn projection_identity_and_errors() {
        let b = input_batch();
        let p = Projection::new(&b.schema(), b.schema()).unwrap();
        assert!(p.is_identity());
        assert_eq!(p.apply(&b).unwrap(), b);
        // Strict output: a null in a non-nullable column is refused.
        let a = asset();
        let p = Projection::new(&b.schema(), a.output_schema(ValidationMode::Strict)).unwrap();
        let e = p.apply(&b).unwrap_err().to_string();
        assert!(e.contains("required column 'email'"), "{e}");
        // Type mismatch.
        let out = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, true)]));
        let e = Projection::new(&b.schema(), out).unwrap().apply(&b).unwrap_err().to_string();
        assert!(e.contains("column 'id' was read as Int64"), "{e}");
        // Zero columns in, null columns out, row count kept.
        let empty = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(2)),
        )
        .unwrap();
        let out = Arc::new(Schema::new(vec![Field::new("z", DataType::Boolean, true)]));
        let r = Projection::new(&Schema::empty(), out).unwrap().apply(&empty).unwrap();
        assert_eq!((r.num_rows(), r.column(0).null_count()), (2, 2));
    }
}
