"""The legacy Dativo JSON ABI of the example plugins, driven the way the Dativo platform's
Python bridge drives it: ctypes with c_char_p / c_void_p argtypes, returned strings typed
c_void_p so they can be handed back to free_string (every one of them is), extract_batch
called until it returns NULL, then write_batch with a file_counter. The Parquet files are read
back with pyarrow.

The second half replays the platform's bridge (src/dativo_ingest/rust_plugin_bridge.py of
dativo-io/dativo-ingest) call for call, result handling included (NULL checks, c_char_p(...)
.value.decode, free_string, json.loads, `if not batch: break`), inside a loop shaped like the
platform's `dativo run` (any exception: "Job execution failed", exit 2; no valid records:
exit 2), and checks that every bad input fails the job with dativo's message instead of
ending the data early.

The libraries come from $DATIVO_PLUGIN_LIB_DIR (default: <repo>/target/debug); build them
with `cargo build --workspace` (the Makefile next to this folder does).

Run: python3 -m pytest examples/plugins/rust/tests/test_legacy_abi.py
"""

import csv
import ctypes
import datetime
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


def coerce(record):
    """What the platform's schema validator does to a record of the orders asset before its
    writer gets it: strings typed by the asset (int, float, bool, datetime), then the bridge's
    datetime -> isoformat."""
    out = {}
    for field in ORDERS_SCHEMA:
        value = record.get(field["name"])
        if value is None or value == "" and field["type"] != "string":
            out[field["name"]] = None
            continue
        kind = field["type"]
        if kind == "integer":
            value = int(value)
        elif kind == "double":
            value = float(value)
        elif kind == "boolean":
            value = value.lower() in ("true", "1", "yes", "on") if isinstance(value, str) else bool(value)
        elif kind == "timestamp":
            value = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S").isoformat()
        out[field["name"]] = value
    return out


