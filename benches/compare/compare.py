"""Side-by-side CSV -> Parquet benchmark: dativo against DuckDB, DataFusion, ClickHouse (chdb),
pyarrow, polars and pandas.

Run it through `benches/compare/run`, which installs the tools and documents the environment
variables. This file has two roles:

* `compare.py` (no arguments) is the driver: it generates the reference file, times every tool
  as a separate process under GNU time, validates each output, and writes docs/COMPARISON.md and
  docs/comparison.png.
* `compare.py worker convert|read TOOL ...` is what the driver times for the Python tools. It
  imports only the library it measures, so no tool pays for another one's import.

Only ratios measured in one run mean something on a shared machine (docs/design.md, "Performance
targets"): every tool runs in the same session, alternated, and the report divides by DuckDB and
by the fastest peer of the run (the targets use the fastest one that typed created_at as a
timestamp).
"""

from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, NoReturn

# The size the performance targets are defined on (docs/design.md): other sizes are indicative only.
REFERENCE_ROWS = 10_000_000
# dativo's and DuckDB's default zstd level; set explicitly for every tool because pyarrow (and
# so pandas) defaults to level 1, which would make them look faster for a weaker compression.
ZSTD_LEVEL = 3
# pyarrow's streaming reader yields one batch per block and ParquetWriter.write_batch makes one
# row group per batch; the 1 MiB default block would give ~10k-row row groups, far smaller than
# any other tool writes. 16 MiB gives ~150k rows, close to DuckDB's 122,880.
PYARROW_BLOCK_SIZE = 16 << 20
# "Flat in input size": a 4x larger input may cost at most this factor more peak memory.
FLAT_TOLERANCE = 1.10
FLAT_FACTOR = 4

# docs/design.md's raised targets: against the fastest peer of the run, read CPU per GB.
TARGET_RATIO = 0.5
TARGET_RSS_MB = 200
TARGET_READ_CPU_PER_GB = 2.0
TARGET_ZSTD_OVER_SNAPPY = 1.25
TARGET_PYTHON_OVERHEAD = 0.03

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


# ------------------------------------------------------------------------------------------
# Worker side: the code each timed Python process runs. Imports stay inside the functions.
# ------------------------------------------------------------------------------------------


def sql_str(text: str) -> str:
    """A SQL string literal (paths may contain quotes)."""
    return "'" + text.replace("'", "''") + "'"


def writer_level(codec: str) -> dict[str, int]:
    """Keyword arguments that pin the zstd level for pyarrow-based writers."""
    return {"compression_level": ZSTD_LEVEL} if codec == "zstd" else {}


def write_batches(batches: Iterable[Any], schema: Any, out: str, codec: str) -> None:
    import pyarrow.parquet as pq

    with pq.ParquetWriter(out, schema, compression=codec, **writer_level(codec)) as writer:
        for batch in batches:
            writer.write_batch(batch)


def pyarrow_stream(csv: str) -> Any:
    import pyarrow.csv as pv

    return pv.open_csv(csv, read_options=pv.ReadOptions(block_size=PYARROW_BLOCK_SIZE))


def convert_duckdb(csv: str, out: str, codec: str) -> None:
    import duckdb

    level = f", COMPRESSION_LEVEL {ZSTD_LEVEL}" if codec == "zstd" else ""
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_csv({sql_str(csv)})) TO {sql_str(out)} "
        f"(FORMAT parquet, COMPRESSION {codec}{level})"
    )


def datafusion_frame(csv: str) -> Any:
    import pyarrow as pa
    from datafusion import SessionContext

    # DataFusion's inference (the first 1000 rows) leaves created_at as text on this file: the
    # values with and without milliseconds infer as two timestamp units, which merge to a
    # string. So its inferred schema is kept, with created_at set to a timestamp; inferring
    # reads only those first rows and stays inside the timing.
    context = SessionContext()
    schema = pa.schema(context.read_csv(csv).schema())
    index = schema.get_field_index("created_at")
    schema = schema.set(index, pa.field("created_at", pa.timestamp("us")))
    return context.read_csv(csv, schema=schema)


def convert_datafusion(csv: str, out: str, codec: str) -> None:
    # A path ending in .parquet is written as one file.
    datafusion_frame(csv).write_parquet(
        out, compression=codec, compression_level=writer_level(codec).get("compression_level"))


def chdb_source(csv: str) -> str:
    # ClickHouse infers created_at as DateTime64(9) (input_format_try_infer_datetimes, on by
    # default). file() resolves relative paths against its own directory: give it an absolute one.
    return f"SELECT * FROM file({sql_str(os.path.abspath(csv))}, CSVWithNames)"


def convert_chdb(csv: str, out: str, codec: str) -> None:
    import chdb

    # output_format_compression_level is the level of the Parquet zstd codec too (3 by default).
    chdb.query(f"{chdb_source(csv)} INTO OUTFILE {sql_str(os.path.abspath(out))} FORMAT Parquet "
               f"SETTINGS output_format_parquet_compression_method = {sql_str(codec)}, "
               f"output_format_compression_level = {ZSTD_LEVEL}")


def convert_pyarrow(csv: str, out: str, codec: str) -> None:
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    pq.write_table(pv.read_csv(csv), out, compression=codec, **writer_level(codec))


def convert_pyarrow_stream(csv: str, out: str, codec: str) -> None:
    reader = pyarrow_stream(csv)
    write_batches(reader, reader.schema, out, codec)


