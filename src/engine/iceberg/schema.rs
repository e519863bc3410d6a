//! The table schema: the run's Arrow schema as an Iceberg schema (JSON, with field ids), the
//! check that a run fits an existing table, and the Arrow schema the data files are written
//! with (each field carrying its Iceberg id as `PARQUET:field_id`, which is how readers such
//! as pyiceberg match Parquet columns to table columns).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde_json::{json, Value};

use crate::{Error, Result};

/// The Arrow field metadata key the Parquet writer turns into the column's field id.
pub const PARQUET_FIELD_ID: &str = "PARQUET:field_id";

/// One column of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub id: i32,
    pub name: String,
    /// The Iceberg primitive type (`long`, `string`, `date`, ...).
    pub kind: String,
    pub required: bool,
}

/// An Iceberg schema of primitive columns.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    pub schema_id: i64,
    pub columns: Vec<Column>,
}

/// The Iceberg type of an Arrow type dativo writes, or None for one it cannot store.
pub fn iceberg_type(data_type: &DataType) -> Option<&'static str> {
    Some(match data_type {
        DataType::Boolean => "boolean",
        DataType::Int8 | DataType::Int16 | DataType::Int32 => "int",
        DataType::Int64 => "long",
        DataType::Float32 => "float",
        DataType::Float64 => "double",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary",
        DataType::Date32 => "date",
        DataType::Timestamp(TimeUnit::Microsecond, None) => "timestamp",
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => "timestamptz",
        _ => return None,
    })
}

impl TableSchema {
    /// The schema of a new table: the columns of `arrow`, numbered from 1.
    pub fn from_arrow(arrow: &Schema) -> Result<TableSchema> {
        let mut columns = Vec::with_capacity(arrow.fields().len());
        for (i, field) in arrow.fields().iter().enumerate() {
            let kind = iceberg_type(field.data_type()).ok_or_else(|| {
                Error::Schema(format!(
                    "column `{}` has type {}, which dativo cannot write to an Iceberg table",
                    field.name(),
                    field.data_type()
                ))
            })?;
            columns.push(Column {
                id: i as i32 + 1,
                name: field.name().clone(),
                kind: kind.to_string(),
                required: !field.is_nullable(),
            });
        }
        Ok(TableSchema { schema_id: 0, columns })
    }

    /// Parses a schema of the table metadata (`schemas[]`). Nested types are refused: dativo
    /// writes flat tables.
    pub fn from_json(value: &Value) -> Result<TableSchema> {
        let bad = |what: &str| Error::Data(format!("the table's schema {what}: {value}"));
        let schema_id = value.get("schema-id").and_then(Value::as_i64).unwrap_or(0);
        let fields = value.get("fields").and_then(Value::as_array).ok_or_else(|| bad("has no fields"))?;
        let mut columns = Vec::with_capacity(fields.len());
        for f in fields {
            let name = f.get("name").and_then(Value::as_str).ok_or_else(|| bad("has a field without a name"))?;
            let id = f.get("id").and_then(Value::as_i64).ok_or_else(|| bad("has a field without an id"))?;
            let kind = match f.get("type") {
                Some(Value::String(s)) => s.clone(),
                _ => format!("{}", f.get("type").unwrap_or(&Value::Null)),
            };
            let required = f.get("required").and_then(Value::as_bool).unwrap_or(false);
            columns.push(Column { id: id as i32, name: name.to_string(), kind, required });
        }
        Ok(TableSchema { schema_id, columns })
    }

    /// The schema as the table metadata and the catalogs write it.
    pub fn to_json(&self) -> Value {
        let fields: Vec<Value> = self
            .columns
            .iter()
            .map(|c| json!({"id": c.id, "name": c.name, "required": c.required, "type": c.kind}))
            .collect();
        json!({"type": "struct", "schema-id": self.schema_id, "fields": fields})
    }

    pub fn last_column_id(&self) -> i32 {
        self.columns.iter().map(|c| c.id).max().unwrap_or(0)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Checks that rows of `arrow` can be appended to a table of this schema, and returns
    /// `arrow` with each field carrying the table's id for its column. Every problem is
    /// listed, by column: a column the table does not have, a type that differs, a nullable
    /// column for a required one, and a required table column the run does not write.
    pub fn bind(&self, arrow: &Schema, table: &str) -> Result<SchemaRef> {
        let mut problems = Vec::new();
        let mut fields = Vec::with_capacity(arrow.fields().len());
        for field in arrow.fields() {
            let kind = iceberg_type(field.data_type()).unwrap_or("unsupported");
            match self.column(field.name()) {
                None => problems.push(format!("`{}` ({kind}) is not a column of the table", field.name())),
                Some(c) if c.kind != kind => {
                    problems.push(format!("`{}` is {kind} in the asset but {} in the table", field.name(), c.kind))
                }
                Some(c) if c.required && field.is_nullable() => problems
                    .push(format!("`{}` is required (not null) in the table but nullable in the asset", field.name())),
                Some(c) => fields.push(with_id(field, c.id)),
            }
        }
        for c in self.columns.iter().filter(|c| c.required) {
            if arrow.field_with_name(&c.name).is_err() {
                problems.push(format!("`{}` is a required column of the table that the asset does not have", c.name));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Schema(format!(
                "the asset does not match the Iceberg table {table}: {}; change the asset to the table's \
                 columns ({}), or write to a new table",
                problems.join("; "),
                self.columns.iter().map(|c| format!("{} {}", c.name, c.kind)).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(Arc::new(Schema::new_with_metadata(fields, arrow.metadata().clone())))
    }
}

/// `field` with the Iceberg field id in its metadata.
fn with_id(field: &Field, id: i32) -> Field {
    let mut metadata = field.metadata().clone();
    metadata.insert(PARQUET_FIELD_ID.to_string(), id.to_string());
    field.clone().with_metadata(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrow(fields: Vec<Field>) -> Schema {
        Schema::new(fields)
    }

    #[test]
    fn a_new_table_numbers_columns_and_binds_ids_into_the_arrow_fields() {
        let a = arrow(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        ]);
        let schema = TableSchema::from_arrow(&a).unwrap();
        assert_eq!(schema.columns[2].kind, "timestamptz");
        assert!(schema.columns[0].required);
        let parsed = TableSchema::from_json(&schema.to_json()).unwrap();
        assert_eq!(parsed, schema);
        let bound = schema.bind(&a, "db.t").unwrap();
        assert_eq!(bound.field(1).metadata().get(PARQUET_FIELD_ID).map(String::as_str), Some("2"));
    }

    #[test]
    fn an_incompatible_asset_names_every_column_that_differs() {
        let table = TableSchema::from_arrow(&arrow(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]))
        .unwrap();
        let err = table
            .bind(
                &arrow(vec![Field::new("name", DataType::Int64, true), Field::new("email", DataType::Utf8, true)]),
                "db.t",
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("`name` is long in the asset but string in the table"), "{err}");
        assert!(err.contains("`email` (string) is not a column of the table"), "{err}");
        assert!(err.contains("`id` is a required column"), "{err}");
    }
}
