"""ParquetWriter into an Iceberg table (`iceberg:<namespace>.<table>`, the catalog in the
options, as a job's target.catalog): each close commits one snapshot; pyiceberg reads it back.
The staged form (many writers, one commit) is tested through dativo.ray in test_ray.py."""

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

import dativo


def catalog(tmp_path):
    return {"type": "sql", "uri": str(tmp_path / "catalog.db"), "warehouse": str(tmp_path / "warehouse")}


def reader(tmp_path):
    return SqlCatalog("default", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")


def batch(ids, countries):
    return pa.record_batch({"id": pa.array(ids, pa.int64()), "country": pa.array(countries, pa.string())})


def rows(table, ref=None):
    scan = table.scan(snapshot_id=table.snapshot_by_name(ref).snapshot_id) if ref else table.scan()
    return sorted((r["id"], r["country"]) for r in scan.to_arrow().to_pylist())


def write(tmp_path, data, **options):
    with dativo.ParquetWriter("iceberg:sales.orders", data.schema, catalog=catalog(tmp_path),
                              partitioning=["country"], **options) as w:
        w.write(data)
    return w.files


def test_each_close_commits_one_snapshot_appending_overwriting_and_on_a_branch(tmp_path):
    files = write(tmp_path, batch([1, 2, 3], ["FR", "DE", "FR"]))
    assert sorted(f.path.rsplit("/", 2)[1] for f in files) == ["country=DE", "country=FR"]
    table = reader(tmp_path).load_table("sales.orders")
    assert [f.name for f in table.spec().fields] == ["country"]
    assert (len(table.snapshots()), rows(table)) == (1, [(1, "FR"), (2, "DE"), (3, "FR")])

    write(tmp_path, batch([4], ["US"]))  # a table is appended to unless overwrite is written
    write(tmp_path, batch([5], ["DE"]), write_mode="overwrite", branch="dev")
    table = reader(tmp_path).load_table("sales.orders")
    assert len(table.snapshots()) == 3
    assert rows(table) == [(1, "FR"), (2, "DE"), (3, "FR"), (4, "US")], "main did not move"
    assert rows(table, "dev") == [(5, "DE")]

    write(tmp_path, batch([6], ["FR"]), write_mode="overwrite")
    assert rows(reader(tmp_path).load_table("sales.orders")) == [(6, "FR")]


def test_a_failed_write_commits_nothing_and_bad_options_name_the_key(tmp_path):
    write(tmp_path, batch([1], ["FR"]))
    with pytest.raises(RuntimeError, match="boom"):
        with dativo.ParquetWriter("iceberg:sales.orders", batch([], []).schema, catalog=catalog(tmp_path),
                                  partitioning=["country"]) as w:
            w.write(batch([2], ["DE"]))
            raise RuntimeError("boom")
    assert len(reader(tmp_path).load_table("sales.orders").snapshots()) == 1

    schema = batch([], []).schema
    with pytest.raises(dativo.ConfigError, match="needs `catalog`"):
        dativo.ParquetWriter("iceberg:sales.orders", schema)
    with pytest.raises(dativo.ConfigError, match="only applies to an Iceberg table"):
        dativo.ParquetWriter(str(tmp_path / "folder"), schema, catalog=catalog(tmp_path))
    with pytest.raises(dativo.ConfigError, match="catalog.table"):
        dativo.ParquetWriter("iceberg:sales.orders", schema, catalog={**catalog(tmp_path), "table": "x"})
    with pytest.raises(dativo.ConfigError, match="not an Iceberg table"):
        dativo.ParquetWriter("iceberg:sales.", schema, catalog=catalog(tmp_path))
    with pytest.raises(dativo.ConfigError, match="partitioned by"):
        dativo.ParquetWriter("iceberg:sales.orders", schema, catalog=catalog(tmp_path))
    other = pa.schema([("id", pa.int64()), ("country", pa.string()), ("note", pa.string())])
    with pytest.raises(dativo.DativoError, match="note"):
        dativo.ParquetWriter("iceberg:sales.orders", other, catalog=catalog(tmp_path), partitioning=["country"])
    assert len(reader(tmp_path).load_table("sales.orders").snapshots()) == 1
