//! Iceberg v2 table metadata (the `*.metadata.json` document, and what a REST catalog returns
//! as `metadata`): kept as the JSON it was read as, so that fields another writer set and
//! dativo does not know survive a commit, with typed accessors for what a commit needs; the
//! partition spec; and the metadata of a new table.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::schema::TableSchema;
use crate::{Error, Result};

/// The branch a table's readers see by default.
pub const MAIN: &str = "main";

/// First id of partition fields (the spec's convention).
const FIRST_PARTITION_FIELD_ID: i32 = 1000;

/// One identity partition field.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionField {
    pub name: String,
    pub source_id: i32,
    pub field_id: i32,
    pub transform: String,
}

/// A partition spec (dativo writes identity transforms only).
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSpec {
    pub spec_id: i64,
    pub fields: Vec<PartitionField>,
}

impl PartitionSpec {
    /// Identity partitions on `columns` (in order) of `schema`.
    pub fn identity(schema: &TableSchema, columns: &[String]) -> Result<PartitionSpec> {
        let mut fields = Vec::with_capacity(columns.len());
        for (i, name) in columns.iter().enumerate() {
            let column = schema.column(name).ok_or_else(|| {
                Error::Config(format!("partitioning: `{name}` is not a column of the table's schema"))
            })?;
            fields.push(PartitionField {
                name: name.clone(),
                source_id: column.id,
                field_id: FIRST_PARTITION_FIELD_ID + i as i32,
                transform: "identity".into(),
            });
        }
        Ok(PartitionSpec { spec_id: 0, fields })
    }

    pub fn from_json(value: &Value) -> Result<PartitionSpec> {
        let bad = || Error::Data(format!("the table's partition spec is not one: {value}"));
        let spec_id = value.get("spec-id").and_then(Value::as_i64).unwrap_or(0);
        let mut fields = Vec::new();
        for f in value.get("fields").and_then(Value::as_array).ok_or_else(bad)? {
            fields.push(PartitionField {
                name: f.get("name").and_then(Value::as_str).ok_or_else(bad)?.to_string(),
                source_id: f.get("source-id").and_then(Value::as_i64).ok_or_else(bad)? as i32,
                field_id: f.get("field-id").and_then(Value::as_i64).ok_or_else(bad)? as i32,
                transform: f.get("transform").and_then(Value::as_str).ok_or_else(bad)?.to_string(),
            });
        }
        Ok(PartitionSpec { spec_id, fields })
    }

    /// The fields as JSON (the `fields` of a spec; also the `partition-spec` of a manifest).
    pub fn fields_json(&self) -> Value {
        Value::Array(
            self.fields
                .iter()
                .map(|f| {
                    json!({"name": f.name, "transform": f.transform, "source-id": f.source_id, "field-id": f.field_id})
                })
                .collect(),
        )
    }

    pub fn to_json(&self) -> Value {
        json!({"spec-id": self.spec_id, "fields": self.fields_json()})
    }

    pub fn last_field_id(&self) -> i32 {
        self.fields.iter().map(|f| f.field_id).max().unwrap_or(FIRST_PARTITION_FIELD_ID - 1)
    }

    /// The source column names, in order.
    pub fn source_names(&self, schema: &TableSchema) -> Vec<String> {
        self.fields
            .iter()
            .map(|f| {
                schema.columns.iter().find(|c| c.id == f.source_id).map_or_else(|| f.name.clone(), |c| c.name.clone())
            })
            .collect()
    }
}

/// A table's metadata document.
#[derive(Debug, Clone)]
pub struct TableMetadata(pub Value);

