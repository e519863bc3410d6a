"""The read-overhead bench's Python readers: one CSV file into a pyarrow Table.

Usage: python read_python.py dativo|dativo-batches|pyarrow|polars FILE
Prints "rows N seconds S" like the other readers of benches/read_overhead/run; S covers open to
the complete in-memory table (a pyarrow Table; a polars DataFrame for polars), not Python's
start-up or imports.

- dativo:  dativo.read_csv(FILE).read_all(): libdativo's reader, its batches imported into
           pyarrow without a copy (the Python package, bindings/python);
- dativo-batches: the same stream iterated, each pyarrow batch dropped once counted: the same
           work as the Rust and C readers of the bench, which keep no table (the binding's
           own overhead, without the cost of holding 10M rows in memory);
- pyarrow: pyarrow.csv.read_csv(FILE), default options;
- polars:  polars.read_csv(FILE, try_parse_dates=True), so created_at is a timestamp as in dativo.
"""

import sys
import time


def read_dativo(path):
    import dativo
    import pyarrow  # noqa: F401 (dativo imports it on first use: not part of the read)

    start = time.perf_counter()
    table = dativo.read_csv(path).read_all()
    return table.num_rows, time.perf_counter() - start


def read_dativo_batches(path):
    import dativo
    import pyarrow  # noqa: F401 (as above)

    start = time.perf_counter()
    rows = sum(batch.num_rows for batch in dativo.read_csv(path))
    return rows, time.perf_counter() - start


def read_pyarrow(path):
    import pyarrow.csv

    start = time.perf_counter()
    table = pyarrow.csv.read_csv(path)
    return table.num_rows, time.perf_counter() - start


def read_polars(path):
    import polars

    start = time.perf_counter()
    frame = polars.read_csv(path, try_parse_dates=True)
    return frame.height, time.perf_counter() - start


READERS = {"dativo": read_dativo, "dativo-batches": read_dativo_batches,
           "pyarrow": read_pyarrow, "polars": read_polars}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in READERS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(READERS)} FILE")
    rows, seconds = READERS[sys.argv[1]](sys.argv[2])
    print(f"rows {rows} seconds {seconds:.3f}")
