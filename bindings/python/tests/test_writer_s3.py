"""ParquetWriter into s3://bucket/prefix on a real S3-compatible server (SeaweedFS, started by
the s3_server fixture on 127.0.0.1), read back with pyarrow's own S3 filesystem."""

import datetime as dt
import json
import uuid

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import dativo


def connection(s3):
    """The writer's connection keys: those of a job's target.connection.s3."""
    return {"endpoint": s3.endpoint, "access_key_id": s3.access_key, "secret_access_key": s3.secret_key,
            "region": "us-east-1", "path_style_access": True}


def prefix():
    return f"py/{uuid.uuid4().hex[:8]}"


def manifest(s3_fs, where):
    try:
        with s3_fs.open_input_stream(f"{where}/_manifest.json") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return None


def objects(s3_fs, where):
    import pyarrow.fs as pafs

    try:
        infos = s3_fs.get_file_info(pafs.FileSelector(where, recursive=True))
    except FileNotFoundError:
        return []
    return sorted(i.path[len(where) + 1:] for i in infos if i.type == pafs.FileType.File)


EVENTS = pa.table({
    "id": pa.array(range(1, 2001), pa.int64()),
    "country": pa.array([["FR", "DE", "US", None][i % 4] for i in range(2000)], pa.string()),
    "amount": pa.array([i * 0.25 if i % 7 else None for i in range(2000)], pa.float64()),
})


def test_a_table_goes_to_a_bucket_and_the_manifest_names_its_objects(s3_server, s3_fs):
    where = f"{s3_server.bucket}/{prefix()}"
    with dativo.ParquetWriter(f"s3://{where}", EVENTS.schema, max_rows_per_file=700,
                              **connection(s3_server)) as w:
        w.write(EVENTS)
        assert manifest(s3_fs, where) is None, "nothing is committed before close"
    assert [f.rows for f in w.files] == [700, 700, 600]
    assert all(f.path.startswith(f"s3://{where}/part-") for f in w.files), w.files
    m = manifest(s3_fs, where)
    assert m["rows"] == 2000 and len(m["files"]) == 3
    # Read back through the manifest, with pyarrow alone, and compare row for row.
    back = pa.concat_tables(pq.read_table(f"{where}/{f['file']}", filesystem=s3_fs) for f in m["files"])
    assert back.to_pylist() == EVENTS.to_pylist()
    assert sorted(objects(s3_fs, where)) == sorted([f["file"] for f in m["files"]] + ["_manifest.json"])


def test_partitioning_writes_hive_folders_with_ingest_date(s3_server, s3_fs):
    where = f"{s3_server.bucket}/{prefix()}"
    w = dativo.ParquetWriter(f"s3://{where}", EVENTS.schema, partitioning=["ingest_date", "country"],
                             **connection(s3_server))
    w.write(EVENTS)
    files = w.close()
    today = dt.date.today().isoformat()
    folders = sorted({f.path.rsplit("/", 1)[0].split(f"{where}/", 1)[1] for f in files})
    assert folders == sorted(f"ingest_date={today}/country={c}"
                             for c in ["DE", "FR", "US", "__HIVE_DEFAULT_PARTITION__"])
    named = [f"{where}/{f['file']}" for f in manifest(s3_fs, where)["files"]]
    part = ds.partitioning(pa.schema([("ingest_date", pa.string()), ("country", pa.string())]),
                           flavor="hive", dictionaries=None)
    back = ds.dataset(named, filesystem=s3_fs, format="parquet", partitioning=part,
                      partition_base_dir=where).to_table()
    assert back.num_rows == 2000
    assert set(back.column("ingest_date").to_pylist()) == {today}
    got = sorted((r["id"], r["country"] if r["country"] != "__HIVE_DEFAULT_PARTITION__" else None, r["amount"])
                 for r in back.to_pylist())
    assert got == sorted((r["id"], r["country"], r["amount"]) for r in EVENTS.to_pylist())


def test_a_second_writer_replaces_the_table_and_its_old_objects(s3_server, s3_fs):
    where = f"{s3_server.bucket}/{prefix()}"
    with dativo.ParquetWriter(f"s3://{where}", EVENTS.schema, **connection(s3_server)) as w:
        w.write(EVENTS)
    first = manifest(s3_fs, where)["files"]
    with dativo.ParquetWriter(f"s3://{where}", EVENTS.schema, **connection(s3_server)) as w:
        w.write(EVENTS.slice(0, 10))
    m = manifest(s3_fs, where)
    assert m["rows"] == 10
    assert not set(f["file"] for f in first) & set(objects(s3_fs, where)), "the old objects are deleted"
    with dativo.ParquetWriter(f"s3://{where}", EVENTS.schema, write_mode="append", **connection(s3_server)) as w:
        w.write(EVENTS.slice(10, 5))
    m = manifest(s3_fs, where)
    back = pa.concat_tables(pq.read_table(f"{where}/{f['file']}", filesystem=s3_fs) for f in m["files"])
    assert back.column("id").to_pylist() == list(range(1, 16))


def test_a_discarded_writer_leaves_no_object_and_no_manifest(s3_server, s3_fs):
    where = f"{s3_server.bucket}/{prefix()}"
    with pytest.raises(RuntimeError):
        with dativo.ParquetWriter(f"s3://{where}", EVENTS.schema, max_rows_per_file=500,
                                  **connection(s3_server)) as w:
            w.write(EVENTS)  # three objects complete, one being uploaded
            raise RuntimeError("the producer failed")
    assert manifest(s3_fs, where) is None
    assert objects(s3_fs, where) == []


def test_wrong_credentials_fail_without_showing_the_secret(s3_server):
    secret = "wrong-secret-that-must-not-leak-42"
    options = dict(connection(s3_server), secret_access_key=secret)
    with pytest.raises(dativo.DativoError) as raised:
        with dativo.ParquetWriter(f"s3://{s3_server.bucket}/{prefix()}", EVENTS.schema, **options) as w:
            w.write(EVENTS)
    message = str(raised.value)
    assert f"s3://{s3_server.bucket}/py/" in message, message
    assert secret not in message and s3_server.access_key not in message, message


def test_connection_keys_with_a_local_folder_are_refused(tmp_path):
    with pytest.raises(dativo.ConfigError, match="endpoint, access_key_id only apply to an s3://"):
        dativo.ParquetWriter(tmp_path / "out", EVENTS.schema, endpoint="http://127.0.0.1:1", access_key_id="k")


def test_local_partitioning_uses_the_same_option(tmp_path):
    with dativo.ParquetWriter(tmp_path / "out", EVENTS.schema, partitioning=["country"]) as w:
        w.write(EVENTS)
    back = ds.dataset(tmp_path / "out", format="parquet", partitioning="hive").to_table()
    assert back.num_rows == 2000
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "country=DE", "country=FR", "country=US", "country=__HIVE_DEFAULT_PARTITION__"]
