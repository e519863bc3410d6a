# dativo developer entry points. Needs a Rust toolchain (make perf also uses python3); make test
# also builds the C/C++ tests with CMake and a C/C++ compiler, which cmake/install-deps.sh
# installs on Debian/Ubuntu when they are missing.
#
#   make demo    build the CLI (debug) and run the quickstart job
#   make test    build everything (the library, the CLI, the example plugins), run every Rust
#                test (unit, integration, doc; benches once), the C/C++ tests through CMake
#                (installs missing Debian packages first), the Python package's pytest suite
#                and the legacy-plugin ctypes test (in target/python-venv), and the Go
#                binding's go test suite (modules from the Go proxy)
#   make bench   criterion benches (release build)
#   make perf    release CLI and Python package vs DuckDB, pyarrow, polars, pandas on the
#                10M-row reference file (benches/compare/run: rewrites docs/COMPARISON.md and
#                docs/comparison.png), then reading through C, Go and Python vs Rust
#                (benches/read_overhead/run), through plugins (benches/plugins/run), and
#                CSV -> S3 Parquet on a local SeaweedFS beside local disk (benches/lake/run),
#                and local runs vs the same work through a local Ray (benches/ray/run)
#   make perf-quick   release CLI vs DuckDB only, nothing written (benches/perf.sh)
#   make install-rust  what the Dativo platform's plugin guide runs: install the Rust toolchain
#                (rustup) when cargo is missing, then build the release plugins its job files
#                name (target/release/lib{csv_reader,parquet_writer}_plugin.so, also reachable
#                as examples/plugins/rust/target/release/...)
#   make header  regenerate include/dativo.h from src/ffi/ and src/abi/ (cbindgen) and its copy in bindings/go
#                (a Go module cannot include files outside its folder); commit the result

CARGO ?= cargo
ifeq ($(CI),true)
export CARGO_TERM_COLOR := never
endif

# The CMake build of the C/C++ examples and tests. It links the debug libdativo that
# `cargo build` made (same target directory), so it adds no Rust build of its own. Ninja when
# installed; the generator only matters for a new build directory (CMAKE_GENERATOR is read only
# then).
CMAKE ?= cmake
CTEST ?= ctest
CMAKE_BUILD_DIR := target/cmake
NPROC := $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)

DEMO_JOB := examples/jobs/quickstart.yaml
DEMO_OUT := out/quickstart

.PHONY: demo test bench perf perf-quick header install-rust

demo:
	$(CARGO) build
	./target/debug/dativo run --config $(DEMO_JOB)
	@echo "Parquet written to $(DEMO_OUT)/:"
	@ls -l $(DEMO_OUT)/*.parquet

# The Debian packages first: a C compiler (and CMake for the C/C++ suites) before any build.
# --all-targets also builds the criterion benches and runs each once as a smoke test.
# Formatting and clippy run when the toolchain has them (rustup's default profile does).
# --workspace: the example plugins (examples/plugins/rust) too; tests/plugins.rs loads them.
test:
	cmake/install-deps.sh
	$(CARGO) build --workspace
	@if $(CARGO) fmt --version >/dev/null 2>&1; then $(CARGO) fmt --all --check; else echo "rustfmt not installed: format check skipped"; fi
	@if $(CARGO) clippy --version >/dev/null 2>&1; then $(CARGO) clippy --workspace --all-targets -- -D warnings; else echo "clippy not installed: lint skipped"; fi
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc
	CMAKE_GENERATOR="$$(command -v ninja >/dev/null 2>&1 && echo Ninja || echo 'Unix Makefiles')" \
	  $(CMAKE) -S . -B $(CMAKE_BUILD_DIR) -DDATIVO_CARGO_PROFILE=debug
	$(CMAKE) --build $(CMAKE_BUILD_DIR) --parallel $(NPROC)
	cd $(CMAKE_BUILD_DIR) && $(CTEST) --output-on-failure --parallel $(NPROC)
	bindings/python/run-tests.sh
	$(MAKE) -C examples/plugins/rust test
	bindings/go/run-tests.sh

bench:
	$(CARGO) bench

# The comparison, then what the bindings and the plugins cost on the same reference file.
perf:
	$(CARGO) build --release --workspace
	benches/compare/run
	benches/read_overhead/run
	benches/plugins/run
	benches/lake/run
	benches/ray/run

perf-quick:
	$(CARGO) build --release
	benches/perf.sh

# tests/c_header.rs compares the committed header with cbindgen's output; with
# DATIVO_UPDATE_HEADER set it rewrites the header instead.
header:
	DATIVO_UPDATE_HEADER=1 $(CARGO) test -p dativo-ffi --test c_header
	cp include/dativo.h include/dativo_arrow.h bindings/go/

# The Dativo platform's examples/plugins/rust/Makefile has `install-rust` (rustup's installer)
# followed by `make build-release`; its guide and job files then name
# examples/plugins/rust/target/release/libcsv_reader_plugin.so:create_reader and
# libparquet_writer_plugin.so:create_writer. This does both steps, and links the workspace's
# target/ folder (where dativo builds the plugins) under examples/plugins/rust so those
# paths work from the repository root as they did in the platform.
install-rust:
	@if ! command -v $(CARGO) >/dev/null 2>&1 && [ ! -x "$$HOME/.cargo/bin/cargo" ]; then \
	  echo "Installing the Rust toolchain with rustup..."; \
	  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y || exit 1; \
	fi
	PATH="$$HOME/.cargo/bin:$$PATH" $(MAKE) -C examples/plugins/rust build-release
	@[ -e examples/plugins/rust/target ] || ln -s ../../../target examples/plugins/rust/target
	@echo "Built the release plugins:"
	@echo "  target/release/libcsv_reader_plugin.so:create_reader   (custom_reader)"
	@echo "  target/release/libparquet_writer_plugin.so:create_writer   (custom_writer)"
	@echo "(also as examples/plugins/rust/target/release/...; the new ABI: name the library alone)"
