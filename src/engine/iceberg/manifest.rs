//! Manifests and manifest lists: the Avro files of an Iceberg v2 snapshot, written with the
//! `apache-avro` crate. Their Avro schemas carry the spec's `field-id` attributes (readers
//! resolve fields by id, not by name), the field names of the spec (`manifest_entry`,
//! `data_file`, `manifest_file`), and the file metadata the spec asks for (`schema`,
//! `partition-spec`, `partition-spec-id`, `format-version`, `content`; `snapshot-id`,
//! `parent-snapshot-id`, `sequence-number` on a list).
//!
//! A manifest written here leaves `snapshot_id`, `sequence_number` and
//! `file_sequence_number` of its ADDED entries null, which the spec defines as inherited
//! from the manifest's entry in the manifest list. So one manifest serves every attempt of a
//! commit: a retry on a newer snapshot only writes a new list.

use apache_avro::types::Value as Avro;
use apache_avro::{Codec, DeflateSettings, Reader, Schema, Writer};
use serde_json::{json, Value};

use super::metadata::PartitionSpec;
use super::schema::TableSchema;
use crate::{Error, Result};

/// Deflate, not the uncompressed `null` codec: a file without `avro.codec` is `null` by the
/// Avro spec, but pyiceberg reads it as gzip, and the crate writes no `avro.codec` for `null`.
fn codec() -> Codec {
    Codec::Deflate(DeflateSettings::default())
}

/// A partition value of one data file (identity transforms of the types dativo partitions by).
#[derive(Debug, Clone, PartialEq)]
pub enum PartitionValue {
    Null,
    Long(i64),
    Int(i32),
    Boolean(bool),
    String(String),
    /// Days since 1970-01-01.
    Date(i32),
}

/// One data file of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    /// Absolute URI (`s3://...`, `file:///...`).
    pub path: String,
    pub partition: Vec<PartitionValue>,
    pub record_count: u64,
    pub file_size_in_bytes: u64,
}

/// One entry of a manifest list.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestFile {
    pub manifest_path: String,
    pub manifest_length: i64,
    pub partition_spec_id: i32,
    /// 0: data, 1: deletes.
    pub content: i32,
    pub sequence_number: i64,
    pub min_sequence_number: i64,
    pub added_snapshot_id: i64,
    pub added_files_count: i32,
    pub existing_files_count: i32,
    pub deleted_files_count: i32,
    pub added_rows_count: i64,
    pub existing_rows_count: i64,
    pub deleted_rows_count: i64,
}

/// The Avro type of an identity partition field of source type `kind`.
fn partition_avro_type(kind: &str, column: &str) -> Result<Value> {
    Ok(match kind {
        "long" => json!("long"),
        "int" => json!("int"),
        "boolean" => json!("boolean"),
        "string" => json!("string"),
        "date" => json!({"type": "int", "logicalType": "date"}),
        other => {
            return Err(Error::Config(format!(
                "partitioning: column `{column}` is {other}; an Iceberg target partitions by long, int, boolean, \
                 string and date columns (and ingest_date)"
            )))
        }
    })
}

/// The `manifest_entry` schema for `spec` over `schema`.
fn manifest_schema(schema: &TableSchema, spec: &PartitionSpec) -> Result<Schema> {
    let mut partition_fields = Vec::with_capacity(spec.fields.len());
    for f in &spec.fields {
        let source =
            schema.columns.iter().find(|c| c.id == f.source_id).ok_or_else(|| {
                Error::Data(format!("partition field {} has no source column {}", f.name, f.source_id))
            })?;
        partition_fields.push(json!({
            "name": f.name,
            "type": ["null", partition_avro_type(&source.kind, &source.name)?],
            "default": null,
            "field-id": f.field_id
        }));
    }
    let opt_long =
        |name: &str, id: i32| json!({"name": name, "type": ["null", "long"], "default": null, "field-id": id});
    let text = json!({
        "type": "record",
        "name": "manifest_entry",
        "fields": [
            {"name": "status", "type": "int", "field-id": 0},
            opt_long("snapshot_id", 1),
            opt_long("sequence_number", 3),
            opt_long("file_sequence_number", 4),
            {"name": "data_file", "field-id": 2, "type": {
                "type": "record",
                "name": "r2",
                "fields": [
                    {"name": "content", "type": "int", "field-id": 134},
                    {"name": "file_path", "type": "string", "field-id": 100},
                    {"name": "file_format", "type": "string", "field-id": 101},
                    {"name": "partition", "field-id": 102,
                     "type": {"type": "record", "name": "r102", "fields": partition_fields}},
                    {"name": "record_count", "type": "long", "field-id": 103},
                    {"name": "file_size_in_bytes", "type": "long", "field-id": 104}
                ]
            }}
        ]
    });
    Schema::parse(&text).map_err(|e| Error::Internal(format!("the manifest's Avro schema: {e}")))
}

