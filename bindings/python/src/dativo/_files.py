"""Committed Parquet files, as the writer's close() and a job report list them."""

from dataclasses import dataclass

from ._lib import ffi, lib


@dataclass(frozen=True)
class CommittedFile:
    """A Parquet file visible under its final name."""

    path: str
    rows: int
    bytes: int


def committed_files(file_list) -> list:
    """Copy a `DativoFileList *` into CommittedFile objects (the list is not freed here)."""
    return [
        CommittedFile(
            path=ffi.string(lib.dativo_file_list_path(file_list, i)).decode("utf-8", "surrogateescape"),
            rows=lib.dativo_file_list_rows(file_list, i),
            bytes=lib.dativo_file_list_bytes(file_list, i),
        )
        for i in range(lib.dativo_file_list_count(file_list))
    ]
