"""The independent reader of the partitioning tests (tests/partition.rs): pyarrow.dataset with
Hive partitioning, never dativo's code. Reads the files the manifest names, local or in S3
(pyarrow's S3 filesystem, configured like s3_reader.py), and prints JSON:
{"manifest", "rows" (every value as text, partition columns included), "file_columns"}.

  partition_reader.py DIR | s3://BUCKET/PREFIX
"""
import json
import os
import sys

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def text(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def main():
    where = sys.argv[1].rstrip("/")
    if where.startswith("s3://"):
        fs = pafs.S3FileSystem(
            access_key=os.environ["S3_ACCESS_KEY"],
            secret_key=os.environ["S3_SECRET_KEY"],
            endpoint_override=os.environ["S3_ENDPOINT"],
            scheme="http",
            region="us-east-1",
        )
        base = where[len("s3://"):]
    else:
        fs = pafs.LocalFileSystem()
        base = os.path.abspath(where)
    with fs.open_input_stream(base + "/_manifest.json") as f:
        manifest = json.loads(f.read())
    paths = [base + "/" + e["file"] for e in manifest["files"]]
    file_columns = set()
    for p in paths:
        file_columns.update(pq.read_schema(p, filesystem=fs).names)
    rows = []
    if paths:
        dataset = ds.dataset(paths, filesystem=fs, format="parquet", partitioning="hive", partition_base_dir=base)
        rows = [{k: text(v) for k, v in r.items()} for r in dataset.to_table().to_pylist()]
    print(json.dumps({"manifest": manifest, "rows": rows, "file_columns": sorted(file_columns)}))


main()