/// The `manifest_file` schema of a v2 manifest list.
fn manifest_list_schema() -> Schema {
    let f = |name: &str, kind: &str, id: i32| json!({"name": name, "type": kind, "field-id": id});
    let text = json!({
        "type": "record",
        "name": "manifest_file",
        "fields": [
            f("manifest_path", "string", 500),
            f("manifest_length", "long", 501),
            f("partition_spec_id", "int", 502),
            f("content", "int", 517),
            f("sequence_number", "long", 515),
            f("min_sequence_number", "long", 516),
            f("added_snapshot_id", "long", 503),
            f("added_files_count", "int", 504),
            f("existing_files_count", "int", 505),
            f("deleted_files_count", "int", 506),
            f("added_rows_count", "long", 512),
            f("existing_rows_count", "long", 513),
            f("deleted_rows_count", "long", 514)
        ]
    });
    Schema::parse(&text).expect("the manifest list schema is valid")
}

fn avro_error(what: &str, e: apache_avro::Error) -> Error {
    Error::Internal(format!("cannot encode the {what}: {e}"))
}

fn union_of(value: Option<Avro>) -> Avro {
    match value {
        None => Avro::Union(0, Box::new(Avro::Null)),
        Some(v) => Avro::Union(1, Box::new(v)),
    }
}

/// A manifest of ADDED `files` (status 1), as Avro bytes.
pub fn write_manifest(schema: &TableSchema, spec: &PartitionSpec, files: &[DataFile]) -> Result<Vec<u8>> {
    let avro_schema = manifest_schema(schema, spec)?;
    let mut writer = Writer::with_codec(&avro_schema, Vec::new(), codec()).map_err(|e| avro_error("manifest", e))?;
    let meta = [
        ("schema", schema.to_json().to_string()),
        ("schema-id", schema.schema_id.to_string()),
        ("partition-spec", spec.fields_json().to_string()),
        ("partition-spec-id", spec.spec_id.to_string()),
        ("format-version", "2".to_string()),
        ("content", "data".to_string()),
    ];
    for (k, v) in meta {
        writer.add_user_metadata(k.to_string(), v).map_err(|e| avro_error("manifest", e))?;
    }
    for file in files {
        if file.partition.len() != spec.fields.len() {
            return Err(Error::Internal(format!(
                "{}: {} partition values for {} partition fields",
                file.path,
                file.partition.len(),
                spec.fields.len()
            )));
        }
        let partition = spec
            .fields
            .iter()
            .zip(&file.partition)
            .map(|(f, v)| {
                let value = match v {
                    PartitionValue::Null => None,
                    PartitionValue::Long(x) => Some(Avro::Long(*x)),
                    PartitionValue::Int(x) => Some(Avro::Int(*x)),
                    PartitionValue::Boolean(x) => Some(Avro::Boolean(*x)),
                    PartitionValue::String(x) => Some(Avro::String(x.clone())),
                    PartitionValue::Date(x) => Some(Avro::Date(*x)),
                };
                (f.name.clone(), union_of(value))
            })
            .collect();
        let data_file = Avro::Record(vec![
            ("content".into(), Avro::Int(0)),
            ("file_path".into(), Avro::String(file.path.clone())),
            ("file_format".into(), Avro::String("PARQUET".into())),
            ("partition".into(), Avro::Record(partition)),
            ("record_count".into(), Avro::Long(file.record_count as i64)),
            ("file_size_in_bytes".into(), Avro::Long(file.file_size_in_bytes as i64)),
        ]);
        let entry = Avro::Record(vec![
            ("status".into(), Avro::Int(1)),
            ("snapshot_id".into(), union_of(None)),
            ("sequence_number".into(), union_of(None)),
            ("file_sequence_number".into(), union_of(None)),
            ("data_file".into(), data_file),
        ]);
        writer.append_value(entry).map_err(|e| avro_error("manifest", e))?;
    }
    writer.into_inner().map_err(|e| avro_error("manifest", e))
}

/// A manifest list of `manifests`, as Avro bytes.
pub fn write_manifest_list(
    manifests: &[ManifestFile],
    snapshot_id: i64,
    parent: Option<i64>,
    sequence_number: i64,
) -> Result<Vec<u8>> {
    let schema = manifest_list_schema();
    let mut writer = Writer::with_codec(&schema, Vec::new(), codec()).map_err(|e| avro_error("manifest list", e))?;
    let parent = parent.map_or_else(|| "null".to_string(), |p| p.to_string());
    let meta = [
        ("snapshot-id", snapshot_id.to_string()),
        ("parent-snapshot-id", parent),
        ("sequence-number", sequence_number.to_string()),
        ("format-version", "2".to_string()),
    ];
    for (k, v) in meta {
        writer.add_user_metadata(k.to_string(), v).map_err(|e| avro_error("manifest list", e))?;
    }
    for m in manifests {
        let record = Avro::Record(vec![
            ("manifest_path".into(), Avro::String(m.manifest_path.clone())),
            ("manifest_length".into(), Avro::Long(m.manifest_length)),
            ("partition_spec_id".into(), Avro::Int(m.partition_spec_id)),
            ("content".into(), Avro::Int(m.content)),
            ("sequence_number".into(), Avro::Long(m.sequence_number)),
            ("min_sequence_number".into(), Avro::Long(m.min_sequence_number)),
            ("added_snapshot_id".into(), Avro::Long(m.added_snapshot_id)),
            ("added_files_count".into(), Avro::Int(m.added_files_count)),
            ("existing_files_count".into(), Avro::Int(m.existing_files_count)),
            ("deleted_files_count".into(), Avro::Int(m.deleted_files_count)),
            ("added_rows_count".into(), Avro::Long(m.added_rows_count)),
            ("existing_rows_count".into(), Avro::Long(m.existing_rows_count)),
            ("deleted_rows_count".into(), Avro::Long(m.deleted_rows_count)),
        ]);
        writer.append_value(record).map_err(|e| avro_error("manifest list", e))?;
    }
    writer.into_inner().map_err(|e| avro_error("manifest list", e))
}

