"""A Ray Data datasink writing dativo Parquet: tasks stage, the driver commits once."""

import datetime
import os
import uuid

from ray.data.block import BlockAccessor
from ray.data.datasource import Datasink

from .._errors import InvalidArgumentError
from .._staged import StagedParquetWriter, commit_staged, discard_staged


class DativoParquetDatasink(Datasink):
    """Parquet files written by dativo's writer from a Ray Dataset into directory `path` (a
    file system every worker and the driver see: local, or shared), `s3://bucket/prefix`
    (with the connection keys of dativo.ParquetWriter in `options`: endpoint, region,
    access_key_id, secret_access_key, path_style_access, ...) or an Iceberg table
    `iceberg:<namespace>.<table>` (with `catalog`, and `branch`, `partitioning` and the files'
    connection keys, in `options`; see write_iceberg).

    Each write task writes its blocks into files `<file_prefix>-<write id>-<task>-NNNNN.parquet`
    that it only *stages* (sealed, fsynced, hidden names) and returns their descriptions; after
    every task finished, the driver's `on_write_complete` publishes exactly the files of the
    attempts Ray counted, removes what failed or retried attempts left, and writes
    `_manifest.json` last. `on_write_failed` removes every staged file. So a failed, killed or
    retried task never duplicates or loses rows. In a bucket the tasks' objects are complete
    when staged and the manifest object, written last by the driver, publishes them; the
    objects it does not name are deleted. Into an Iceberg table the tasks' data files are
    complete in the table's location and the driver commits one snapshot naming them.
    `write_mode`: "overwrite" (the other `<file_prefix>-*.parquet` files go; a table's rows
    are replaced) or "append". `options`: dativo.ParquetWriter's
    (compression, row_group_size, max_rows_per_file, ...). One instance per write.
    """

    def __init__(self, path, *, file_prefix="part", write_mode="overwrite", **options):
        if write_mode not in ("overwrite", "append"):
            raise InvalidArgumentError(f"dativo.ray: write_mode must be 'overwrite' or 'append', not {write_mode!r}")
        # s3://bucket/prefix: tasks upload complete objects no manifest names; the driver's
        # manifest object publishes them (the connection keys are in `options`). An Iceberg
        # table: tasks write data files no snapshot names; the driver commits one snapshot.
        self.path = str(path) if _is_remote(path) else os.path.abspath(path)
        self.file_prefix = file_prefix
        self.write_mode = write_mode
        # Chosen here, before Ray ships the sink to the tasks, so every task sees the same
        # ones: the write id, and the virtual ingest_date of partitioned writes (the driver's
        # local date, as for a job on Ray).
        self.options = {"ingest_date": datetime.date.today().isoformat(), **options}
        # A SQL catalog's file and a local warehouse are paths: relative to the driver's
        # folder, as `path` is (a Ray worker runs in a folder of its own).
        if isinstance(options.get("catalog"), dict):
            self.options["catalog"] = {
                key: os.path.abspath(value) if key in ("uri", "warehouse") and isinstance(value, str)
                and "://" not in value else value
                for key, value in options["catalog"].items()}
        self.write_id = uuid.uuid4().hex[:12]
        self.files = None  # the committed files, after on_write_complete
        self._used = False

    def get_name(self) -> str:
        return "DativoParquet"

    def on_write_start(self, schema=None) -> None:
        if self._used:
            raise InvalidArgumentError("dativo.ray: a DativoParquetDatasink writes once; make a new one")
        self._used = True
        if not _is_remote(self.path):
            os.makedirs(self.path, exist_ok=True)

    def write(self, blocks, ctx) -> list:
        """One write task: its blocks into staged files; returns their descriptions."""
        prefix = f"{self.file_prefix}-{self.write_id}-{ctx.task_idx:05d}"
        writer = None
        try:
            for block in blocks:
                table = BlockAccessor.for_block(block).to_arrow()
                if writer is None:
                    writer = StagedParquetWriter(self.path, table.schema, prefix, **self.options)
                writer.write(table)
            return writer.stage() if writer is not None else []
        except BaseException:
            if writer is not None:
                writer.discard()
            raise

    def on_write_complete(self, write_result) -> None:
        staged = [f for task_files in write_result.write_returns for f in (task_files or [])]
        self.files = commit_staged(self.path, staged, self.file_prefix, self.write_mode, **self.options)

    def on_write_failed(self, error) -> None:
        discard_staged(self.path, self.file_prefix, **self.options)


def _is_remote(path) -> bool:
    """A bucket or an Iceberg table: not a folder of this file system."""
    return str(path).startswith(("s3://", "iceberg:"))


def write_parquet(dataset, path, *, file_prefix="part", write_mode="overwrite", ray_remote_args=None,
                  **options) -> list:
    """Write `dataset` as dativo Parquet into `path` (see DativoParquetDatasink) and return the
    committed files (dativo.CommittedFile)."""
    sink = DativoParquetDatasink(path, file_prefix=file_prefix, write_mode=write_mode, **options)
    dataset.write_datasink(sink, **({"ray_remote_args": ray_remote_args} if ray_remote_args else {}))
    return sink.files


def write_iceberg(dataset, table, *, catalog, branch=None, partitioning=None, write_mode="append",
                  file_prefix="part", ray_remote_args=None, **options) -> list:
    """Write `dataset` into the Iceberg table `table` ("<namespace>.<table>") as one snapshot and
    return the committed data files (dativo.CommittedFile).

    `catalog` is a job's `target.catalog` without namespace and table: {"type": "sql", "uri":
    "catalog.db", "warehouse": "folder or s3://bucket/prefix"} or {"type": "rest", "uri":
    "http://host:port", "warehouse": ..., "credential": "id:secret"}. The table is created from
    the first block's schema (partitioned by `partitioning`, identity partitions, the virtual
    `ingest_date` included) when it does not exist; an existing table must fit (columns,
    partition columns). Every task writes its data files into the table's location and returns
    them; the driver commits one snapshot (appended, or replacing the table's rows with
    write_mode="overwrite") to `branch` (default main), retried on a conflict. Data files of a
    failed or retried task are in no snapshot. `options`: dativo.ParquetWriter's, and the
    connection keys for files on S3.
    """
    if partitioning is not None:
        options["partitioning"] = list(partitioning)
    if branch is not None:
        options["branch"] = branch
    return write_parquet(dataset, f"iceberg:{table}", file_prefix=file_prefix, write_mode=write_mode,
                         ray_remote_args=ray_remote_args, catalog=catalog, **options)
