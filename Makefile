# dativo developer entry points. Needs only a Rust toolchain (make perf also uses python3).
#
#   make demo    build the CLI (debug) and run the quickstart job
#   make test    build, run every test (unit, integration, doc), smoke-run the benches
#   make bench   criterion benches (release build)
#   make perf    release CLI vs DuckDB on the 10M-row reference file (benches/perf.sh)

CARGO ?= cargo
ifeq ($(CI),true)
export CARGO_TERM_COLOR := never
endif

DEMO_JOB := examples/jobs/quickstart.yaml
DEMO_OUT := out/quickstart

.PHONY: demo test bench perf

demo:
	$(CARGO) build
	./target/debug/dativo run --config $(DEMO_JOB)
	@echo "Parquet written to $(DEMO_OUT)/:"
	@ls -l $(DEMO_OUT)/*.parquet

# --all-targets also builds the criterion benches and runs each once as a smoke test.
# Formatting and clippy run when the toolchain has them (rustup's default profile does).
test:
	$(CARGO) build
	@if $(CARGO) fmt --version >/dev/null 2>&1; then $(CARGO) fmt --check; else echo "rustfmt not installed: format check skipped"; fi
	@if $(CARGO) clippy --version >/dev/null 2>&1; then $(CARGO) clippy --all-targets -- -D warnings; else echo "clippy not installed: lint skipped"; fi
	$(CARGO) test --all-targets
	$(CARGO) test --doc

bench:
	$(CARGO) bench

perf:
	$(CARGO) build --release
	benches/perf.sh