/// The entries of a manifest list written by any v2 writer (fields found by name; v1's
/// `added_data_files_count` names are accepted too).
pub fn read_manifest_list(bytes: &[u8], from: &str) -> Result<Vec<ManifestFile>> {
    let bad = |what: String| Error::Data(format!("{from} is not an Iceberg manifest list: {what}"));
    let reader = Reader::new(bytes).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for record in reader {
        let record = record.map_err(|e| bad(e.to_string()))?;
        let Avro::Record(fields) = record else { return Err(bad("an entry is not a record".into())) };
        let get = |names: &[&str]| -> Option<&Avro> {
            fields.iter().find(|(n, _)| names.contains(&n.as_str())).map(|(_, v)| unwrap_union(v))
        };
        let long = |names: &[&str], default: Option<i64>| -> Result<i64> {
            match get(names) {
                Some(Avro::Long(v)) => Ok(*v),
                Some(Avro::Int(v)) => Ok(i64::from(*v)),
                _ => default.ok_or_else(|| bad(format!("no `{}`", names[0]))),
            }
        };
        let path = match get(&["manifest_path"]) {
            Some(Avro::String(s)) => s.clone(),
            _ => return Err(bad("no `manifest_path`".into())),
        };
        out.push(ManifestFile {
            manifest_path: path,
            manifest_length: long(&["manifest_length"], None)?,
            partition_spec_id: long(&["partition_spec_id"], None)? as i32,
            content: long(&["content"], Some(0))? as i32,
            sequence_number: long(&["sequence_number"], Some(0))?,
            min_sequence_number: long(&["min_sequence_number"], Some(0))?,
            added_snapshot_id: long(&["added_snapshot_id"], None)?,
            added_files_count: long(&["added_files_count", "added_data_files_count"], Some(0))? as i32,
            existing_files_count: long(&["existing_files_count", "existing_data_files_count"], Some(0))? as i32,
            deleted_files_count: long(&["deleted_files_count", "deleted_data_files_count"], Some(0))? as i32,
            added_rows_count: long(&["added_rows_count"], Some(0))?,
            existing_rows_count: long(&["existing_rows_count"], Some(0))?,
            deleted_rows_count: long(&["deleted_rows_count"], Some(0))?,
        });
    }
    Ok(out)
}

fn unwrap_union(v: &Avro) -> &Avro {
    match v {
        Avro::Union(_, inner) => inner,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field, Schema as ArrowSchema};

    #[test]
    fn manifest_lists_round_trip_and_manifests_carry_field_ids() {
        let m = ManifestFile {
            manifest_path: "s3://b/t/metadata/x-m0.avro".into(),
            manifest_length: 123,
            partition_spec_id: 0,
            content: 0,
            sequence_number: 4,
            min_sequence_number: 4,
            added_snapshot_id: 99,
            added_files_count: 2,
            existing_files_count: 0,
            deleted_files_count: 0,
            added_rows_count: 10,
            existing_rows_count: 0,
            deleted_rows_count: 0,
        };
        let bytes = write_manifest_list(std::slice::from_ref(&m), 99, None, 4).unwrap();
        assert_eq!(read_manifest_list(&bytes, "list").unwrap(), vec![m]);

        let schema = TableSchema::from_arrow(&ArrowSchema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("day", DataType::Date32, true),
        ]))
        .unwrap();
        let spec = PartitionSpec::identity(&schema, &["day".into()]).unwrap();
        let file = DataFile {
            path: "file:///w/t/data/day=2026-12-03/part-0.parquet".into(),
            partition: vec![PartitionValue::Date(20_790)],
            record_count: 3,
            file_size_in_bytes: 400,
        };
        let bytes = write_manifest(&schema, &spec, &[file]).unwrap();
        let reader = Reader::new(&bytes[..]).unwrap();
        let header = reader.writer_schema().canonical_form();
        assert!(reader.user_metadata().contains_key("partition-spec"));
        let written = String::from_utf8_lossy(&bytes).to_string();
        assert!(written.contains("\"field-id\":102") && written.contains("\"field-id\":1000"), "{header}");
        assert_eq!(reader.count(), 1);
    }
}
