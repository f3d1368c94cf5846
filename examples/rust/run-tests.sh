#!/bin/sh
# Builds and tests the Rust bindings against the library in a CMake build folder:
#   examples/rust/run-tests.sh BUILD_DIR
# Cargo's outputs go to BUILD_DIR/rust-target. Runs `cargo test` and the `match` example, offline.
# Exit status: 0 passed, 1 failed, 77 skipped (no cargo; ctest's SKIP_RETURN_CODE).
# CARGO may name another cargo (e.g. CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc for Debian's toolchain).
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
if [ ! -d "$1" ]; then
  echo "run-tests.sh: $1 is not a folder" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
cargo=${CARGO:-cargo}
if ! command -v "$cargo" >/dev/null 2>&1; then
  echo "run-tests.sh: '$cargo' not found: install Rust (e.g. apt-get install cargo) to test the Rust bindings; skipping"
  exit 77
fi

crate_dir=$(cd "$(dirname "$0")" && pwd)
export CARGO_TARGET_DIR="$build_dir/rust-target"
export CLIPMATCH_BUILD_DIR="$build_dir"
# Test this build's library, not one pkg-config or an install prefix might name.
export CLIPMATCH_NO_PKG_CONFIG=1
unset CLIPMATCH_PREFIX || true

cd "$crate_dir"
echo "run-tests.sh: $("$cargo" --version), ${RUSTC:-rustc}: $("${RUSTC:-rustc}" --version 2>/dev/null || echo '?')"
"$cargo" test --offline
"$cargo" run --offline --example match
