#!/usr/bin/env bash
# The Python package's tests, as `make test` runs them after `cargo build` (debug libdativo).
# Creates (once) a venv under target/python-venv with the pinned test requirements, installs the
# package from bindings/python bundling target/debug's library, and runs pytest.
# Idempotent: the venv is reused and its requirements reinstalled only when the requirements
# file changed; the package is reinstalled every run (the library or header may have changed).
#
# It also builds the example native plugins (examples/plugins/rust) the loader tests load.
#
# Environment: PYTHON (default python3), DATIVO_CARGO_PROFILE (default debug),
#   DATIVO_PYTHON_VENV (default target/python-venv), DATIVO_RAY_TESTS (default 1; 0 skips
#   installing Ray and the Ray cluster tests); extra arguments go to pytest.
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
VENV=${DATIVO_PYTHON_VENV:-$PWD/target/python-venv}
REQUIREMENTS=bindings/python/requirements-test.txt
export DATIVO_CARGO_PROFILE=${DATIVO_CARGO_PROFILE:-debug}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

if [[ ! -x $VENV/bin/python ]]; then
    if ! "$PYTHON" -m venv --clear "$VENV"; then
        # Debian and Ubuntu ship venv's pip bootstrap separately, in python3-venv.
        command -v apt-get >/dev/null || { echo "run-tests: '$PYTHON -m venv' failed" >&2; exit 1; }
        echo "run-tests: installing python3-venv (apt-get)" >&2
        SUDO=(); [[ $(id -u) -eq 0 ]] || SUDO=(sudo -n)
        "${SUDO[@]}" apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON" -m venv --clear "$VENV"
    fi
fi
STAMP=$VENV/.requirements.sha256
WANT=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ ! -f $STAMP || $(cat "$STAMP") != "$WANT" ]]; then
    "$VENV/bin/pip" install --quiet --upgrade pip setuptools wheel
    "$VENV/bin/pip" install --quiet -r "$REQUIREMENTS"
    echo "$WANT" >"$STAMP"
fi
# Ray Data, only for tests/test_ray.py (~620 MB, about 50 s from the index). DATIVO_RAY_TESTS=0
# skips both the install and those tests.
RAY_REQUIREMENTS=bindings/python/requirements-ray.txt
if [[ ${DATIVO_RAY_TESTS:-1} != 0 ]]; then
    RAY_STAMP=$VENV/.requirements-ray.sha256
    RAY_WANT=$(sha256sum "$RAY_REQUIREMENTS" | cut -d' ' -f1)
    if [[ ! -f $RAY_STAMP || $(cat "$RAY_STAMP") != "$RAY_WANT" ]]; then
        "$VENV/bin/pip" install --quiet -r "$RAY_REQUIREMENTS"
        echo "$RAY_WANT" >"$RAY_STAMP"
    fi
fi
export DATIVO_RAY_TESTS=${DATIVO_RAY_TESTS:-1}

# The example native plugins the loader tests load (already built: a no-op).
CARGO_FLAGS=()
[[ $DATIVO_CARGO_PROFILE == release ]] && CARGO_FLAGS+=(--release)
cargo build --quiet "${CARGO_FLAGS[@]}" -p dativo-csv-reader-plugin -p dativo-parquet-writer-plugin
export DATIVO_TEST_PLUGIN_DIR=$PWD/target/$DATIVO_CARGO_PROFILE

# No build isolation: the venv already has setuptools and cffi, so a re-run needs no network.
"$VENV/bin/pip" install --quiet --no-build-isolation --force-reinstall --no-deps ./bindings/python

# Run from the tests folder so that `import dativo` is the installed package, never src/.
cd bindings/python/tests

# Ray's gcs_server and raylet listen on every interface whatever --node-ip-address says, so
# the tests run in a network namespace of their own whose only interface is loopback: every
# server they start (Ray, SeaweedFS) is reachable from this machine's 127.0.0.1 alone.
# Everything that needs the network (pip) ran above. Where no namespace can be made (not
# root and no user namespaces, or no `ip` to bring loopback up), the tests run as they are;
# DATIVO_TEST_NETNS=0 turns it off.
NETNS=()
if [[ ${DATIVO_TEST_NETNS:-1} != 0 ]] && command -v unshare >/dev/null && command -v ip >/dev/null; then
    for candidate in "unshare --net" "unshare --net --map-root-user"; do
        if $candidate ip link set lo up 2>/dev/null; then
            read -ra NETNS <<<"$candidate"
            break
        fi
    done
fi
if ((${#NETNS[@]})); then
    echo "run-tests: pytest in a private network namespace (loopback only)" >&2
    exec "${NETNS[@]}" env DATIVO_TEST_NETNS=active sh -c 'ip link set lo up && exec "$@"' sh \
        "$VENV/bin/python" -m pytest -q "$@"
fi
echo "run-tests: no private network namespace here; the Ray cluster's ports may listen beyond 127.0.0.1" >&2
exec "$VENV/bin/python" -m pytest -q "$@"
