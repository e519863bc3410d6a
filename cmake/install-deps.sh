#!/bin/sh
# Install the tools the CMake part of `make test` needs, only those that are missing.
#
# Required: cmake, a C and a C++ compiler, GoogleTest (tests/cpp). Optional, used when present:
# ninja (faster builds), valgrind and pkg-config (their tests are skipped without them), nm and
# readelf (binutils, for the exported-symbols test).
#
# On Debian/Ubuntu the missing packages are installed with apt-get (through sudo when not root;
# `sudo -n` without a terminal, so CI never hangs on a password prompt). Elsewhere this script
# only lists what is missing and fails if a required tool is among them.
set -eu

have() { command -v "$1" >/dev/null 2>&1; }

# GoogleTest as find_package(GTest) finds it: its CMake package or its library.
have_gtest() {
  for dir in /usr/lib/*/cmake/GTest /usr/lib/cmake/GTest /usr/local/lib/cmake/GTest \
             /usr/local/lib/*/cmake/GTest /usr/lib64/cmake/GTest; do
    [ -f "$dir/GTestConfig.cmake" ] && return 0
  done
  for lib in /usr/lib/*/libgtest.* /usr/lib/libgtest.* /usr/local/lib/libgtest.* /usr/lib64/libgtest.*; do
    [ -e "$lib" ] && return 0
  done
  return 1
}

missing_required=""
missing_optional=""
check() { # check required|optional <debian-package> <test command...>
  kind=$1 package=$2
  shift 2
  if ! "$@"; then
    if [ "$kind" = required ]; then
      missing_required="$missing_required $package"
    else
      missing_optional="$missing_optional $package"
    fi
  fi
}

check required cmake        have cmake
check required gcc          have cc
check required g++          have c++
check required libgtest-dev have_gtest
check optional ninja-build  have ninja
check optional valgrind     have valgrind
check optional pkg-config   have pkg-config
check optional binutils     have readelf

packages="$missing_required$missing_optional"
if [ -z "$packages" ]; then
  exit 0
fi

if ! have apt-get; then
  echo "install-deps: missing:$packages (not a Debian/Ubuntu system: install them yourself)" >&2
  [ -z "$missing_required" ] || exit 1
  echo "install-deps: the tests that need the optional tools are skipped" >&2
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif have sudo; then
  if [ -t 0 ]; then sudo="sudo"; else sudo="sudo -n"; fi
else
  echo "install-deps: missing:$packages; not root and no sudo: install them as root" >&2
  [ -z "$missing_required" ] || exit 1
  exit 0
fi

echo "install-deps: installing:$packages"
# shellcheck disable=SC2086 # $sudo and $packages are word lists
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages
