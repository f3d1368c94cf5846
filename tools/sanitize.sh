#!/usr/bin/env bash
# Build clipmatch with sanitizers in a separate build folder and run the test suite under them.
#
#   tools/sanitize.sh [asan|tsan] [extra ctest arguments...]
#
#   asan (default)  gcc -fsanitize=address,undefined in build-asan; runs unit.*, c_api.*, abi.*, startup.*
#   tsan            gcc -fsanitize=thread in build-tsan; runs the threaded tests only (see TSAN_TESTS below)
#
# Environment:
#   SANITIZE_BUILD_DIR   build folder (default: build-asan / build-tsan at the repository root)
#   SANITIZE_JOBS        parallel compile jobs (default: nproc)
#   SANITIZE_NO_BUILD=1  skip configure and build; run the tests of an existing build folder as they are
#
# Sanitizer reports are written to files under <build>/sanitizer-logs/<run>/ (so that a report printed by a
# test whose ctest verdict only looks at its output, or one printed at exit, is never lost) and summarised
# at the end. Exit status: 0 only when the build succeeded, every selected test passed and no report was
# written.
set -uo pipefail

mode="${1:-asan}"
[[ $# -gt 0 ]] && shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
supp_dir="$root/tools/sanitizers"
jobs="${SANITIZE_JOBS:-$(nproc)}"

case "$mode" in
  asan)
    build="${SANITIZE_BUILD_DIR:-$root/build-asan}"
    flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
    targets=(clipmatch_tests clipmatch_startup_probe clipmatch_c_api_test abi2_program_clipmatch
             abi2_program_clipmatch_grown libclipmatch.so clipmatch_sentencepiece)
    include_regex='^unit\.|^c_api|^abi|^startup'
    ;;
  tsan)
    build="${SANITIZE_BUILD_DIR:-$root/build-tsan}"
    flags="-fsanitize=thread -fno-omit-frame-pointer"
    targets=(clipmatch_tests clipmatch_sentencepiece)
    # The threaded tests: one model encoding from 8 threads ([threads]), the image thread pool, parallel batch
    # decoding through the pool, and concurrent atomic_file writers.
    include_regex='^unit\.eight threads encoding through one model|^unit\.thread pool runs every index|^unit\.batch decoding equals one-by-one decoding|^unit\.atomic_file: concurrent writers|^unit\.cpu_block_cache: threads allocating at once'
    ;;
  -h|--help)
    sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: $0 [asan|tsan] [ctest args...]" >&2
    exit 2
    ;;
esac

log_root="$build/sanitizer-logs"
run_id="$(date +%Y%m%d-%H%M%S)"
log_dir="$log_root/$run_id"
ctest_log="$log_dir/ctest.log"

say() { printf '[sanitize %s] %s\n' "$mode" "$*"; }

# --- configure and build ------------------------------------------------------------------------------------
if [[ "${SANITIZE_NO_BUILD:-0}" == 1 ]]; then
  say "SANITIZE_NO_BUILD=1: using $build as it is"
else
say "configuring $build"
mkdir -p "$build"
# The build runs the test binary once to list its test cases (catch_discover_tests): keep leak checking off
# and reports on stderr there.
export ASAN_OPTIONS="detect_leaks=0" UBSAN_OPTIONS="print_stacktrace=1" TSAN_OPTIONS="report_bugs=0"
if ! cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCLIPMATCH_BUILD_PYTHON=OFF -DCLIPMATCH_BUILD_EXAMPLES=OFF -DCLIPMATCH_BUILD_BENCH=OFF \
    "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" \
    "-DCMAKE_EXE_LINKER_FLAGS=$flags" "-DCMAKE_SHARED_LINKER_FLAGS=$flags" "-DCMAKE_MODULE_LINKER_FLAGS=$flags" \
    > "$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  say "SUMMARY: configure FAILED"
  exit 1
fi
say "building ${targets[*]} (-j$jobs)"
if ! ninja -C "$build" -j"$jobs" "${targets[@]}"; then
  say "SUMMARY: build FAILED"
  exit 1
