"""The independent reader of the Iceberg tests (tests/iceberg.rs): pyiceberg, never dativo's
code. Prints JSON.

  iceberg_reader.py read NS.TABLE [BRANCH]   the table: schema, partition spec, snapshots,
                                             the data files' partition values, and its rows
                                             (sorted by every column), at BRANCH when given
  iceberg_reader.py count NS.TABLE          {"snapshots": N, "rows": N} of the current snapshot
  iceberg_reader.py append NS.TABLE JSON     appends rows (a JSON list of objects) with
                                             pyiceberg: another writer

The catalog comes from the environment: ICEBERG_CATALOG=sql with ICEBERG_URI (the SQLite
file) and ICEBERG_WAREHOUSE, or ICEBERG_CATALOG=rest with ICEBERG_URI, ICEBERG_WAREHOUSE,
ICEBERG_CREDENTIAL and the S3_* variables of the data files.
"""
import datetime
import json
import os
import sys

import pyarrow as pa
from pyiceberg.catalog import load_catalog


def catalog():
    kind = os.environ["ICEBERG_CATALOG"]
    s3 = {}
    if os.environ.get("S3_ENDPOINT"):
        s3 = {
            "s3.endpoint": os.environ["S3_ENDPOINT"],
            "s3.access-key-id": os.environ["S3_ACCESS_KEY"],
            "s3.secret-access-key": os.environ["S3_SECRET_KEY"],
            "s3.region": "us-east-1",
            "s3.path-style-access": "true",
        }
    if kind == "sql":
        return load_catalog(
            "default",
            type="sql",
            uri="sqlite:///" + os.environ["ICEBERG_URI"],
            warehouse=os.environ["ICEBERG_WAREHOUSE"],
            **s3,
        )
    props = {"type": "rest", "uri": os.environ["ICEBERG_URI"], **s3}
    if os.environ.get("ICEBERG_WAREHOUSE"):
        props["warehouse"] = os.environ["ICEBERG_WAREHOUSE"]
    if os.environ.get("ICEBERG_CREDENTIAL"):
        props["credential"] = os.environ["ICEBERG_CREDENTIAL"]
    return load_catalog("rest", **props)


def plain(v):
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return v


def read(name, branch=None):
    table = catalog().load_table(name)
    meta = table.metadata
    schema = table.schema()
    snapshot = table.snapshot_by_name(branch) if branch else table.current_snapshot()
    out = {
        "location": meta.location,
        "schema": [[f.field_id, f.name, str(f.field_type), f.required] for f in schema.fields],
        "spec": [
            [f.name, str(f.transform), schema.find_field(f.source_id).name] for f in table.spec().fields
        ],
        "snapshots": [
            {
                "id": s.snapshot_id,
                "parent": s.parent_snapshot_id,
                "sequence": s.sequence_number,
                "operation": s.summary.operation.value if s.summary else None,
                "summary": {k: v for k, v in (s.summary.additional_properties if s.summary else {}).items()},
            }
            for s in meta.snapshots
        ],
        "refs": {k: v.snapshot_id for k, v in meta.refs.items()},
        "current": meta.current_snapshot_id,
        "properties": dict(meta.properties),
    }
    if snapshot is None:
        out.update(rows=[], partitions=[], files=0)
        return out
    scan = table.scan(snapshot_id=snapshot.snapshot_id)
    tasks = list(scan.plan_files())
    out["files"] = len(tasks)
    out["partitions"] = sorted(
        {json.dumps([plain(t.file.partition[i]) for i in range(len(t.file.partition))]) for t in tasks}
    )
    arrow = scan.to_arrow()
    rows = [[plain(v) for v in r.values()] for r in arrow.to_pylist()]
    rows.sort(key=lambda r: json.dumps(r))
    out["columns"] = arrow.column_names
    out["rows"] = rows
    return out


def count(name):
    table = catalog().load_table(name)
    return {"snapshots": len(table.metadata.snapshots), "rows": table.scan().to_arrow().num_rows}


def append(name, rows_json):
    table = catalog().load_table(name)
    schema = table.schema().as_arrow()
    rows = json.loads(rows_json)
    for row in rows:
        for field in schema:
            if pa.types.is_date32(field.type) and isinstance(row.get(field.name), str):
                row[field.name] = datetime.date.fromisoformat(row[field.name])
    arrow = pa.Table.from_pylist(rows, schema=schema)
    table.append(arrow)
    return {"appended": len(rows)}


def main():
    cmd = sys.argv[1]
    if cmd == "read":
        result = read(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif cmd == "count":
        result = count(sys.argv[2])
    elif cmd == "append":
        result = append(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown command {cmd}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