def test_records_round_trip_from_csv_through_json_to_parquet(reader_lib, writer_lib, tmp_path):
    batches, error = extract_all(reader_lib, reader_config(DATA / "orders.csv", batch_size=4))
    assert error is None
    expected = csv_rows(DATA / "orders.csv")
    records = [r for batch in batches for r in batch]
    assert len(batches) == -(-len(expected) // 4)
    # Every value is the CSV's text, as the original plugin and the platform's reader gave it;
    # every record carries every column, an empty field as "".
    assert records == expected

    out = tmp_path / "out"
    writer = writer_lib.create_writer(writer_config(out))
    assert writer, writer_lib.last_error()
    written = []
    try:
        for counter, batch in enumerate(batches):
            request = json.dumps({"records": [coerce(r) for r in batch], "file_counter": counter}).encode()
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
    assert table.column("note").to_pylist() == [r["note"] for r in expected]
    assert [t.strftime("%Y-%m-%dT%H:%M:%S") for t in table.column("ordered_at").to_pylist()] == [
        r["ordered_at"] for r in expected
    ]


def test_values_arrive_as_their_original_text_unless_the_config_types_them(reader_lib, tmp_path):
    path = tmp_path / "values.csv"
    path.write_text("flag,price,at,n\ntrue,1.50,2024-03-01 09:14:05+02:00,\n")
    batches, error = extract_all(reader_lib, reader_config(path))
    assert error is None
    assert batches == [[{"flag": "true", "price": "1.50", "at": "2024-03-01 09:14:05+02:00", "n": ""}]]
    # Typed on request: column_types.
    typed = {"column_types": {"flag": "boolean", "price": "double"}}
    batches, error = extract_all(reader_lib, reader_config(path, **typed))
    assert error is None
    assert batches[0][0]["flag"] is True and batches[0][0]["price"] == 1.5
    assert batches[0][0]["at"] == "2024-03-01 09:14:05+02:00"


def test_a_bad_value_is_an_error_not_the_end_of_the_data(reader_lib, tmp_path):
    options = {"batch_size": 2, "column_types": {"quantity": "integer"}}
    handle = reader_lib.create_reader(reader_config(DATA / "bad_quantity.csv", **options))
    assert handle
    try:
        rows = 0
        while True:
            pointer = reader_lib.extract_batch(handle)
            assert pointer, "the error must not look like the end of the data (NULL)"
            text = take_string(reader_lib, pointer)
            error = reader_lib.last_error()
            if error is not None:
                break
            rows += len(json.loads(text))
    finally:
        reader_lib.free_reader(handle)
    assert rows < 5
    message = error.decode()
    assert "bad_quantity.csv:5" in message and "quantity" in message and '"two"' in message
    # The text returned instead of NULL is no JSON: a JSON parser of the old hosts fails on it.
    assert text == "dativo plugin error: " + message
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_create_reader_failures_are_explained(reader_lib, tmp_path):
    for config, expected in [
        (b"{not json", "plugin config"),
        (reader_config(tmp_path / "missing.csv"), "missing.csv"),
        (reader_config(DATA / "orders.csv", delimiter="\n"), "delimiter"),  # a line break: refused
    ]:
        assert not reader_lib.create_reader(config)
        reason = reader_lib.last_error().decode()
        assert expected in reason
        # The bridge goes on with the NULL handle; the reason survives that call.
        pointer = reader_lib.extract_batch(None)
        assert take_string(reader_lib, pointer) == "dativo plugin error: " + reason
        assert reader_lib.last_error().decode() == reason
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
        answer = take_string(writer_lib, writer_lib.write_batch(writer, request))
        assert "lots" in writer_lib.last_error().decode()
        assert answer == "dativo plugin error: " + writer_lib.last_error().decode()

        record["amount"] = 1.5
        del record["customer_name"]  # required
        request = json.dumps({"records": [record], "file_counter": 3}).encode()
        take_string(writer_lib, writer_lib.write_batch(writer, request))
        assert "customer_name" in writer_lib.last_error().decode()
    finally:
        writer_lib.free_writer(writer)
    assert not out.exists() or list(out.iterdir()) == []


# ------------------------------------------------------------------------------------------
# The platform's bridge, replayed: every error must fail the platform's job.
# ------------------------------------------------------------------------------------------


class BridgeReader:
    """RustReaderWrapper's calls and result handling, step for step."""

    def __init__(self, lib_path, func_name, config_json):
        self._lib = ctypes.CDLL(str(lib_path))
        create_func = getattr(self._lib, func_name)
        create_func.argtypes = [ctypes.c_char_p]
        create_func.restype = ctypes.c_void_p
        self._create_reader = create_func
        extract_func = getattr(self._lib, "extract_batch", None)
        if extract_func:
            extract_func.argtypes = [ctypes.c_void_p]
            extract_func.restype = ctypes.c_void_p
            self._extract_batch = extract_func
        free_func = getattr(self._lib, "free_reader", None)
        if free_func:
            free_func.argtypes = [ctypes.c_void_p]
            free_func.restype = None
            self._free_reader = free_func
        free_str_func = getattr(self._lib, "free_string", None)
        if free_str_func:
            free_str_func.argtypes = [ctypes.c_void_p]
            free_str_func.restype = None
            self._free_string = free_str_func
        self._reader_ptr = self._create_reader(config_json)  # NULL is kept as None

    def extract(self):
        while True:
            result_ptr = self._extract_batch(self._reader_ptr)
            if not result_ptr:
                break
            result_cstr = ctypes.c_char_p(result_ptr)
            try:
                result_str = result_cstr.value.decode("utf-8") if result_cstr.value else ""
            except Exception:
                if hasattr(self, "_free_string"):
                    self._free_string(result_ptr)
                break
            if hasattr(self, "_free_string"):
                self._free_string(result_ptr)
            batch = json.loads(result_str)
            if not batch:
                break
            yield batch

    def close(self):
        if hasattr(self, "_reader_ptr") and hasattr(self, "_free_reader"):
            self._free_reader(self._reader_ptr)


class BridgeWriter:
    """RustWriterWrapper's calls and result handling, step for step."""

    def __init__(self, lib_path, func_name, config_json):
        self._lib = ctypes.CDLL(str(lib_path))
        create_func = getattr(self._lib, func_name)
        create_func.argtypes = [ctypes.c_char_p]
        create_func.restype = ctypes.c_void_p
        self._create_writer = create_func
        write_func = getattr(self._lib, "write_batch", None)
        if write_func:
            write_func.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            write_func.restype = ctypes.c_void_p
            self._write_batch_rust = write_func
        free_func = getattr(self._lib, "free_writer", None)
        if free_func:
            free_func.argtypes = [ctypes.c_void_p]
            free_func.restype = None
            self._free_writer = free_func
        free_str_func = getattr(self._lib, "free_string", None)
        if free_str_func:
            free_str_func.argtypes = [ctypes.c_void_p]
            free_str_func.restype = None
            self._free_string = free_str_func
        self._writer_ptr = self._create_writer(config_json)

    def write_batch(self, records, file_counter):
        serializable_records = []
        for record in records:
            serializable_records.append(
                {k: v.isoformat() if isinstance(v, datetime.datetime) else v for k, v in record.items()}
            )
        input_json = json.dumps({"records": serializable_records, "file_counter": file_counter}).encode("utf-8")
        result_ptr = self._write_batch_rust(self._writer_ptr, input_json)
        if not result_ptr:
            return []
        result_cstr = ctypes.c_char_p(result_ptr)
        try:
            result_str = result_cstr.value.decode("utf-8") if result_cstr.value else ""
        except Exception:
            if hasattr(self, "_free_string"):
                self._free_string(result_ptr)
            raise
        if hasattr(self, "_free_string"):
            self._free_string(result_ptr)
        return json.loads(result_str)

    def close(self):
        if hasattr(self, "_writer_ptr") and hasattr(self, "_free_writer"):
            self._free_writer(self._writer_ptr)


def platform_run(source, target, out):
    """The platform's `dativo run` around the bridge (cli.py's ETL loop, minus S3): its exit
    code, the rows it extracted and the files it recorded."""
    reader = BridgeReader(LIB_DIR / "libcsv_reader_plugin.so", "create_reader", source)
    writer = BridgeWriter(LIB_DIR / "libparquet_writer_plugin.so", "create_writer", target)
    total_records = 0
    file_counter = 0
    files = []
    try:
        try:
            for batch_records in reader.extract():
                total_records += len(batch_records)
                valid_records = [coerce(r) for r in batch_records]
                if valid_records:
                    file_metadata = writer.write_batch(valid_records, file_counter)
                    files.extend(file_metadata)
                    file_counter += len(file_metadata)
            exit_code = 2 if total_records == 0 else 0
        except Exception as e:
            print(f"Job execution failed: {e}")
            exit_code = 2
    finally:
        reader.close()
        writer.close()
    return exit_code, total_records, files


def big_csv(path, rows, bad_line=None):
    """`rows` orders-shaped rows; on line `bad_line` of the file (the header is line 1) the
    amount is 'oops'."""
    with open(path, "w") as f:
        f.write("order_id,customer_id,customer_name,email,amount,quantity,ordered_at,paid,country,note\n")
        for i in range(1, rows + 1):
            amount = "oops" if i + 1 == bad_line else f"{i % 100}.50"
            f.write(f"{i},{i % 7},name {i},,{amount},1,2024-03-01T09:14:05,true,ES,\n")
    return path


@pytest.mark.parametrize("batch_size", [None, 5000])
def test_through_the_bridge_a_bad_value_at_line_20001_fails_the_platforms_job(tmp_path, capfd, batch_size):
    data = big_csv(tmp_path / "orders.csv", 30000, bad_line=20001)
    options = {"column_types": {"amount": "double"}}
    if batch_size:
        options["batch_size"] = batch_size
    code, rows, files = platform_run(reader_config(data, **options), writer_config(tmp_path / "out"), tmp_path)
    stderr = capfd.readouterr().err
    # Was: exit 0 with 0 rows (one batch) or 15,000 rows (batches of 5000).
    assert code == 2
    assert rows < 20000
    assert "orders.csv:20001" in stderr and "oops" in stderr, stderr


@pytest.mark.parametrize(
    "source_options, target_options, expected",
    [
        ({"missing": True}, {}, "missing.csv"),
        ({"delimter": ";"}, {}, "delimter"),
        ({"encoding": "klingon"}, {}, "klingon"),
        ({}, {"compression": "brotli"}, "brotli"),
    ],
    ids=["missing file", "bad config", "unknown encoding", "unknown compression"],
)
def test_through_the_bridge_every_bad_input_fails_the_platforms_job(
    tmp_path, capfd, source_options, target_options, expected
):
    data = DATA / "orders.csv"
    if source_options.pop("missing", False):
        data = tmp_path / "missing.csv"
    code, rows, files = platform_run(
        reader_config(data, **source_options), writer_config(tmp_path / "out", **target_options), tmp_path
    )
    captured = capfd.readouterr()
    # Was: 0 rows or 0 files, exit 0.
    assert code == 2, captured.out
    assert "Job execution failed" in captured.out
    assert expected in captured.err, captured.err
    assert files == []


# ------------------------------------------------------------------------------------------
# An S3 target: the platform hands the writer output_base s3://bucket/prefix.
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server():
    """SeaweedFS on 127.0.0.1 for this module (tests/common/s3_server.py), stopped after it."""
    import sys

    sys.path.insert(0, str(REPO / "tests" / "common"))
    from s3_server import S3Server

    with S3Server() as server:
        yield server


def s3_fs(s3):
    import pyarrow.fs as pafs

    return pafs.S3FileSystem(access_key=s3.access_key, secret_key=s3.secret_key, endpoint_override=s3.endpoint,
                             scheme="http", region="us-east-1")


def s3_writer_config(where, connection):
    config = json.loads(writer_config("unused"))
    config.update(output_base=f"s3://{where}", target_type="s3", connection=connection)
    return json.dumps(config).encode()


def test_through_the_bridge_an_s3_output_base_writes_to_the_bucket(s3_server, tmp_path, monkeypatch):
    where = f"{s3_server.bucket}/legacy/orders"
    # The job's target.connection as the platform passes it (its s3: section, the recipe's
    # keys), with the endpoint left to S3_ENDPOINT as the platform's environment sets it.
    monkeypatch.setenv("S3_ENDPOINT", s3_server.endpoint)
    connection = {"s3": {"bucket": s3_server.bucket, "access_key_id": s3_server.access_key,
                         "secret_access_key": s3_server.secret_key, "region": "us-east-1"}}
    code, rows, files = platform_run(reader_config(DATA / "orders.csv", batch_size=12),
                                     s3_writer_config(where, connection), tmp_path)
    # Was: NULL from create_writer, no file, exit 0.
    assert code == 0 and rows == 30
    assert [f["path"] for f in files] == [f"s3://{where}/part-{i:05}.parquet" for i in range(3)]
    assert [f["record_count"] for f in files] == [12, 12, 6]
    fs = s3_fs(s3_server)
    back = pa.concat_tables(pq.read_table(f["path"][len("s3://"):], filesystem=fs) for f in files)
    expected = [coerce(r) for r in csv_rows(DATA / "orders.csv")]
    got = back.to_pylist()
    for row in got:
        row["ordered_at"] = row["ordered_at"].replace(tzinfo=None).isoformat()
    assert got == expected
    assert all(fs.get_file_info(f["path"][len("s3://"):]).size == f["size_bytes"] for f in files)


def test_through_the_bridge_s3_credentials_come_from_the_aws_environment(s3_server, tmp_path, monkeypatch):
    where = f"{s3_server.bucket}/legacy/env"
    monkeypatch.setenv("S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    code, rows, files = platform_run(reader_config(DATA / "orders.csv"), s3_writer_config(where, {}), tmp_path)
    assert code == 0 and sum(f["record_count"] for f in files) == 30
    assert pq.read_table(f"{where}/part-00000.parquet", filesystem=s3_fs(s3_server)).num_rows == 30


def test_through_the_bridge_a_refused_upload_fails_the_job_without_the_secret(s3_server, tmp_path, capfd,
                                                                              monkeypatch):
    secret = "legacy-wrong-secret-not-in-any-log"
    monkeypatch.setenv("S3_ENDPOINT", s3_server.endpoint)
    connection = {"access_key_id": s3_server.access_key, "secret_access_key": secret}
    code, rows, files = platform_run(reader_config(DATA / "orders.csv"),
                                     s3_writer_config(f"{s3_server.bucket}/legacy/denied", connection), tmp_path)
    captured = capfd.readouterr()
    assert code == 2 and files == []
    assert "Job execution failed" in captured.out
    assert f"s3://{s3_server.bucket}/legacy/denied/part-00000.parquet" in captured.err, captured.err
    assert secret not in captured.out + captured.err
