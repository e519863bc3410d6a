"""The legacy Dativo JSON ABI of the example plugins, driven the way the Dativo platform's
Python bridge drives it: ctypes with c_char_p / c_void_p argtypes, returned strings typed
c_void_p so they can be handed back to free_string (every one of them is), extract_batch
called until it returns NULL, then write_batch with a file_counter. The Parquet files are read
back with pyarrow.

The libraries come from $DATIVO_PLUGIN_LIB_DIR (default: <repo>/target/debug); build them
with `cargo build --workspace` (the Makefile next to this folder does).

Run: python3 -m pytest examples/plugins/rust/tests/test_legacy_abi.py
"""

import csv
import ctypes
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[4]
LIB_DIR = Path(os.environ.get("DATIVO_PLUGIN_LIB_DIR", REPO / "target" / "debug"))
DATA = REPO / "examples" / "data"

# The orders asset (examples/data/orders_asset.yaml) as create_writer receives it.
ORDERS_SCHEMA = [
    {"name": "order_id", "type": "integer", "required": True},
    {"name": "customer_id", "type": "integer", "required": True},
    {"name": "customer_name", "type": "string", "required": True},
    {"name": "email", "type": "string", "required": False},
    {"name": "amount", "type": "double", "required": True},
    {"name": "quantity", "type": "integer", "required": True},
    {"name": "ordered_at", "type": "timestamp", "required": True},
    {"name": "paid", "type": "boolean", "required": False},
    {"name": "country", "type": "string", "required": False},
    {"name": "note", "type": "string", "required": False},
]


def load(name):
    path = LIB_DIR / f"lib{name}_plugin.so"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `cargo build --workspace` first")
    return ctypes.CDLL(str(path))


@pytest.fixture(scope="module")
def reader_lib():
    lib = load("csv_reader")
    lib.create_reader.argtypes = [ctypes.c_char_p]
    lib.create_reader.restype = ctypes.c_void_p
    lib.extract_batch.argtypes = [ctypes.c_void_p]
    lib.extract_batch.restype = ctypes.c_void_p  # char*, freed with free_string
    lib.free_reader.argtypes = [ctypes.c_void_p]
    lib.free_reader.restype = None
    lib.free_string.argtypes = [ctypes.c_void_p]
    lib.free_string.restype = None
    lib.last_error.argtypes = []
    lib.last_error.restype = ctypes.c_char_p  # owned by the library: never freed
    return lib


@pytest.fixture(scope="module")
def writer_lib():
    lib = load("parquet_writer")
    lib.create_writer.argtypes = [ctypes.c_char_p]
    lib.create_writer.restype = ctypes.c_void_p
    lib.write_batch.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.write_batch.restype = ctypes.c_void_p  # char*, freed with free_string
    lib.free_writer.argtypes = [ctypes.c_void_p]
    lib.free_writer.restype = None
    lib.free_string.argtypes = [ctypes.c_void_p]
    lib.free_string.restype = None
    lib.last_error.argtypes = []
    lib.last_error.restype = ctypes.c_char_p
    return lib


def take_string(lib, pointer):
    """The text of a returned char*, freed with the library's free_string."""
    try:
        return ctypes.string_at(pointer).decode("utf-8")
    finally:
        lib.free_string(pointer)


def reader_config(path, **options):
    return json.dumps(
        {
            "type": "csv",
            "connection": {},
            "credentials": {},
            "objects": ["orders"],
            "files": [{"path": str(path), "id": "orders"}],
            "incremental": {},
            "engine": {"options": {"delimiter": ",", "encoding": "utf-8", **options}},
        }
    ).encode()


def extract_all(lib, config):
    """Every batch (a list of records) until extract_batch returns NULL, and last_error then."""
    handle = lib.create_reader(config)
    assert handle, lib.last_error()
    batches = []
    try:
        while True:
            pointer = lib.extract_batch(handle)
            if not pointer:
                return batches, lib.last_error()
            batches.append(json.loads(take_string(lib, pointer)))
    finally:
        lib.free_reader(handle)


def writer_config(out, **options):
    return json.dumps(
        {
            "asset_name": "orders",
            "schema": ORDERS_SCHEMA,
            "output_base": str(out),
            "target_type": "local",
            "connection": {},
            "file_format": "parquet",
            "engine": {"options": {"compression": "snappy", "row_group_size": 1000, **options}},
        }
    ).encode()


def csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_records_round_trip_from_csv_through_json_to_parquet(reader_lib, writer_lib, tmp_path):
    batches, error = extract_all(reader_lib, reader_config(DATA / "orders.csv", batch_size=4))
    assert error is None
    expected = csv_rows(DATA / "orders.csv")
    records = [r for batch in batches for r in batch]
    assert len(batches) == -(-len(expected) // 4)
    assert [r["order_id"] for r in records] == [int(r["order_id"]) for r in expected]
    assert [r["customer_name"] for r in records] == [r["customer_name"] for r in expected]
    # Every record carries every column; an empty field is null, not a missing key.
    assert all(set(r) == set(expected[0]) for r in records)
    assert [r["note"] for r in records] == [r["note"] or None for r in expected]

    out = tmp_path / "out"
    writer = writer_lib.create_writer(writer_config(out))
    assert writer, writer_lib.last_error()
    written = []
    try:
        for counter, batch in enumerate(batches):
            request = json.dumps({"records": batch, "file_counter": counter}).encode()
            pointer = writer_lib.write_batch(writer, request)
            assert pointer, writer_lib.last_error()
            files = json.loads(take_string(writer_lib, pointer))
            path = out / f"part-{counter:05d}.parquet"
            assert files == [
                {"path": str(path), "size_bytes": path.stat().st_size, "record_count": len(batch)}
            ]
            assert writer_lib.last_error() is None
            written.append(path)
    finally:
        writer_lib.free_writer(writer)
    assert sorted(out.iterdir()) == written  # nothing else: no temp or staging files

    table = pa.concat_tables([pq.read_table(p) for p in written])
    assert table.num_rows == len(expected)
    assert table.schema.field("order_id").type == pa.int64()
    assert not table.schema.field("order_id").nullable
    assert table.schema.field("amount").type == pa.float64()
    assert table.schema.field("ordered_at").type == pa.timestamp("us", tz="UTC")
    assert table.column("order_id").to_pylist() == [int(r["order_id"]) for r in expected]
    assert table.column("amount").to_pylist() == [float(r["amount"]) for r in expected]
    assert table.column("paid").to_pylist() == [
        {"true": True, "false": False}.get(r["paid"]) for r in expected
    ]
    assert table.column("note").to_pylist() == [r["note"] or None for r in expected]
    assert [t.strftime("%Y-%m-%dT%H:%M:%S") for t in table.column("ordered_at").to_pylist()] == [
        r["ordered_at"] for r in expected
    ]


def test_a_bad_value_is_an_error_not_the_end_of_the_data(reader_lib, tmp_path):
    options = {"batch_size": 2, "column_types": {"quantity": "integer"}}
    batches, error = extract_all(reader_lib, reader_config(DATA / "bad_quantity.csv", **options))
    # The old plugins stopped here too, but a host could not tell this from the end of the file.
    assert sum(len(b) for b in batches) < 5
    assert error is not None
    message = error.decode()
    assert "bad_quantity.csv:5" in message and "quantity" in message and '"two"' in message


def test_create_reader_failures_are_explained(reader_lib, tmp_path):
    for config, expected in [
        (b"{not json", "plugin config"),
        (reader_config(tmp_path / "missing.csv"), "missing.csv"),
        (reader_config(DATA / "orders.csv", delimiter="\n"), "delimiter"),  # a line break: refused
    ]:
        assert not reader_lib.create_reader(config)
        assert expected in reader_lib.last_error().decode()
    # A successful call clears it.
    handle = reader_lib.create_reader(reader_config(DATA / "orders.csv"))
    assert handle and reader_lib.last_error() is None
    reader_lib.free_reader(handle)


def test_write_batch_failures_are_explained_and_leave_no_file(writer_lib, tmp_path):
    out = tmp_path / "out"
    assert not writer_lib.create_writer(json.dumps({"output_base": str(out)}).encode())
    assert "schema" in writer_lib.last_error().decode()

    writer = writer_lib.create_writer(writer_config(out))
    assert writer
    try:
        record = {f["name"]: None for f in ORDERS_SCHEMA}
        record.update(order_id=1, customer_id=2, customer_name="x", amount="lots", quantity=1)
        record["ordered_at"] = "2024-03-01T09:14:05"
        request = json.dumps({"records": [record], "file_counter": 3}).encode()
        assert not writer_lib.write_batch(writer, request)
        assert "lots" in writer_lib.last_error().decode()

        record["amount"] = 1.5
        del record["customer_name"]  # required
        request = json.dumps({"records": [record], "file_counter": 3}).encode()
        assert not writer_lib.write_batch(writer, request)
        assert "customer_name" in writer_lib.last_error().decode()
    finally:
        writer_lib.free_writer(writer)
    assert not out.exists() or list(out.iterdir()) == []
