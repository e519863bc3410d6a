"""dativo on Ray Data: CSV files read by dativo in Ray tasks, Parquet written by dativo from a
Ray Dataset and committed once by the driver.

    import ray, dativo.ray
    ds = dativo.ray.read_csv(["data/2025-*.csv"], column_types={"amount": "float"},
                             on_error="reject", rejects_dir="out/rejects")
    files = dativo.ray.write_parquet(ds, "out/orders", compression="zstd")
    files = dativo.ray.write_iceberg(ds, "sales.orders", catalog={"type": "sql", "uri": "cat.db",
                                                                  "warehouse": "lake"})
    report = dativo.ray.run_job("job.yaml")   # a job file, one Ray task per unit

Ray is an optional dependency (`pip install "dativo[ray]"`); `import dativo` never needs it.
See docs/ray.md for the guarantees (one read task per file, per-file rejects, exactly-once
commit under task retries).
"""

try:
    import ray.data  # noqa: F401  (the real Ray, not this package: absolute import)
except ImportError as _error:
    raise ImportError(
        "dativo.ray needs Ray Data, which is not installed: pip install \"dativo[ray]\" "
        "(or pip install \"ray[data]\"). The rest of dativo works without it.") from _error

from ._datasink import DativoParquetDatasink, write_iceberg, write_parquet
from ._datasource import DativoCsvDatasource, read_csv, rejects_path_for
from ._job import run_job, run_unit

__all__ = ["read_csv", "write_parquet", "write_iceberg", "run_job", "run_unit", "DativoCsvDatasource", "DativoParquetDatasink",
           "rejects_path_for"]