impl TableMetadata {
    pub fn parse(bytes: &[u8], from: &str) -> Result<TableMetadata> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::Data(format!("{from} is not Iceberg table metadata (JSON: {e})")))?;
        let metadata = TableMetadata(value);
        if metadata.0.get("format-version").and_then(Value::as_i64) != Some(2) {
            return Err(Error::Data(format!(
                "{from}: format-version {} is not supported: dativo writes Iceberg v2 tables",
                metadata.0.get("format-version").unwrap_or(&Value::Null)
            )));
        }
        Ok(metadata)
    }

    fn str_field(&self, key: &str) -> Result<&str> {
        self.0.get(key).and_then(Value::as_str).ok_or_else(|| Error::Data(format!("the table metadata has no `{key}`")))
    }

    pub fn uuid(&self) -> Result<&str> {
        self.str_field("table-uuid")
    }

    /// The table's location, without a trailing `/`.
    pub fn location(&self) -> Result<&str> {
        Ok(self.str_field("location")?.trim_end_matches('/'))
    }

    pub fn last_sequence_number(&self) -> i64 {
        self.0.get("last-sequence-number").and_then(Value::as_i64).unwrap_or(0)
    }

    /// The current schema.
    pub fn schema(&self) -> Result<TableSchema> {
        let id = self.0.get("current-schema-id").and_then(Value::as_i64).unwrap_or(0);
        let schemas = self.0.get("schemas").and_then(Value::as_array).cloned().unwrap_or_default();
        let found = schemas.iter().find(|s| s.get("schema-id").and_then(Value::as_i64) == Some(id));
        TableSchema::from_json(found.ok_or_else(|| Error::Data(format!("the table metadata has no schema {id}")))?)
    }

    /// The default partition spec.
    pub fn spec(&self) -> Result<PartitionSpec> {
        let id = self.0.get("default-spec-id").and_then(Value::as_i64).unwrap_or(0);
        let specs = self.0.get("partition-specs").and_then(Value::as_array).cloned().unwrap_or_default();
        let found = specs.iter().find(|s| s.get("spec-id").and_then(Value::as_i64) == Some(id));
        PartitionSpec::from_json(
            found.ok_or_else(|| Error::Data(format!("the table metadata has no partition spec {id}")))?,
        )
    }

    /// The snapshot `ref_name` points to (None when the ref does not exist or the table has
    /// no snapshot).
    pub fn ref_snapshot_id(&self, ref_name: &str) -> Option<i64> {
        let from_ref = self.0.get("refs").and_then(|r| r.get(ref_name)).and_then(|r| r.get("snapshot-id"));
        match from_ref.and_then(Value::as_i64) {
            Some(id) => Some(id),
            // Writers that predate refs only set current-snapshot-id.
            None if ref_name == MAIN => self.0.get("current-snapshot-id").and_then(Value::as_i64).filter(|id| *id >= 0),
            None => None,
        }
    }

    pub fn has_ref(&self, ref_name: &str) -> bool {
        self.0.get("refs").and_then(|r| r.get(ref_name)).is_some()
    }

    /// The snapshot `id`, as JSON.
    pub fn snapshot(&self, id: i64) -> Option<&Value> {
        self.0
            .get("snapshots")
            .and_then(Value::as_array)?
            .iter()
            .find(|s| s.get("snapshot-id").and_then(Value::as_i64) == Some(id))
    }

    /// The metadata after `snapshot` was added and `ref_name` set to it: what a catalog without
    /// a server (the SQL catalog) writes as the next metadata file. `previous` is the metadata
    /// file this one replaces (for `metadata-log`).
    pub fn with_snapshot(&self, snapshot: &Value, ref_name: &str, previous: Option<&str>) -> TableMetadata {
        let mut m = self.0.clone();
        let obj = m.as_object_mut().expect("metadata is an object");
        let id = snapshot["snapshot-id"].clone();
        let now = now_ms();
        obj.insert("last-sequence-number".into(), snapshot["sequence-number"].clone());
        obj.insert("last-updated-ms".into(), json!(now));
        push(obj, "snapshots", snapshot.clone());
        let refs = obj.entry("refs").or_insert_with(|| Value::Object(Map::new()));
        if let Some(refs) = refs.as_object_mut() {
            refs.insert(ref_name.to_string(), json!({"snapshot-id": id, "type": "branch"}));
        }
        if ref_name == MAIN {
            obj.insert("current-snapshot-id".into(), id.clone());
            push(obj, "snapshot-log", json!({"timestamp-ms": snapshot["timestamp-ms"], "snapshot-id": id}));
        }
        if let Some(previous) = previous {
            let logged = self.0.get("last-updated-ms").cloned().unwrap_or(json!(now));
            push(obj, "metadata-log", json!({"timestamp-ms": logged, "metadata-file": previous}));
        }
        TableMetadata(m)
    }
}

fn push(obj: &mut Map<String, Value>, key: &str, value: Value) {
    match obj.get_mut(key).and_then(Value::as_array_mut) {
        Some(list) => list.push(value),
        None => {
            obj.insert(key.into(), Value::Array(vec![value]));
        }
    }
}

/// The metadata of a new, empty table.
pub fn new_table(location: &str, schema: &TableSchema, spec: &PartitionSpec) -> TableMetadata {
    TableMetadata(json!({
        "format-version": 2,
        "table-uuid": uuid4(),
        "location": location,
        "last-sequence-number": 0,
        "last-updated-ms": now_ms(),
        "last-column-id": schema.last_column_id(),
        "current-schema-id": schema.schema_id,
        "schemas": [schema.to_json()],
        "default-spec-id": spec.spec_id,
        "partition-specs": [spec.to_json()],
        "last-partition-id": spec.last_field_id(),
        "default-sort-order-id": 0,
        "sort-orders": [{"order-id": 0, "fields": []}],
        "properties": {"write.format.default": "parquet"},
        "current-snapshot-id": -1,
        "refs": {},
        "snapshots": [],
        "snapshot-log": [],
        "metadata-log": []
    }))
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// `n` random bytes from the system's generator (ids must not collide with another writer's).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut out));
    if filled.is_err() {
        // No /dev/urandom: time and pid, hashed, are unique enough for one process's ids.
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()).to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        let digest = h.finalize();
        out.copy_from_slice(&digest[..N]);
    }
    out
}

/// A random (version 4) UUID, as text.
pub fn uuid4() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A random positive snapshot id.
pub fn snapshot_id() -> i64 {
    (i64::from_le_bytes(random_bytes::<8>()) & i64::MAX).max(1)
}
