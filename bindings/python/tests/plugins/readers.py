"""Python reader plugins used by the tests (loaded by path, as a job loads them)."""

import pyarrow as pa

from dativo.plugins import BaseReader


class DictReader(BaseReader):
    """Dativo style: batches as lists of dicts."""

    def extract(self, state_manager=None):
        yield [{"id": 1, "name": "Ada", "score": 1.5}, {"id": 2, "name": "Grace", "score": None}]
        yield []
        yield [{"id": 3, "name": None, "score": 3.0}]


class ArrowReader(BaseReader):
    """Arrow batches and tables, taken without copying; the row count comes from the config."""

    def extract(self, state_manager=None):
        rows = int((self.source_config.connection or {}).get("rows", 4))
        ids = pa.array(range(rows), pa.int64())
        yield pa.record_batch({"id": ids, "name": pa.array([f"n{i}" for i in range(rows)])})
        yield pa.table({"id": pa.array([rows], pa.int64()), "name": ["last"]})


class FailingReader(BaseReader):
    def extract(self, state_manager=None):
        yield [{"id": 1}]
        raise RuntimeError("the source went away")


class FailingOpen(BaseReader):
    def __init__(self, source_config):
        super().__init__(source_config)
        raise ConnectionError("cannot reach the source")

    def extract(self, state_manager=None):
        yield []


class BadItems(BaseReader):
    def extract(self, state_manager=None):
        yield "not a batch"


class NotAPlugin:
    def extract(self, state_manager=None):
        yield []


class Abstract(BaseReader):
    pass


def not_a_class():
    return None