def convert_polars(csv: str, out: str, codec: str) -> None:
    import polars as pl

    # No try_parse_dates: the point is to measure what polars does by default.
    level = ZSTD_LEVEL if codec == "zstd" else None
    pl.scan_csv(csv).sink_parquet(out, compression=codec, compression_level=level)


def convert_pandas(csv: str, out: str, codec: str) -> None:
    import pandas as pd

    pd.read_csv(csv).to_parquet(
        out, engine="pyarrow", compression=codec, index=False, **writer_level(codec)
    )


def convert_dativo_python(csv: str, out: str, codec: str) -> None:
    import dativo

    # The package's own path: the Rust reader's C stream moved into the Rust writer (no copy,
    # no pyarrow); the stream is also the schema (it has __arrow_c_schema__). `out` becomes a
    # folder of part files, as the CLI writes.
    stream = dativo.read_csv(csv)
    level = {"compression_level": ZSTD_LEVEL} if codec == "zstd" else {}
    with dativo.ParquetWriter(out, stream, compression=codec, **level) as writer:
        writer.write(stream)


def arrow_read_summary(batches: Any) -> dict[str, Any]:
    """Drain an Arrow batch stream; report rows and how created_at was typed."""
    import pyarrow as pa

    rows = sum(batch.num_rows for batch in batches)
    kind = batches.schema.field("created_at").type
    return {"rows": rows, "created_at": str(kind), "typed": pa.types.is_timestamp(kind)}


def read_pyarrow(csv: str) -> dict[str, Any]:
    return arrow_read_summary(pyarrow_stream(csv))


def read_duckdb(csv: str) -> dict[str, Any]:
    import duckdb

    # SELECT * fetched as Arrow batches: every column is parsed and materialised, as the other
    # readers do; count(*) would let DuckDB skip most of the parsing.
    result = duckdb.connect().execute(f"SELECT * FROM read_csv({sql_str(csv)})")
    # duckdb 2.x has to_arrow_reader; 1.x has fetch_record_batch instead.
    to_reader = getattr(result, "to_arrow_reader", None) or result.fetch_record_batch
    return arrow_read_summary(to_reader())


def read_datafusion(csv: str) -> dict[str, Any]:
    import pyarrow as pa

    # The DataFrame is an Arrow C stream: its batches are produced as they are read.
    return arrow_read_summary(pa.RecordBatchReader.from_stream(datafusion_frame(csv)))


def read_chdb(csv: str) -> dict[str, Any]:
    import chdb

    # The query's result streamed as Arrow batches, as DuckDB's is.
    result = chdb.connect(":memory:").send_query(chdb_source(csv), "Arrow")
    return arrow_read_summary(result.record_batch())


def read_polars(csv: str) -> dict[str, Any]:
    import polars as pl

    frame = pl.read_csv(csv)
    kind = frame.schema["created_at"]
    return {"rows": frame.height, "created_at": str(kind), "typed": isinstance(kind, pl.Datetime)}


def read_dativo_python(csv: str) -> dict[str, Any]:
    import dativo

    # Iterating the stream imports each batch into pyarrow without a copy.
    return arrow_read_summary(dativo.read_csv(csv))


def worker(args: list[str]) -> None:
    """Entry point of a timed process: `worker convert TOOL CSV OUT CODEC`, `worker read TOOL CSV`,
    or `worker import TOOL` (start-up only, to show how much of a time is not conversion)."""
    phase, name, *rest = args
    tool = TOOLS_BY_NAME[name]
    if phase == "import":
        for module in tool.modules:
            importlib.import_module(module)
    elif phase == "convert" and tool.convert is not None:
        tool.convert(*rest)
    elif phase == "read" and tool.read is not None:
        print(json.dumps(tool.read(*rest)))
    else:
        raise SystemExit(f"compare.py worker: {name} has no {phase} step")


# ------------------------------------------------------------------------------------------
# The tools table
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    name: str  # as given in TOOLS= and used in file names
    label: str  # as shown in the report
    package: str | None  # distribution whose version is reported; None for the dativo CLI
    modules: tuple[str, ...]  # what the conversion worker imports (its start-up cost)
    does: str  # one line for the report's notes
    convert: Callable[[str, str, str], None] | None  # Python worker step; None for the CLI
    read: Callable[[str], dict[str, Any]] | None


DATIVO_CLI = "dativo"
DUCKDB = "duckdb"
DATIVO_PYTHON = "dativo-python"

