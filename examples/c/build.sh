#!/bin/sh
# Builds quickstart the way a C user builds against an installed clipmatch: one compiler call, every flag
# from pkg-config (point PKG_CONFIG_PATH at <prefix>/lib/pkgconfig for an install outside the system paths).
#
#   ./build.sh [OUTPUT]          (default: ./quickstart next to this script)
#
# The rpath to the library's folder lets the program run without LD_LIBRARY_PATH when clipmatch lives
# outside the loader's default paths. Extra flags (warnings, -Werror) may be passed in CFLAGS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/quickstart"}
libdir=$(pkg-config --variable=libdir clipmatch)
cd "$here"
set -x
# shellcheck disable=SC2046,SC2086  # pkg-config's output and CFLAGS are lists of flags: split them
cc -std=c99 quickstart.c $(pkg-config --cflags --libs clipmatch) -Wl,-rpath,"$libdir" ${CFLAGS:-} -o "$out"
