"""dativo: CSV -> Arrow -> Parquet with the Rust engine libdativo, from Python.

    import dativo, pyarrow as pa, polars as pl
    table = dativo.read_csv("orders.csv", delimiter=",").read_all()     # pyarrow.Table
    frame = pl.DataFrame(dativo.read_csv("orders.csv"))                 # no copy
    with dativo.ParquetWriter("out/orders", table.schema, compression="zstd") as writer:
        writer.write(table)                                             # committed on exit
    report = dativo.run_job("job.yaml")

Errors are DativoError subclasses, one per C API status (see dativo._errors).
"""

from ._build_info import VERSION as __version__
from ._errors import (ArrowError, ConfigError, DataError, DativoError, InternalError,
                      InvalidArgumentError, IoError, ParquetError, ParseError, PluginError,
                      SchemaError)
from ._files import CommittedFile
from ._job import JobReport, run_job
from ._csv import CsvStream, infer_schema, read_csv
from ._stream import Stream
from ._writer import ParquetWriter

__all__ = [
    "__version__", "read_csv", "infer_schema", "Stream", "CsvStream", "ParquetWriter", "CommittedFile",
    "run_job", "JobReport", "DativoError", "InvalidArgumentError", "ConfigError", "DataError",
    "ParseError", "SchemaError", "IoError", "ArrowError", "ParquetError", "PluginError",
    "InternalError",
]
