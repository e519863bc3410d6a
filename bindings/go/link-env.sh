#!/usr/bin/env bash
# Print the environment that makes cgo link this package against the libdativo in LIBDIR (a
# cargo output directory such as target/debug), for `eval "$(bindings/go/link-env.sh DIR)"`.
#
# cargo writes libdativo.so, but its SONAME is libdativo.so.<major>, which cargo does not
# create; this script makes both names as symlinks in a directory of its own,
# <target>/go-lib/<profile>/, writes a dativo.pc there, and prints PKG_CONFIG_PATH (or, without
# pkg-config, GOFLAGS=-tags=dativo_nopkgconfig) and CGO_LDFLAGS. The binaries get an rpath to
# that directory, so they run without LD_LIBRARY_PATH.
set -euo pipefail

LIBDIR=$(cd "${1:?usage: link-env.sh LIBDIR (e.g. target/debug)}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case "$(uname -s)" in
    Darwin) EXT=dylib ;;
    *) EXT=so ;;
esac
[[ -f $LIBDIR/libdativo.$EXT ]] || { echo "link-env.sh: no $LIBDIR/libdativo.$EXT; run cargo build first" >&2; exit 1; }

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)
# The SONAME carries the C ABI version (src/ffi/build.rs).
ABI=$(sed -n 's/^abi-version = \([0-9]*\).*/\1/p' "$ROOT/Cargo.toml" | head -n 1)
OUT=$(dirname "$LIBDIR")/go-lib/$(basename "$LIBDIR")
mkdir -p "$OUT/pkgconfig"
ln -sfn "$LIBDIR/libdativo.$EXT" "$OUT/libdativo.$EXT"
ln -sfn "$LIBDIR/libdativo.$EXT" "$OUT/libdativo.$EXT.$ABI"

# The headers are the package's own copies (bindings/go/dativo.h), so no Cflags.
cat >"$OUT/pkgconfig/dativo.pc.tmp" <<PC
libdir=$OUT

Name: dativo
Description: dativo built by cargo in $LIBDIR (bindings/go/link-env.sh)
Version: $VERSION
Cflags:
Libs: -L\${libdir} -ldativo -Wl,-rpath,\${libdir}
PC
mv "$OUT/pkgconfig/dativo.pc.tmp" "$OUT/pkgconfig/dativo.pc"

# CGO_LDFLAGS is printed in both cases: Go's build cache keys cgo packages on it but not on
# pkg-config's output, so without it a package built for another LIBDIR would be reused.
printf 'export CGO_LDFLAGS=%q\n' "-L$OUT -Wl,-rpath,$OUT${CGO_LDFLAGS:+ $CGO_LDFLAGS}"
if command -v "${PKG_CONFIG:-pkg-config}" >/dev/null 2>&1; then
    printf 'export PKG_CONFIG_PATH=%q\n' "$OUT/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
else
    printf 'export GOFLAGS=%q\n' "-tags=dativo_nopkgconfig${GOFLAGS:+ $GOFLAGS}"
fi