fi
fi

# --- run ------------------------------------------------------------------------------------------------------
mkdir -p "$log_dir"
unset TSAN_OPTIONS
common="print_stacktrace=1:symbolize=1:log_path=$log_dir/report:log_exe_name=1"
case "$mode" in
  asan)
    # The CPU block cache (src/core/cpu_block_cache.hpp) hands freed tensor memory to the next tensor, which
    # would hide a use after free of a large tensor from ASan: every tensor gets its own allocation here. (TSan
    # keeps the cache on: its locking is under test there.)
    export CLIPMATCH_CPU_CACHE_MB=0
    export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:detect_odr_violation=2:$common"
    export UBSAN_OPTIONS="halt_on_error=1:$common:suppressions=$supp_dir/ubsan.supp"
    export LSAN_OPTIONS="suppressions=$supp_dir/lsan.supp:print_suppressions=0"
    ;;
  tsan)
    # LibTorch's intra-op pool is libgomp, which is not instrumented: its barriers are invisible to TSan, so
    # every tensor kernel split across OpenMP threads would show up as a race. One OpenMP thread keeps
    # LibTorch's own parallelism out of the picture; clipmatch's threads (std::thread, ThreadPool) are what
    # is under test. compute_threads.cpp honours OMP_NUM_THREADS.
    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
    export TSAN_OPTIONS="halt_on_error=0:exitcode=66:second_deadlock_stack=1:history_size=4:$common:suppressions=$supp_dir/tsan.supp"
    ;;
esac

say "ctest -R '$include_regex' $*"
say "reports go to $log_dir"
( cd "$build" && ctest -R "$include_regex" --output-on-failure --timeout 3600 "$@" ) 2>&1 \
  | tee "$ctest_log"
ctest_rc=${PIPESTATUS[0]}
# Keep ctest's full per-test output (passing tests too) before anything else runs ctest in this folder.
cp "$build/Testing/Temporary/LastTest.log" "$log_dir/LastTest.log" 2>/dev/null || true

# --- summary --------------------------------------------------------------------------------------------------
echo
say "==================== SUMMARY ===================="
summary_line="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$ctest_log" | tail -1)"
say "ctest: ${summary_line:-no summary line (ctest rc $ctest_rc)}"
if grep -q 'The following tests FAILED' "$ctest_log"; then
  say "failed tests:"
  sed -n '/The following tests FAILED/,$p' "$ctest_log" | grep -E '^\s+[0-9]+ - ' | sed 's/^/    /'
fi

reports=0
shopt -s nullglob
for file in "$log_dir"/report.*; do
  [[ -s "$file" ]] || continue
  reports=$((reports + 1))
  say "report $file:"
  # The report header and the top of its stack(s).
  grep -E -m 14 'ERROR|WARNING|runtime error|SUMMARY|^ *#[0-3] |Direct leak|Indirect leak|Previous|Location' \
    "$file" | sed 's/^/    /'
done
# gcc's UBSan runtime ignores log_path when it runs inside ASan: its reports go to the test's stderr, which
# ctest keeps, for passing tests too, in Testing/Temporary/LastTest.log (copied to the log folder above).
ubsan_re='^[^ "]+:[0-9]+:[0-9]+: runtime error: '
if [[ -f "$log_dir/LastTest.log" ]]; then
  ubsan_hits="$(grep -E -c "$ubsan_re" "$log_dir/LastTest.log" || true)"
  if [[ "${ubsan_hits:-0}" -gt 0 ]]; then
    reports=$((reports + ubsan_hits))
    say "UBSan reports (from $log_dir/LastTest.log):"
    grep -E -A4 "$ubsan_re" "$log_dir/LastTest.log" | sed 's/^/    /'
  fi
fi
if [[ $reports -eq 0 ]]; then
  say "sanitizer reports: none"
else
  say "sanitizer reports: $reports (under $log_dir)"
fi
say "================================================="

if [[ $ctest_rc -ne 0 || $reports -ne 0 || -z "$summary_line" ]]; then
  exit 1
fi
exit 0
