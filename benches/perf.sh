#!/usr/bin/env bash
# End-to-end CSV -> Parquet comparison with DuckDB on the reference file (docs/design.md,
# "Performance targets"): both tools run in the same session, alternating, RUNS times each;
# the table reports the median wall time, the peak RSS and the ratio to DuckDB.
#
# Usage: benches/perf.sh            (normally through `make perf`, which builds the release CLI)
# Environment:
#   DATIVO            the CLI to measure            (default: target/release/dativo)
#   ROWS              rows of the reference file    (default: 10000000, ~1.06 GB)
#   RUNS              runs per tool                 (default: 3)
#   DATIVO_BENCH_DIR  work directory                (default: /tmp/dativo_bench)
set -euo pipefail

cd "$(dirname "$0")/.."
DATIVO=${DATIVO:-target/release/dativo}
ROWS=${ROWS:-10000000}
RUNS=${RUNS:-3}
DIR=${DATIVO_BENCH_DIR:-/tmp/dativo_bench}
PYTHON=${PYTHON:-python3}

if [[ ! -x $DATIVO ]]; then
    echo "perf.sh: $DATIVO not found; build it with 'cargo build --release' (or 'make perf')" >&2
    exit 1
fi
DATIVO=$(cd "$(dirname "$DATIVO")" && pwd)/$(basename "$DATIVO")
mkdir -p "$DIR"

# --- tools ---------------------------------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
    echo "perf.sh: installing GNU time (/usr/bin/time)" >&2
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq time >/dev/null
fi
if ! "$PYTHON" -c 'import duckdb' 2>/dev/null; then
    echo "perf.sh: installing the duckdb Python package" >&2
    "$PYTHON" -m pip install --quiet duckdb
fi
DUCKDB_VERSION=$("$PYTHON" -c 'import duckdb; print(duckdb.__version__)')

# --- input ---------------------------------------------------------------------------------
if [[ $ROWS == 10000000 ]]; then CSV=$DIR/ref.csv; else CSV=$DIR/ref_$ROWS.csv; fi
if [[ ! -f $CSV ]]; then
    echo "perf.sh: generating $CSV ($ROWS rows)" >&2
    "$DATIVO" gen --rows "$ROWS" "$CSV"
fi
INPUT_BYTES=$(stat -c %s "$CSV")

# --- the two conversions -------------------------------------------------------------------
cat >"$DIR/job.yaml" <<EOF
# Written by benches/perf.sh: the reference file to Parquet, types inferred, snappy.
source:
  type: csv
  files:
    - path: $CSV
      object: ref
target:
  type: local
  output_base: $DIR/out_dativo
  engine:
    options:
      compression: snappy
logging:
  level: warn
EOF

cat >"$DIR/duckdb_copy.py" <<EOF
# Written by benches/perf.sh: DuckDB's own CSV -> Parquet conversion.
import duckdb
con = duckdb.connect()
con.execute("COPY (SELECT * FROM read_csv('$CSV')) TO '$DIR/out_duckdb.parquet' (FORMAT parquet, COMPRESSION snappy)")
EOF

# run NAME COMMAND...: time one run, append "seconds peak_kb" to $DIR/NAME.times
run() {
    local name=$1; shift
    rm -rf "$DIR/out_dativo" "$DIR/out_duckdb.parquet"
    if ! /usr/bin/time -f '%e %M' -o "$DIR/$name.last" "$@" >"$DIR/$name.log" 2>&1; then
        echo "perf.sh: $name failed:" >&2
        cat "$DIR/$name.log" >&2
        exit 1
    fi
    tail -n 1 "$DIR/$name.last" >>"$DIR/$name.times"
    printf '  %-7s run %d: %s s, peak RSS %s KB\n' "$name" "$i" $(tail -n 1 "$DIR/$name.last") >&2
}

rm -f "$DIR/dativo.times" "$DIR/duckdb.times" "$DIR/read.times"
cat "$CSV" >/dev/null # warm the page cache so no run pays for the disk
echo "perf.sh: $RUNS runs each, alternating, on $CSV ($INPUT_BYTES bytes)" >&2
for ((i = 1; i <= RUNS; i++)); do
    run dativo "$DATIVO" run --quiet --config "$DIR/job.yaml"
    run duckdb "$PYTHON" "$DIR/duckdb_copy.py"
    # Read-only (CSV -> Arrow, every row parsed and typed, nothing written).
    run read "$DATIVO" check --data --quiet --config "$DIR/job.yaml"
done

# --- report --------------------------------------------------------------------------------
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
peak() { sort -n | tail -n 1; }

DATIVO_S=$(cut -d' ' -f1 "$DIR/dativo.times" | median)
DUCKDB_S=$(cut -d' ' -f1 "$DIR/duckdb.times" | median)
DATIVO_KB=$(cut -d' ' -f2 "$DIR/dativo.times" | peak)
DUCKDB_KB=$(cut -d' ' -f2 "$DIR/duckdb.times" | peak)
READ_S=$(cut -d' ' -f1 "$DIR/read.times" | median)
READ_KB=$(cut -d' ' -f2 "$DIR/read.times" | peak)

awk -v rows="$ROWS" -v bytes="$INPUT_BYTES" -v runs="$RUNS" -v cores="$(nproc)" -v dv="$DUCKDB_VERSION" \
    -v ds="$DATIVO_S" -v ks="$DUCKDB_S" -v dk="$DATIVO_KB" -v kk="$DUCKDB_KB" -v rs="$READ_S" -v rk="$READ_KB" 'BEGIN {
    printf "CSV -> Parquet (snappy), %d rows, %.2f GB, %d cores, median of %d runs\n\n", rows, bytes / 1e9, cores, runs
    printf "| tool | wall time (s) | MB/s | peak RSS (MB) | time vs DuckDB |\n"
    printf "|---|---:|---:|---:|---:|\n"
    printf "| dativo | %.2f | %.0f | %.0f | %.2fx |\n", ds, bytes / 1e6 / ds, dk / 1024, ds / ks
    printf "| DuckDB %s | %.2f | %.0f | %.0f | 1.00x |\n", dv, ks, bytes / 1e6 / ks, kk / 1024
    printf "\nTarget: dativo at most 0.50x DuckDB'\''s time, peak RSS under 256 MB.\n"
    printf "\n| read only (CSV -> Arrow) | wall time (s) | MB/s | peak RSS (MB) |\n|---|---:|---:|---:|\n"
    printf "| dativo check --data | %.2f | %.0f | %.0f |\n", rs, bytes / 1e6 / rs, rk / 1024
    printf "\nTarget: read only at least 700 MB/s.\n"
}'
