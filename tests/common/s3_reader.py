"""The independent reader of the object-store tests (tests/common/s3.rs): pyarrow's own S3
filesystem, never dativo's code. Prints JSON.

  s3_reader.py table BUCKET/PREFIX   the manifest, every object under the prefix, and the rows
                                     of the files the manifest names, in its order
  s3_reader.py put BUCKET/KEY TEXT   writes an object
  s3_reader.py iceberg-ready URI     exits 0 when the server's Iceberg REST catalog at URI
                                     serves its table bucket
  s3_reader.py upload BUCKET/KEY FILE  writes an object from a local file, streamed
  s3_reader.py local DIR             like table, for a local output folder (its manifest's files)
  s3_reader.py list BUCKET/PREFIX    the object names under the prefix
  s3_reader.py csv-equal BUCKET/PREFIX CSV
                                     whether the rows of the files the manifest names equal
                                     the CSV's, read by pyarrow's CSV reader with the Parquet
                                     schema's types (for the C++ test, which has no reader)
"""
import datetime
import json
import os
import sys

import pyarrow.fs as pafs
import pyarrow.parquet as pq


def fs():
    return pafs.S3FileSystem(
        access_key=os.environ["S3_ACCESS_KEY"],
        secret_key=os.environ["S3_SECRET_KEY"],
        endpoint_override=os.environ["S3_ENDPOINT"],
        scheme="http",
        region="us-east-1",
    )


def names(s3, prefix):
    try:
        infos = s3.get_file_info(pafs.FileSelector(prefix, recursive=True))
    except FileNotFoundError:
        return []
    return sorted(i.path[len(prefix) + 1 :] for i in infos if i.type == pafs.FileType.File)


def value(v):
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return v


def main():
    s3 = fs()
    cmd, where = sys.argv[1], sys.argv[2].rstrip("/")
    if cmd == "iceberg-ready":
        from s3_server import _iceberg_ready  # the same probe as the Python tests' server

        try:
            sys.exit(0 if _iceberg_ready(where, os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"]) else 1)
        except OSError as e:
            sys.exit(f"not ready: {e}")
    if cmd == "put":
        with s3.open_output_stream(where) as f:
            f.write(sys.argv[3].encode())
        print("{}")
    elif cmd == "upload":
        with open(sys.argv[3], "rb") as src, s3.open_output_stream(where) as f:
            while True:
                block = src.read(8 << 20)
                if not block:
                    break
                f.write(block)
        print("{}")
    elif cmd == "local":
        with open(os.path.join(where, "_manifest.json")) as f:
            manifest = json.load(f)
        rows = []
        for entry in manifest["files"]:
            table = pq.read_table(os.path.join(where, entry["file"]))
            rows += [[value(v) for v in row.values()] for row in table.to_pylist()]
        print(json.dumps({"manifest": manifest, "rows": rows}))
    elif cmd == "list":
        print(json.dumps(names(s3, where)))
    elif cmd == "table":
        out = {"objects": names(s3, where), "manifest": None, "rows": [], "schema": None}
        try:
            with s3.open_input_stream(where + "/_manifest.json") as f:
                out["manifest"] = json.loads(f.read())
        except FileNotFoundError:
            pass
        for entry in (out["manifest"] or {}).get("files", []):
            table = pq.read_table(where + "/" + entry["file"], filesystem=s3)
            out["schema"] = [f"{f.name}:{f.type}" for f in table.schema]
            assert table.num_rows == entry["rows"], (entry, table.num_rows)
            out["rows"] += [[value(v) for v in row.values()] for row in table.to_pylist()]
        print(json.dumps(out))
    elif cmd == "csv-equal":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        with s3.open_input_stream(where + "/_manifest.json") as f:
            manifest = json.loads(f.read())
        tables = [pq.read_table(where + "/" + e["file"], filesystem=s3) for e in manifest["files"]]
        got = pa.concat_tables(tables) if tables else None
        # Zoned timestamps are read without a zone, then taken as UTC (as dativo types them).
        plain = lambda t: pa.timestamp(t.unit) if pa.types.is_timestamp(t) and t.tz else t
        types = {f.name: plain(f.type) for f in got.schema}
        want = pacsv.read_csv(sys.argv[3], convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True))  # dativo reads "" as null
        want = want.cast(got.schema)
        got_rows, want_rows = got.to_pylist(), want.to_pylist()
        diff = next(([i, value(list(g.values())), value(list(w.values()))]
                     for i, (g, w) in enumerate(zip(got_rows, want_rows)) if g != w), None)
        print(json.dumps({"equal": got_rows == want_rows, "rows": len(got_rows), "csv_rows": len(want_rows),
                          "first_difference": diff}, default=str))
    else:
        sys.exit(f"unknown command {cmd}")


main()
