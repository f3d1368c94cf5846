#!/usr/bin/env bash
# Builds c_runner.c against a clipmatch build tree and runs the bad-inputs corpus through the C ABI.
#
#   run_c.sh BUILD_DIR CASES_DIR        (BUILD_DIR holds libclipmatch.so; CASES_DIR written by make_cases.py)
#
# Adds what C99 alone cannot check: that the runner did not crash (exit >= 128) and that no temporary file
# `.*.tmp.*` was left in the run folders. Exit status: the runner's, or 1 for a crash / leftover files.
set -u
if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR CASES_DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "$1" && pwd)
cases=$2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/clipmatch-bad-inputs-c.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

${CC:-cc} -std=c99 -Wall -Wextra -pedantic -I"$repo/capi" -I"$repo/include" "$here/c_runner.c" -o "$scratch/c_runner" \
  -L"$build" -lclipmatch -Wl,-rpath,"$build" || exit 2

nice -n 10 "$scratch/c_runner" "$cases" "$scratch/runs"
rc=$?
if [ $rc -ge 128 ]; then
  echo "c_runner crashed (exit $rc, signal $((rc - 128))); the last PASS/FAIL line above precedes the culprit"
  exit 1
fi
leftovers=$(find "$scratch/runs" -name '.*.tmp.*' 2>/dev/null)
if [ -n "$leftovers" ]; then
  echo "temporary files left:"
  echo "$leftovers"
  exit 1
fi
exit $rc
