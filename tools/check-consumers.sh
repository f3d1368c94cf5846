#!/usr/bin/env bash
# Checks that an *installed* clipmatch can be used the way users use it:
#
#   tools/check-consumers.sh BUILD_DIR
#
# installs BUILD_DIR into a temporary prefix (`cmake --install`, which only reads the build tree) and builds
# and runs, against that prefix only:
#   cpp     examples/cpp, a separate CMake project using find_package(clipmatch)
#   c       examples/c, one `cc -std=c99` call with flags from pkg-config (clipmatch.pc)
#   rust    examples/rust (`cargo run --offline --example match`), when cargo and examples/rust exist
#   python  `import clipmatch` from <prefix>/lib/python3/dist-packages, when the install has it, and
#           examples/python/run-notebook.sh when it exists
# One line per consumer ("consumer cpp: ok", "... FAILED", "... skipped (why)"); the output of a failing
# consumer is shown. Exits non-zero when any consumer that is present fails; ends with "consumers ok".
#
# Environment: CLIPMATCH_KEEP_PREFIX=1 keeps the temporary folder (its path is printed) for debugging;
# TMPDIR chooses where it is made.
set -uo pipefail

if [[ $# -ne 1 || ! -f "$1/CMakeCache.txt" ]]; then
  echo "usage: $0 BUILD_DIR   (a configured and built clipmatch build folder)" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clipmatch-consumers.XXXXXX") || exit 1
if [[ "${CLIPMATCH_KEEP_PREFIX:-0}" == 1 ]]; then
  echo "keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi
prefix=$tmp/prefix
# Examples write their scratch files under TMPDIR, so everything they leave goes away with $tmp.
export TMPDIR=$tmp

failed=()
# run_consumer NAME COMMAND...: runs the command with its output in $tmp/NAME.log; prints one line. Exit
# status 77 means the consumer cannot run on this machine (a missing optional tool): skipped, not failed.
run_consumer() {
  local name=$1
  shift
  local log=$tmp/$name.log
  local start=$SECONDS
  local status=0
  "$@" >"$log" 2>&1 || status=$?
  if ((status == 0)); then
    echo "consumer $name: ok ($((SECONDS - start)) s)"
  elif ((status == 77)); then  # the consumer's own "cannot run here" (ctest's skip code), e.g. no Jupyter
    echo "consumer $name: skipped ($(tail -n 1 "$log"))"
  else
    echo "consumer $name: FAILED ($((SECONDS - start)) s); last lines of its output:"
    tail -n 60 "$log" | sed 's/^/    /'
    failed+=("$name")
  fi
}

# --- install ----------------------------------------------------------------------------------------------
if ! cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  echo "install into a temporary prefix FAILED:"
  tail -n 40 "$tmp/install.log" | sed 's/^/    /'
  exit 1
fi
# The library folder may be lib, lib64 or lib/<multiarch>, depending on GNUInstallDirs.
library=$(find "$prefix" -name 'libclipmatch.so' \( -type f -o -type l \) | head -n 1)
if [[ -z "$library" ]]; then
  echo "install FAILED: no libclipmatch.so under $prefix"
  exit 1
fi
libdir=$(dirname "$library")
pcdir=$libdir/pkgconfig
echo "installed into $prefix (library folder ${libdir#"$prefix"/})"

# A consumer must load the installed library (through the rpath its build gave it), not the build tree's or a
# system copy.
uses_installed_library() {  # BINARY
  local resolved
  resolved=$(ldd "$1" | awk '/libclipmatch\.so/ {print $3}')
  if [[ "$(readlink -f "$resolved")" != "$(readlink -f "$library")" ]]; then
    echo "$1 loads libclipmatch from '$resolved', not from the installed $library"
    return 1
  fi
}

# --- C++: find_package(clipmatch) -------------------------------------------------------------------------
check_cpp() {
  local dir=$tmp/cpp-build
  # No package registry: only the prefix may supply clipmatch.
  cmake -S "$source_dir/examples/cpp" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF || return 1
  local found
  found=$(sed -n 's/^clipmatch_DIR:PATH=//p' "$dir/CMakeCache.txt")
  if [[ "$found" != "$prefix"/* ]]; then
    echo "find_package(clipmatch) found '$found', not the package under $prefix"
    return 1
  fi
  cmake --build "$dir" -j "$jobs" || return 1
  uses_installed_library "$dir/match_posters" || return 1
  "$dir/match_posters" | tee "$dir/output.txt" || return 1
  grep -q '^bytes == file: yes' "$dir/output.txt"
}
run_consumer cpp check_cpp

# --- C: pkg-config ----------------------------------------------------------------------------------------
check_c() {
  local dir=$tmp/c-build
  mkdir -p "$dir/scratch" || return 1
  PKG_CONFIG_PATH="$pcdir" pkg-config --print-errors --exists clipmatch || return 1
  # The C header must stay clean C99: warnings are errors here.
  PKG_CONFIG_PATH="$pcdir" CFLAGS="-Wall -Wextra -pedantic -Werror" \
    "$source_dir/examples/c/build.sh" "$dir/quickstart" || return 1
  uses_installed_library "$dir/quickstart" || return 1  # build.sh linked it with an rpath to the prefix
  "$dir/quickstart" "$dir/scratch"
}
run_consumer c check_c

# --- Rust: the crate's build.rs finds the library through pkg-config ---------------------------------------
check_rust() {
  # The target folder lives in the build tree so that dependencies are compiled once, not on every check.
  (cd "$source_dir/examples/rust" &&
    PKG_CONFIG_PATH="$pcdir" CLIPMATCH_PREFIX="$prefix" CARGO_TARGET_DIR="$build/rust-target-installed" \
      LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" cargo run --offline --example match)
}
if ! command -v cargo >/dev/null 2>&1; then
  echo "consumer rust: skipped (no cargo)"
elif [[ ! -f "$source_dir/examples/rust/Cargo.toml" ]]; then
  echo "consumer rust: skipped (no examples/rust/Cargo.toml yet)"
else
  run_consumer rust check_rust
fi

# --- Python: the installed package ------------------------------------------------------------------------
python_dir=$prefix/lib/python3/dist-packages
check_python() {
  PYTHONPATH="$python_dir" /usr/bin/python3 -c '
import sys, clipmatch
print("clipmatch", clipmatch.version(), "from", clipmatch.__file__)
if not clipmatch.__file__.startswith(sys.argv[1]):
    sys.exit("imported a clipmatch that is not the installed one")' "$python_dir/"
}
check_notebook() {
  CLIPMATCH_PYTHONPATH="$python_dir" bash "$source_dir/examples/python/run-notebook.sh"
}
if [[ ! -d "$python_dir" ]]; then
  echo "consumer python: skipped (the install has no lib/python3/dist-packages)"
else
  run_consumer python check_python
  if [[ -f "$source_dir/examples/python/run-notebook.sh" ]]; then
    run_consumer python-notebook check_notebook
  else
    echo "consumer python-notebook: skipped (no examples/python/run-notebook.sh yet)"
  fi
fi

if ((${#failed[@]})); then
  echo "consumers FAILED: ${failed[*]}"
  exit 1
fi
echo "consumers ok"