TOOLS: list[Tool] = [
    Tool(DATIVO_CLI, "dativo", None, (),
         "`dativo run --quiet` on a job (types inferred); read only: `dativo check --data`",
         None, None),
    Tool(DUCKDB, "DuckDB", "duckdb", ("duckdb",),
         "`COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet)`; read only: the same "
         "SELECT fetched as Arrow batches",
         convert_duckdb, read_duckdb),
    Tool("datafusion", "DataFusion", "datafusion", ("datafusion",),
         "`SessionContext().read_csv(..., schema=...)` (its inferred schema with created_at "
         "set to `timestamp[us]`: its own inference leaves it as text here) + "
         "`DataFrame.write_parquet`; read only: the DataFrame streamed as Arrow batches",
         convert_datafusion, read_datafusion),
    Tool("chdb", "ClickHouse (chdb)", "chdb", ("chdb",),
         "`chdb.query(\"SELECT * FROM file(..., CSVWithNames) INTO OUTFILE ... FORMAT Parquet\")` "
         "(ClickHouse's schema inference); read only: the same SELECT streamed as Arrow batches "
         "(`send_query(..., \"Arrow\")`)",
         convert_chdb, read_chdb),
    Tool("pyarrow", "pyarrow (in memory)", "pyarrow", ("pyarrow.csv", "pyarrow.parquet"),
         "`pyarrow.csv.read_csv` (whole table in memory) + `pyarrow.parquet.write_table`",
         convert_pyarrow, None),
    Tool("pyarrow-stream", "pyarrow (streaming)", "pyarrow", ("pyarrow.csv", "pyarrow.parquet"),
         "`pyarrow.csv.open_csv` (16 MiB blocks) + `ParquetWriter.write_batch` per batch; "
         "read only: the same reader drained",
         convert_pyarrow_stream, read_pyarrow),
    Tool("polars", "polars", "polars", ("polars",),
         "`pl.scan_csv(...).sink_parquet(...)`, defaults (no date parsing); read only: "
         "`pl.read_csv`",
         convert_polars, read_polars),
    Tool("pandas", "pandas", "pandas", ("pandas", "pyarrow.parquet"),
         "`pd.read_csv` + `DataFrame.to_parquet` (pyarrow engine)",
         convert_pandas, None),
    Tool(DATIVO_PYTHON, "dativo (Python)", "dativo", ("dativo",),
         "`dativo.read_csv` written by `dativo.ParquetWriter` (the Python package: the Rust "
         "reader's stream moved into the Rust writer); read only: `dativo.read_csv` iterated "
         "as pyarrow batches",
         convert_dativo_python, read_dativo_python),
]
TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}


# ------------------------------------------------------------------------------------------
# Driver side
# ------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"compare: {message}", file=sys.stderr, flush=True)


def fail(message: str) -> NoReturn:
    raise SystemExit(f"compare: {message}")


@dataclass(frozen=True)
class Settings:
    rows: int
    runs: int
    codecs: list[str]
    tools: list[str]
    flat: bool
    dativo: Path
    bench_dir: Path
    out_dir: Path

    @staticmethod
    def from_env() -> Settings:
        env = os.environ
        tools = env.get("TOOLS", "").split() or [tool.name for tool in TOOLS]
        unknown = [name for name in tools if name not in TOOLS_BY_NAME]
        if unknown:
            fail(f"unknown tool(s) in TOOLS: {' '.join(unknown)}; "
                 f"known: {' '.join(TOOLS_BY_NAME)}")
        codecs = env.get("CODECS", "snappy zstd").split()
        if not codecs or any(codec not in ("snappy", "zstd") for codec in codecs):
            fail(f"CODECS takes snappy and/or zstd, not: {env.get('CODECS')!r}")
        settings = Settings(
            rows=int(env.get("ROWS", REFERENCE_ROWS)),
            runs=int(env.get("RUNS", 3)),
            codecs=codecs,
            tools=tools,
            flat=env.get("FLAT", "1") != "0",
            dativo=Path(env.get("DATIVO", REPO / "target/release/dativo")).resolve(),
            bench_dir=Path(env.get("DATIVO_BENCH_DIR", "/tmp/dativo_bench")),
            out_dir=Path(env.get("OUT", REPO / "docs")).resolve(),
        )
        if settings.rows < 1 or settings.runs < 1:
            fail("ROWS and RUNS must be at least 1")
        return settings

    @property
    def flat_codec(self) -> str:
        """The codec of the memory flatness runs: the targets' snappy unless it was left out."""
        return "snappy" if "snappy" in self.codecs else self.codecs[0]

    @property
    def work(self) -> Path:
        """Everything this script writes besides the reference files (shared with perf.sh)."""
        return self.bench_dir / "compare"

    def reproduce(self) -> str:
        """The command line that repeats this run: the non-default environment, then the script."""
        defaults = {"ROWS": str(REFERENCE_ROWS), "RUNS": "3", "CODECS": "snappy zstd",
                    "TOOLS": " ".join(tool.name for tool in TOOLS), "FLAT": "1"}
        given = {"ROWS": str(self.rows), "RUNS": str(self.runs), "CODECS": " ".join(self.codecs),
                 "TOOLS": " ".join(self.tools), "FLAT": "1" if self.flat else "0"}
        env = [f"{key}={shlex.quote(value)}" for key, value in given.items()
               if value != defaults[key]]
        return " ".join(["cargo build --release &&", *env, "benches/compare/run"])


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # user + system seconds, all threads
    rss_kib: int  # peak resident set size


