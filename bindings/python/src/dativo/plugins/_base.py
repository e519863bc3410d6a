"""Base classes of Python plugins, with the Dativo platform's method names and signatures, so
a Dativo reader or writer runs here unchanged.

A reader's `extract` may yield lists of dicts (converted once to Arrow) or Arrow data
(pyarrow RecordBatch or Table, or anything with `__arrow_c_array__` / `__arrow_c_stream__`,
taken without copying). A writer's `write_batch` gets lists of dicts, as in Dativo, or
pyarrow RecordBatches when the class sets `accepts_arrow = True`.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional


class Config(dict):
    """A plugin's JSON config: a dict whose keys also read as attributes
    (`source_config.connection`, as Dativo's config objects allow); a missing key is None."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self.get(name)

    @classmethod
    def wrap(cls, value):
        if isinstance(value, dict):
            return cls({k: cls.wrap(v) for k, v in value.items()})
        if isinstance(value, list):
            return [cls.wrap(v) for v in value]
        return value


@dataclass
class ConnectionTestResult:
    success: bool
    message: str
    error_code: Optional[str] = None
    details: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        result = {"success": self.success, "message": self.message}
        if self.error_code:
            result["error_code"] = self.error_code
        if self.details:
            result["details"] = self.details
        return result


@dataclass
class DiscoveryResult:
    objects: List[Dict[str, Any]]
    metadata: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {"objects": self.objects, "metadata": self.metadata}


class BaseReader(ABC):
    """A reader plugin. In a job it is built with the job's `source` section as `source_config`
    and its `extract()` batches become the job's input stream; validation, state and Parquet
    writing stay in the engine (so `state_manager` is None there)."""

    __version__ = "1.0.0"

    def __init__(self, source_config):
        self.source_config = Config.wrap(source_config)

    def check_connection(self) -> ConnectionTestResult:
        return ConnectionTestResult(True, "Connection test not implemented")

    def discover(self) -> DiscoveryResult:
        return DiscoveryResult([])

    @abstractmethod
    def extract(self, state_manager=None) -> Iterator[Any]:
        """Yield batches: lists of dicts, or Arrow record batches / tables."""

    def get_total_records_estimate(self) -> Optional[int]:
        return None


class BaseWriter(ABC):
    """A writer plugin. In a job it is built with the asset (`name`, `schema`), the job's
    `target` section and `output_base`; it gets every validated batch through `write_batch`,
    then `commit_files` with all the file metadata it returned. Each metadata dict names
    `path` and may give `rows` (or `record_count`) and `size_bytes`."""

    __version__ = "1.0.0"
    accepts_arrow = False  # True: write_batch gets pyarrow RecordBatches, not lists of dicts

    def __init__(self, asset_definition, target_config, output_base):
        self.asset_definition = Config.wrap(asset_definition)
        self.target_config = Config.wrap(target_config)
        self.output_base = output_base

    def check_connection(self) -> ConnectionTestResult:
        return ConnectionTestResult(True, "Connection test not implemented")

    def discover(self) -> DiscoveryResult:
        return DiscoveryResult([])

    @abstractmethod
    def write_batch(self, records, file_counter: int) -> List[Dict[str, Any]]:
        """Write one batch; return the metadata of the files written ([{"path": ...}])."""

    def commit_files(self, file_metadata: List[Dict[str, Any]]) -> Dict[str, Any]:
        return {"status": "success", "files_added": len(file_metadata)}
