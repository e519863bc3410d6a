"""Fixtures of the Python test suite: small CSV files written next to each test."""

import datetime as dt
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# A small file with every type the reader infers, nulls (empty fields), quoted commas and
# timestamps; EXPECTED is what it must read as.
TYPED_CSV = '''\
id,name,amount,created_at,day,is_active,note
1,Ada,12.5,2024-03-01T09:14:05,2024-03-01,true,"late, damaged"
2,Grace,,2024-03-02T10:00:00,2024-03-02,false,
3,"Linus ""T""",-3.25,2024-12-31T23:59:59,2024-12-31,,plain
'''
EXPECTED = {
    "id": [1, 2, 3],
    "name": ["Ada", "Grace", 'Linus "T"'],
    "amount": [12.5, None, -3.25],
    "created_at": [dt.datetime(2024, 3, 1, 9, 14, 5), dt.datetime(2024, 3, 2, 10, 0, 0),
                   dt.datetime(2024, 12, 31, 23, 59, 59)],
    "day": [dt.date(2024, 3, 1), dt.date(2024, 3, 2), dt.date(2024, 12, 31)],
    "is_active": [True, False, None],
    "note": ["late, damaged", None, "plain"],
}


@pytest.fixture
def typed_csv(tmp_path) -> Path:
    path = tmp_path / "typed.csv"
    path.write_text(TYPED_CSV)
    return path


def write_numbers_csv(path: Path, rows: int) -> Path:
    """A larger file: id, value, label (a string), for batches, threads and memory tests."""
    with path.open("w") as f:
        f.write("id,value,label\n")
        for i in range(rows):
            f.write(f"{i},{i * 0.5},label-{i % 97}\n")
    return path


@pytest.fixture
def numbers_csv(tmp_path) -> Path:
    return write_numbers_csv(tmp_path / "numbers.csv", 20_000)


def naive(values):
    """Timestamps without their time zone (the reader types ISO timestamps as UTC)."""
    return [v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in values]


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (SeaweedFS) on 127.0.0.1, started once for the session and
    stopped after it (tests/common/s3_server.py)."""
    import sys

    sys.path.insert(0, str(REPO / "tests" / "common"))
    from s3_server import S3Server

    with S3Server() as server:
        yield server


@pytest.fixture
def s3_fs(s3_server):
    """pyarrow's own S3 filesystem on the test server: the independent reader."""
    import pyarrow.fs as pafs

    return pafs.S3FileSystem(access_key=s3_server.access_key, secret_key=s3_server.secret_key,
                             endpoint_override=s3_server.endpoint, scheme="http", region="us-east-1")