@dataclass
class Series:
    """Every run of one tool in one phase (a codec, "read", or a flatness size)."""

    samples: list[Sample] = field(default_factory=list)
    output_bytes: int = 0
    created_at: str = ""  # type of created_at in the output (or as read)
    typed: bool = False

    @property
    def wall(self) -> float:
        return statistics.median(sample.wall for sample in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(sample.cpu for sample in self.samples)

    @property
    def rss_mb(self) -> float:
        # The highest peak of all runs: a memory bound has to hold every time, not on median.
        # KiB / 1024, as benches/perf.sh and docs/PERFORMANCE.md report it.
        return max(sample.rss_kib for sample in self.samples) / 1024


Results = dict[tuple[str, str], Series]  # (phase, tool name) -> runs


def csv_path(settings: Settings, rows: int) -> Path:
    """The reference file for `rows`, named as benches/perf.sh names it so both reuse it."""
    name = "ref.csv" if rows == REFERENCE_ROWS else f"ref_{rows}.csv"
    return settings.bench_dir / name


def ensure_csv(settings: Settings, rows: int) -> Path:
    path = csv_path(settings, rows)
    if path.exists():
        log(f"reusing {path}")
        return path
    log(f"generating {path} ({rows} rows)")
    # Generated under a temporary name so an interrupted run never leaves a short file to reuse.
    partial = path.with_name(path.name + ".partial")
    subprocess.run([str(settings.dativo), "gen", "--rows", str(rows), str(partial)],
                   check=True, stdout=subprocess.DEVNULL)
    partial.replace(path)
    return path


def warm_cache(path: Path) -> None:
    """Read the file once so no tool pays for the disk (targets are for a warm cache)."""
    with path.open("rb") as handle:
        while handle.read(16 << 20):
            pass


def write_job(settings: Settings, name: str, csv: Path, output: Path, codec: str) -> Path:
    """A dativo job converting `csv` into `output` with `codec`, types inferred."""
    level = f"\n      compression_level: {ZSTD_LEVEL}" if codec == "zstd" else ""
    job = settings.work / f"job_{name}.yaml"
    # json.dumps gives double-quoted scalars, which YAML reads the same whatever the path holds.
    job.write_text(
        "# Written by benches/compare/compare.py.\n"
        "source:\n"
        "  type: csv\n"
        "  files:\n"
        f"    - path: {json.dumps(str(csv))}\n"
        "      object: ref\n"
        "target:\n"
        "  type: local\n"
        f"  output_base: {json.dumps(str(output))}\n"
        "  engine:\n"
        "    options:\n"
        f"      compression: {codec}{level}\n"
        "logging:\n"
        "  level: warn\n"
    )
    return job


def python_available(module: str, attribute: str) -> bool:
    """Whether `module.attribute` imports in the interpreter the workers use."""
    probe = f"import {module}; {module}.{attribute}"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


Unavailable = dict[str, str]  # tool label -> why it was not run


def available_tools(settings: Settings) -> tuple[list[Tool], Unavailable]:
    """The requested tools that can run here, and why each other one cannot."""
    runnable: list[Tool] = []
    unavailable: Unavailable = {}
    for name in settings.tools:
        tool = TOOLS_BY_NAME[name]
        if name == DATIVO_PYTHON and not python_available("dativo", "read_csv"):
            unavailable[tool.label] = ("not available yet (`import dativo` fails or the package "
                                       "has no `read_csv`)")
        else:
            runnable.append(tool)
    return runnable, unavailable


def output_path(settings: Settings, tool: Tool, phase: str) -> Path:
    # dativo writes a folder of part files; the others one file.
    suffix = "" if tool.name == DATIVO_CLI else ".parquet"
    return settings.work / "out" / f"{tool.name}-{phase}{suffix}"


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def run_one(settings: Settings, label: str, argv: list[str]) -> tuple[Sample, str]:
    """Run one command as its own process under GNU time; return its sample and its stdout.

    A failing command ends the benchmark: a table with a silent gap would mislead.
    """
    logs = settings.work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    timing = logs / f"{label}.time"
    stderr_log = logs / f"{label}.stderr"
    with stderr_log.open("w") as stderr:
        done = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(timing), *argv],
                              stdout=subprocess.PIPE, stderr=stderr, text=True)
    if done.returncode != 0:
        fail(f"{label} failed (exit {done.returncode}): {shlex.join(argv)}\n"
             f"{stderr_log.read_text()[-4000:]}")
    # GNU time's line is the last one: earlier lines may be the command's own notices.
    wall, user, system, rss = timing.read_text().splitlines()[-1].split()
    return Sample(float(wall), float(user) + float(system), int(rss)), done.stdout


def parquet_files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.parquet")) if path.is_dir() else [path]


def validate(path: Path, rows: int, label: str) -> tuple[int, str, bool]:
    """Check a tool's output has every row; return its size and created_at's Parquet type.

    Runs outside the timing. A wrong row count ends the benchmark: a fast wrong answer is not a
    result.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = parquet_files(path)
    if not files or not files[0].exists():
        fail(f"{label}: no Parquet output at {path}")
    found = 0
    kinds: set[str] = set()
    typed = True
    for file in files:
        parquet = pq.ParquetFile(file)
        found += parquet.metadata.num_rows
        kind = parquet.schema_arrow.field("created_at").type
        kinds.add(str(kind))
        typed = typed and pa.types.is_timestamp(kind)
    if found != rows:
        fail(f"{label}: {found} rows in {path}, expected {rows} (output kept for inspection)")
    return sum(file.stat().st_size for file in files), ", ".join(sorted(kinds)), typed


def dativo_rows_read(stdout: str, label: str) -> int:
    """Rows from `dativo check --data`'s summary ("rows: 10,000,000 read, ...")."""
    match = re.search(r"rows: ([\d,]+) read", stdout)
    if match is None:
        fail(f"{label}: no 'rows: N read' line in dativo's output:\n{stdout}")
    return int(match.group(1).replace(",", ""))


def progress(label: str, sample: Sample) -> None:
    log(f"  {label:<34} {sample.wall:7.2f} s {sample.cpu:7.2f} CPU-s "
        f"{sample.rss_kib / 1024:7.0f} MB")


def worker_argv(*args: str) -> list[str]:
    """The command line of a timed Python worker: this file, under the driver's interpreter."""
    return [sys.executable, str(Path(__file__).resolve()), "worker", *args]


def convert_once(settings: Settings, results: Results, tool: Tool, phase: str, csv: Path,
                 codec: str, rows: int, job: Path, run: int) -> None:
    """One timed conversion, then its validation; the output is removed to keep disk use flat."""
    out = output_path(settings, tool, phase)
    remove(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if tool.name == DATIVO_CLI:
        argv = [str(settings.dativo), "run", "--quiet", "--config", str(job)]
    else:
        argv = worker_argv("convert", tool.name, str(csv), str(out), codec)
    label = f"{tool.name}-{phase}-run{run}"
    sample, _ = run_one(settings, label, argv)
    progress(label, sample)
    series = results.setdefault((phase, tool.name), Series())
    series.samples.append(sample)
    series.output_bytes, series.created_at, series.typed = validate(out, rows, label)
    remove(out)


def read_once(settings: Settings, results: Results, tool: Tool, csv: Path, job: Path,
              run: int) -> None:
    """One timed read-only pass (CSV -> Arrow, nothing written), row count checked."""
    label = f"{tool.name}-read-run{run}"
    if tool.name == DATIVO_CLI:
        argv = [str(settings.dativo), "check", "--data", "--quiet", "--config", str(job)]
        sample, stdout = run_one(settings, label, argv)
        # check --data types columns exactly as `run` does (same reader, same inference), and
        # every conversion ran before the reads: report the type dativo's own Parquet got.
        converted = results[(settings.codecs[0], DATIVO_CLI)]
        summary = {"rows": dativo_rows_read(stdout, label),
                   "created_at": converted.created_at, "typed": converted.typed}
    else:
        sample, stdout = run_one(settings, label, worker_argv("read", tool.name, str(csv)))
        summary = json.loads(stdout.strip().splitlines()[-1])
    if summary["rows"] != settings.rows:
        fail(f"{label}: read {summary['rows']} rows, expected {settings.rows}")
    progress(label, sample)
    series = results.setdefault(("read", tool.name), Series())
    series.samples.append(sample)
    series.created_at, series.typed = summary["created_at"], summary["typed"]


def rotated(tools: list[Tool], run: int) -> list[Tool]:
    """The tools in a different order each round, so no tool always follows the same one."""
    shift = run % len(tools) if tools else 0
    return tools[shift:] + tools[:shift]


def benchmark(settings: Settings, tools: list[Tool], csv: Path) -> Results:
    results: Results = {}
    dativo = TOOLS_BY_NAME[DATIVO_CLI]
    jobs = {codec: write_job(settings, codec, csv, output_path(settings, dativo, codec), codec)
            for codec in settings.codecs}
    # `check --data` writes nothing; the job still needs a target to be valid.
    read_job = write_job(settings, "read", csv, output_path(settings, dativo, "read"), "snappy")
    for run in range(settings.runs):
        for codec in settings.codecs:
            for tool in rotated(tools, run):
                convert_once(settings, results, tool, codec, csv, codec, settings.rows,
                             jobs[codec], run + 1)
    readers = [tool for tool in tools if tool.name == DATIVO_CLI or tool.read is not None]
    for run in range(settings.runs):
        for tool in rotated(readers, run):
            read_once(settings, results, tool, csv, read_job, run + 1)
    # The Python tools' times include starting Python and importing the library; measured
    # alone so the report can say how much.
    for run in range(settings.runs):
        for tool in rotated([tool for tool in tools if tool.modules], run):
            label = f"{tool.name}-startup-run{run + 1}"
            sample, _ = run_one(settings, label, worker_argv("import", tool.name))
            progress(label, sample)
            results.setdefault(("startup", tool.name), Series()).samples.append(sample)
    return results


def flatness(settings: Settings, results: Results) -> str | None:
    """dativo's peak memory on a FLAT_FACTOR times larger file; returns why it was skipped."""
    if not settings.flat:
        return "memory flatness: skipped (FLAT=0)"
    if DATIVO_CLI not in settings.tools:
        return "memory flatness: skipped (dativo not in TOOLS)"
    rows = settings.rows * FLAT_FACTOR
    big = ensure_csv(settings, rows)
    warm_cache(big)
    tool = TOOLS_BY_NAME[DATIVO_CLI]
    phase = f"flat{FLAT_FACTOR}x"
    codec = settings.flat_codec
    job = write_job(settings, phase, big, output_path(settings, tool, phase), codec)
    for run in range(settings.runs):
        convert_once(settings, results, tool, phase, big, codec, rows, job, run + 1)
        label = f"dativo-read-{phase}-run{run + 1}"
        argv = [str(settings.dativo), "check", "--data", "--quiet", "--config", str(job)]
        sample, stdout = run_one(settings, label, argv)
        if dativo_rows_read(stdout, label) != rows:
            fail(f"{label}: wrong row count reading {big}")
        progress(label, sample)
        results.setdefault((f"read-{phase}", DATIVO_CLI), Series()).samples.append(sample)
    return None


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------


def command_output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> list[str]:
    model = "unknown"
    for line in command_output(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    memory = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    system = f"{platform.system()} {platform.release()}"
    os_release = Path("/etc/os-release")
    if os_release.exists():
        for line in os_release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                system = line.split("=", 1)[1].strip('"') + f", {system}"
    return [f"cores (`nproc`): {command_output(['nproc'])}", f"CPU: {model}",
            f"memory: {memory}", f"system: {system}"]


def versions(settings: Settings, tools: list[Tool]) -> list[str]:
    version = command_output([str(settings.dativo), "--version"])
    lines = [f"dativo CLI: {version} ({settings.dativo})",
             f"Python: {platform.python_version()} ({sys.executable})"]
    packages = sorted({tool.package for tool in tools if tool.package} | {"pyarrow"})
    for package in packages:
        try:
            lines.append(f"{package}: {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"{package}: not installed")
    if "chdb" in packages:
        # chdb's own version is not ClickHouse's; the engine's is what was measured.
        engine = command_output([sys.executable, "-c", "import chdb; print(chdb.engine_version)"])
        lines.append(f"ClickHouse engine in chdb: {engine}")
    return lines


def ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}x" if base else "n/a"


def is_peer(name: str) -> bool:
    """Peers are the other tools: neither the dativo CLI nor its Python package."""
    return name not in (DATIVO_CLI, DATIVO_PYTHON)


def fastest_peer(settings: Settings, results: Results, phase: str,
                 typed_only: bool) -> tuple[str, Series] | None:
    """The peer with the lowest median wall time in `phase`; with `typed_only`, among those
    whose created_at came out as a timestamp (the targets' condition)."""
    candidates = [(name, results[(phase, name)]) for name in settings.tools
                  if is_peer(name) and (phase, name) in results
                  and (results[(phase, name)].typed or not typed_only)]
    return min(candidates, key=lambda item: item[1].wall, default=None)


def describe_peer(peer: tuple[str, Series] | None) -> str:
    if peer is None:
        return "none measured"
    name, series = peer
    return f"{TOOLS_BY_NAME[name].label} ({series.wall:.2f} s)"


def typed_cell(series: Series) -> str:
    if series.typed:
        return f"yes ({series.created_at})"
    return f"no: created_at left as text ({series.created_at})"


def conversion_table(settings: Settings, results: Results, codec: str,
                     unavailable: Unavailable) -> list[str]:
    duckdb = results.get((codec, DUCKDB))
    base = duckdb.wall if duckdb else None
    typed = fastest_peer(settings, results, codec, typed_only=True)
    overall = fastest_peer(settings, results, codec, typed_only=False)
    lines = [f"Fastest peer that typed `created_at` as a timestamp: {describe_peer(typed)}; "
             f"fastest peer overall: {describe_peer(overall)}"
             + ("" if overall is None or overall[1].typed else ", `created_at` left as text")
             + ". Peers are every tool but dativo's CLI and Python package.",
             "",
             "| tool | wall s | CPU s | peak RSS MB | output MB | created_at typed? "
             "| time vs DuckDB | vs fastest typed peer | vs fastest peer |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for name in settings.tools:
        series = results.get((codec, name))
        if series is None:
            continue
        lines.append(f"| {TOOLS_BY_NAME[name].label} | {series.wall:.2f} | {series.cpu:.2f} | "
                     f"{series.rss_mb:.0f} | {series.output_bytes / 1e6:.1f} | "
                     f"{typed_cell(series)} | {ratio(series.wall, base)} | "
                     f"{ratio(series.wall, typed[1].wall if typed else None)} | "
                     f"{ratio(series.wall, overall[1].wall if overall else None)} |")
    lines += [f"| {label} | {why} | | | | | | | |" for label, why in unavailable.items()]
    return lines


def read_table(settings: Settings, results: Results, input_bytes: int,
               unavailable: Unavailable) -> list[str]:
    lines = ["| tool | wall s | CPU s | CPU s per GB | MB/s of input | peak RSS MB "
             "| created_at typed? |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name in settings.tools:
        series = results.get(("read", name))
        if series is None:
            continue
        lines.append(f"| {TOOLS_BY_NAME[name].label} | {series.wall:.2f} | {series.cpu:.2f} | "
                     f"{series.cpu / (input_bytes / 1e9):.2f} | "
                     f"{input_bytes / 1e6 / series.wall:.0f} | {series.rss_mb:.0f} | "
                     f"{typed_cell(series)} |")
    lines += [f"| {label} | {why} | | | | | |" for label, why in unavailable.items()]
    return lines


def flat_table(settings: Settings, results: Results, csv: Path) -> list[str]:
    phase = f"flat{FLAT_FACTOR}x"
    big = csv_path(settings, settings.rows * FLAT_FACTOR)
    lines = ["| input | rows | input MB | dativo run wall s | peak RSS MB, run "
             "| peak RSS MB, read only |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, rows, path, run_phase, read_phase in (
            ("1x", settings.rows, csv, settings.flat_codec, "read"),
            (f"{FLAT_FACTOR}x", settings.rows * FLAT_FACTOR, big, phase, f"read-{phase}")):
        run = results.get((run_phase, DATIVO_CLI))
        read = results.get((read_phase, DATIVO_CLI))
        if run is None or read is None:
            continue
        lines.append(f"| {name} | {rows} | {path.stat().st_size / 1e6:.0f} | {run.wall:.2f} | "
                     f"{run.rss_mb:.0f} | {read.rss_mb:.0f} |")
    return lines


def startup_table(settings: Settings, results: Results) -> list[str]:
    lines = ["| tool | start-up s | share of its CSV -> Parquet time |", "|---|---:|---:|"]
    first = settings.codecs[0]
    for name in settings.tools:
        startup, converted = results.get(("startup", name)), results.get((first, name))
        if startup and converted:
            lines.append(f"| {TOOLS_BY_NAME[name].label} | {startup.wall:.2f} | "
                         f"{startup.wall / converted.wall:.0%} ({first}) |")
    return lines


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def targets(settings: Settings, results: Results, input_bytes: int) -> list[str]:
    """docs/design.md's raised targets, each with the numbers of this run and met / not met."""
    dativo = results.get(("snappy", DATIVO_CLI))
    zstd = results.get(("zstd", DATIVO_CLI))
    duckdb = results.get(("snappy", DUCKDB))
    typed = fastest_peer(settings, results, "snappy", typed_only=True)
    overall = fastest_peer(settings, results, "snappy", typed_only=False)
    read = results.get(("read", DATIVO_CLI))
    small = results.get((settings.flat_codec, DATIVO_CLI))
    big = results.get((f"flat{FLAT_FACTOR}x", DATIVO_CLI))
    gigabytes = input_bytes / 1e9
    rows = ["| target | this run | met? |", "|---|---|---|"]

    def row(target: str, result: str | None, ok: bool) -> None:
        rows.append(f"| {target} | {result or 'not measured'} | {verdict(ok) if result else '-'} |")

    def against(peer: tuple[str, Series]) -> str:
        return (f"{dativo.wall / peer[1].wall:.2f}x {TOOLS_BY_NAME[peer[0]].label} "
                f"({dativo.wall:.2f} s vs {peer[1].wall:.2f} s)")

    if dativo and typed:
        others = ([f"fastest peer overall: {against(overall)}"]
                  if overall and overall[0] != typed[0] else [])
        if duckdb and typed[0] != DUCKDB:
            others.append(f"DuckDB: {dativo.wall / duckdb.wall:.2f}x")
        result = against(typed) + (f"; {'; '.join(others)}" if others else "")
    else:
        result = None
    row(f"CSV -> Parquet (snappy) wall time at most {TARGET_RATIO:.2f}x that of the fastest peer "
        "that typed created_at as a timestamp", result,
        bool(dativo and typed and dativo.wall <= TARGET_RATIO * typed[1].wall))
    row(f"CSV -> Arrow (read only) at most {TARGET_READ_CPU_PER_GB:.1f} CPU-seconds per GB",
        f"{read.cpu / gigabytes:.2f} CPU-s per GB ({read.cpu:.2f} CPU-s for {gigabytes:.2f} GB, "
        f"{read.wall:.2f} s wall)" if read else None,
        bool(read and read.cpu / gigabytes <= TARGET_READ_CPU_PER_GB))
    row(f"peak RSS at most {TARGET_RSS_MB} MB (snappy run)",
        f"{dativo.rss_mb:.0f} MB" + (f" (DuckDB: {duckdb.rss_mb:.0f} MB)" if duckdb else "")
        if dativo else None,
        bool(dativo and dativo.rss_mb <= TARGET_RSS_MB))
    row(f"peak RSS flat in input size (at most {FLAT_TOLERANCE:.2f}x at {FLAT_FACTOR}x the input)",
        f"{small.rss_mb:.0f} MB at 1x, {big.rss_mb:.0f} MB at {FLAT_FACTOR}x "
        f"({big.rss_mb / small.rss_mb:.2f}x)" if small and big else None,
        bool(small and big and big.rss_mb <= FLAT_TOLERANCE * small.rss_mb))
    row(f"zstd (level {ZSTD_LEVEL}) wall time within {TARGET_ZSTD_OVER_SNAPPY:.2f}x of snappy's",
        f"{zstd.wall / dativo.wall:.2f}x ({zstd.wall:.2f} s vs {dativo.wall:.2f} s)"
        if zstd and dativo else None,
        bool(zstd and dativo and zstd.wall <= TARGET_ZSTD_OVER_SNAPPY * dativo.wall))
    # The binding target compares the same reader API in one process, timed from open to the
    # last batch; the rows here are whole processes (Python start-up and imports included, and
    # the CLI's `check --data` against the library), so they do not measure it.
    rows.append(f"| reading through Python, Go or C++ under {TARGET_PYTHON_OVERHEAD:.0%} more than in Rust "
                "| measured in one process by `benches/read_overhead/run` (`make perf` runs it next; "
                "results in docs/PERFORMANCE.md) | - |")
    if settings.rows != REFERENCE_ROWS:
        rows += ["", f"The targets are defined on the {REFERENCE_ROWS:,}-row reference file; "
                     f"this run used {settings.rows:,} rows, where start-up costs weigh more "
                     "and dativo's bounded buffers are not yet full at 1x (so the flatness ratio "
                     "overstates growth): indicative only."]
    return rows


def report(settings: Settings, tools: list[Tool], results: Results, csv: Path,
           unavailable: Unavailable, skipped_flat: str | None) -> str:
    input_bytes = csv.stat().st_size
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    out: list[str] = [
        "# dativo side by side: CSV -> Parquet",
        "",
        f"Generated by `benches/compare/run` on {now}. Input: `dativo gen --rows {settings.rows}` "
        f"({input_bytes / 1e9:.2f} GB, {csv}), warm page cache. Median wall time of "
        f"{settings.runs} run(s) per tool and codec, the tools alternated; peak RSS is the "
        "highest of those runs.",
        "",
        "## Machine and versions",
        "",
        *(f"- {line}" for line in machine()),
        *(f"- {line}" for line in versions(settings, tools)),
        "",
        "## Targets (docs/design.md, \"Performance targets\", the raised set)",
        "",
        *targets(settings, results, input_bytes),
    ]
    for codec in settings.codecs:
        out += ["", f"## CSV -> Parquet, {codec}", "",
                *conversion_table(settings, results, codec, unavailable)]
    out += ["", "## Read only (CSV -> Arrow, nothing written)", "",
            *read_table(settings, results, input_bytes, unavailable),
            "", "pyarrow (in memory) and pandas have no separate read-only row: their conversion "
            "is one read followed by one write."]
    out += ["", f"## Memory flatness (dativo, {settings.flat_codec})", ""]
    out += [skipped_flat] if skipped_flat else flat_table(settings, results, csv)
    out += ["", "## Elsewhere", "",
            *(f"- {label}: not measured: {why}" for label, why in unavailable.items()),
            "- reading through the C, C++, Go and Python bindings against Rust: `benches/read_overhead/run`",
            "- reading through a plugin (new ABI and legacy JSON ABI) against the built-in reader: "
            "`benches/plugins/run` (both run by `make perf` after this script; results in "
            "docs/PERFORMANCE.md)"]
    out += [
        "", "## What each tool runs", "",
        *(f"- {tool.label}: {tool.does}" for tool in TOOLS if tool.name in settings.tools),
        "",
        "Each run is a fresh process timed by GNU time (`/usr/bin/time -f '%e %U %S %M'`): wall "
        "time, CPU time (user + system, all threads) and peak RSS. Every tool uses every core "
        f"it wants and its own defaults, except that zstd is set to level {ZSTD_LEVEL} everywhere "
        "(dativo's and DuckDB's default; pyarrow's is 1). Each output is checked after its run, "
        "outside the timing: its row count, and whether `created_at` is a Parquet timestamp. "
        "Output sizes differ also because row group sizes, encodings and statistics differ. "
        "MB is 10^6 bytes for files and throughput; RSS MB is KiB / 1024, as in "
        "docs/PERFORMANCE.md.",
        "",
        "The Python tools' times include starting Python and importing their library; that part "
        "alone (median of the same number of runs):",
        "",
        *startup_table(settings, results),
        "",
        "## Reproduce",
        "",
        "```sh",
        settings.reproduce(),
        "```",
        "",
        "![wall time and peak RSS per tool](comparison.png)",
    ]
    return "\n".join(out) + "\n"


def chart(settings: Settings, results: Results, path: Path) -> None:
    """Grouped bars: wall time per tool and codec above, peak RSS below."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a build machine
    import matplotlib.pyplot as plt

    # Every tool that ran converted with every codec (a failure stops the benchmark).
    names = [name for name in settings.tools if (settings.codecs[0], name) in results]
    labels = [TOOLS_BY_NAME[name].label.replace(" (", "\n(") for name in names]
    width = 0.8 / max(len(settings.codecs), 1)
    figure, (time_axis, rss_axis) = plt.subplots(2, 1, figsize=(11, 9), constrained_layout=True)
    for index, codec in enumerate(settings.codecs):
        offset = (index - (len(settings.codecs) - 1) / 2) * width  # side by side, centred
        positions = [slot + offset for slot in range(len(names))]
        series = [results[(codec, name)] for name in names]
        walls = [one.wall for one in series]
        rss = [one.rss_mb for one in series]
        bars = time_axis.bar(positions, walls, width, label=codec)
        time_axis.bar_label(bars, fmt="%.2f", fontsize=8)
        bars = rss_axis.bar(positions, rss, width, label=codec)
        rss_axis.bar_label(bars, fmt="%.0f", fontsize=8)
    time_axis.set_title(f"CSV -> Parquet, {settings.rows:,} rows: wall time "
                        f"(median of {settings.runs}), lower is better")
    time_axis.set_ylabel("seconds")
    rss_axis.set_title("peak RSS (highest of the runs), lower is better")
    rss_axis.set_ylabel("MB")
    for axis in (time_axis, rss_axis):
        axis.set_xticks(range(len(names)), labels, fontsize=9)
        axis.legend()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# ------------------------------------------------------------------------------------------


def main() -> None:
    settings = Settings.from_env()
    if not os.access(settings.dativo, os.X_OK):
        fail(f"{settings.dativo} not found; build it with `cargo build --release`")
    settings.work.mkdir(parents=True, exist_ok=True)
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    tools, unavailable = available_tools(settings)
    csv = ensure_csv(settings, settings.rows)
    warm_cache(csv)
    log(f"{settings.runs} run(s) of {', '.join(tool.name for tool in tools)} "
        f"x {' '.join(settings.codecs)} on {csv}")
    results = benchmark(settings, tools, csv)
    skipped_flat = flatness(settings, results)
    markdown = report(settings, tools, results, csv, unavailable, skipped_flat)
    (settings.out_dir / "COMPARISON.md").write_text(markdown)
    chart(settings, results, settings.out_dir / "comparison.png")
    print(markdown)
    log(f"wrote {settings.out_dir / 'COMPARISON.md'} and {settings.out_dir / 'comparison.png'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker(sys.argv[2:])
    else:
        main()
