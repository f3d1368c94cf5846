#!/usr/bin/env bash
# Builds and runs clipmatch's libFuzzer targets (fuzz/, docs/fuzzing.md).
#
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   build, then fuzz each target for SECONDS (default 60; 0 = build only)
#   tools/fuzz.sh --regressions [TARGET...]          build, then run each target once over every file in
#                                                    fuzz/corpus/TARGET and fuzz/regressions/TARGET (a quick test)
#   tools/fuzz.sh --minimize TARGET CRASH [SECONDS]  minimise a crashing input (libFuzzer -minimize_crash=1) and
#                                                    store the result in fuzz/regressions/TARGET/
#   tools/fuzz.sh --list                             the target names
#
# TARGET is a name such as "safetensors" (or "fuzz_safetensors"). Environment:
#   BUILD_DIR   build folder (default: build-fuzz at the repository root)
#   CC, CXX     clang to use (default: clang-14 / clang++-14)
#   JOBS        build parallelism (default 1);  NICE  niceness of builds and runs (default 10)
#   FUZZ_FLAGS  extra libFuzzer flags for fuzzing runs (e.g. "-seed=1 -jobs=2")
#   KNOWN       1 (default): while fuzzing, suppress the UBSan reports listed in fuzz/known-issues.supp and skip
#               the invariant checks listed in fuzz/known-checks.txt (bugs already found and kept in
#               fuzz/regressions/); 0: report them too. --regressions and --minimize never skip anything.
#
# Fuzzing runs use a working corpus per target, BUILD_DIR/work/TARGET/corpus, seeded from fuzz/corpus/TARGET
# and fuzz/regressions/TARGET (it keeps growing across runs; delete it to start over); the committed seeds are
# never written to. Crashes, timeouts and OOMs land in BUILD_DIR/work/TARGET/artifacts/, the log in
# BUILD_DIR/work/TARGET/fuzz.log. The exit status is non-zero when any target found something (or, with
# --regressions, when any file fails).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-fuzz}"
CC="${CC:-clang-14}"
CXX="${CXX:-clang++-14}"
JOBS="${JOBS:-1}"
NICE="${NICE:-10}"
FUZZ_FLAGS="${FUZZ_FLAGS:-}"
KNOWN="${KNOWN:-1}"

ALL_TARGETS=(safetensors image dataset wordpiece clip_bpe npy checkpoint_json tokenizer_files)

# Per target: the largest input libFuzzer may generate, and the dictionary (fuzz/dicts/).
max_len_of() {
  case "$1" in
    safetensors) echo 4096 ;;
    image) echo 8192 ;;
    dataset) echo 4096 ;;
    wordpiece | clip_bpe) echo 2048 ;;
    npy) echo 1024 ;;
    checkpoint_json) echo 2048 ;;
    tokenizer_files) echo 16384 ;;
    *) echo 4096 ;;
  esac
}
dict_of() {
  case "$1" in
    safetensors | checkpoint_json | tokenizer_files) echo json ;;
    image) echo image ;;
    dataset) echo csv ;;
    wordpiece | clip_bpe) echo text ;;
    npy) echo npy ;;
  esac
}

die() {
  echo "fuzz.sh: $*" >&2
  exit 2
}

normalise_target() {
  local name="${1#fuzz_}"
  local t
  for t in "${ALL_TARGETS[@]}"; do
    if [[ "$t" == "$name" ]]; then
      echo "$name"
      return
    fi
  done
  die "unknown target '$1' (known: ${ALL_TARGETS[*]})"
}

build() {
  command -v "$CXX" >/dev/null || die "$CXX not found (install clang-14 and libclang-rt-14-dev)"
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    CC="$CC" CXX="$CXX" nice -n "$NICE" cmake -S "$ROOT/fuzz" -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE= \
      >"$BUILD_DIR.configure.log" 2>&1 || { cat "$BUILD_DIR.configure.log" >&2; die "configure failed"; }
    rm -f "$BUILD_DIR.configure.log"
  fi
  local names=()
  local t
  for t in "$@"; do names+=("fuzz_$t"); done
  echo "== building ${names[*]} in $BUILD_DIR (nice -n $NICE, -j$JOBS)"
  nice -n "$NICE" cmake --build "$BUILD_DIR" -j "$JOBS" --target "${names[@]}"
}

files_of() {  # the seed and regression files of a target, one per line
  local t="$1" dir
  for dir in "$ROOT/fuzz/corpus/$t" "$ROOT/fuzz/regressions/$t"; do
    [[ -d "$dir" ]] && find "$dir" -type f ! -name '*.md' ! -name '.gitkeep' | sort
  done
  return 0
}

# --- --regressions --------------------------------------------------------------------------------------------
# Seeds run in one process per target; each regression file in its own process, so that every failing file is
# named (libFuzzer stops at the first crash of a run).
run_regressions() {
  local targets=("$@") failed=0 t
  build "${targets[@]}"
  local scratch
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/clipmatch-fuzz-regressions.XXXXXX")"
  for t in "${targets[@]}"; do
    local log_dir="$BUILD_DIR/work/$t"
    mkdir -p "$log_dir"
    local seeds=() regressions=() f
    [[ -d "$ROOT/fuzz/corpus/$t" ]] && mapfile -t seeds < <(find "$ROOT/fuzz/corpus/$t" -type f | sort)
    [[ -d "$ROOT/fuzz/regressions/$t" ]] &&
      mapfile -t regressions < <(find "$ROOT/fuzz/regressions/$t" -type f ! -name '*.md' ! -name '.gitkeep' | sort)
    if [[ ${#seeds[@]} -gt 0 ]]; then
      if CLIPMATCH_FUZZ_SCRATCH="$scratch" nice -n "$NICE" "$BUILD_DIR/fuzz_$t" -timeout=10 "${seeds[@]}" \
        >"$log_dir/seeds.log" 2>&1; then
        printf '%-16s %3d seed files         ok\n' "$t" "${#seeds[@]}"
      else
        local culprit
        culprit="$(grep -E '^Running: ' "$log_dir/seeds.log" | tail -1 | sed 's/^Running: //')"
        printf '%-16s %3d seed files         FAILED on %s (log: %s)\n' "$t" "${#seeds[@]}" "${culprit#"$ROOT/"}" \
          "$log_dir/seeds.log"
        failed=$((failed + 1))
      fi
    fi
    for f in "${regressions[@]}"; do
      local log
      log="$log_dir/regression-$(basename "$f").log"
      if CLIPMATCH_FUZZ_SCRATCH="$scratch" nice -n "$NICE" "$BUILD_DIR/fuzz_$t" -timeout=10 "$f" >"$log" 2>&1; then
        printf '%-16s regression %-50s ok\n' "$t" "$(basename "$f")"
      else
        printf '%-16s regression %-50s FAILED (log: %s)\n' "$t" "$(basename "$f")" "$log"
        grep -m2 -E 'ERROR: |==fuzz== |runtime error' "$log" | sed 's/^/      /' | cut -c1-220
        failed=$((failed + 1))
      fi
    done
  done
  rm -rf "$scratch"
  if [[ $failed -gt 0 ]]; then
    echo "$failed seed run(s) or regression file(s) failed"
    return 1
  fi
  echo "all seed and regression files pass"
}

# --- --minimize -----------------------------------------------------------------------------------------------
run_minimize() {
  local t="$1" crash="$2" seconds="${3:-60}"
  [[ -f "$crash" ]] || die "no file $crash"
  crash="$(cd "$(dirname "$crash")" && pwd)/$(basename "$crash")"
  build "$t"
  local work="$BUILD_DIR/work/$t/minimize"
  rm -rf "$work"
  mkdir -p "$work"
  (cd "$work" && CLIPMATCH_FUZZ_SCRATCH="$work" nice -n "$NICE" "$BUILD_DIR/fuzz_$t" -minimize_crash=1 \
    -max_total_time="$seconds" -timeout=10 -exact_artifact_path="$work/minimized" "$crash" >"$work/minimize.log" 2>&1) || true
  local result="$work/minimized"
  [[ -f "$result" ]] || result="$crash"
  mkdir -p "$ROOT/fuzz/regressions/$t"
  local name
  name="$(basename "$crash")"
  name="${name%%.*}"
  cp "$result" "$ROOT/fuzz/regressions/$t/$name"
  echo "minimised $(stat -c %s "$crash") → $(stat -c %s "$result") bytes: fuzz/regressions/$t/$name (log: $work/minimize.log)"
  echo "rename it after the bug it shows, e.g. fuzz/regressions/$t/<what-breaks>"
}

# --- fuzzing --------------------------------------------------------------------------------------------------
run_fuzzing() {
  local seconds="$1"
  shift
  local targets=("$@")
  build "${targets[@]}"
  [[ "$seconds" -gt 0 ]] || return 0
  local summary=() any_found=0 t
  local ubsan_options="${UBSAN_OPTIONS:-}"
  local skip_checks=""
  if [[ "$KNOWN" == 1 ]]; then
    [[ -f "$ROOT/fuzz/known-issues.supp" ]] &&
      ubsan_options="suppressions=$ROOT/fuzz/known-issues.supp${ubsan_options:+:$ubsan_options}"
    [[ -f "$ROOT/fuzz/known-checks.txt" ]] &&
      skip_checks="$( (grep -vE '^[[:space:]]*(#|$)' "$ROOT/fuzz/known-checks.txt" || true) | tr -d ' \t' | paste -sd, -)"
  fi
  for t in "${targets[@]}"; do
    local work="$BUILD_DIR/work/$t"
    local corpus="$work/corpus" artifacts="$work/artifacts" scratch="$work/scratch"
    # The targets that hand files to the library write one or two per run: keep them in memory when possible.
    [[ -d /dev/shm && -w /dev/shm ]] && scratch="/dev/shm/clipmatch-fuzz-$t-$$"
    mkdir -p "$corpus" "$artifacts" "$scratch"
    rm -rf "${artifacts:?}"/* "${scratch:?}"/*
    while IFS= read -r f; do cp -n "$f" "$corpus/" 2>/dev/null || true; done < <(files_of "$t")
    local dict_flag=()
    local dict
    dict="$(dict_of "$t")"
    [[ -n "$dict" && -f "$ROOT/fuzz/dicts/$dict.dict" ]] && dict_flag=(-dict="$ROOT/fuzz/dicts/$dict.dict")
    local max_len
    max_len="$(max_len_of "$t")"
    echo "== fuzzing $t for ${seconds}s (max_len $max_len, corpus $(find "$corpus" -type f | wc -l) files)"
    local rc=0
    # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
    (cd "$work" && CLIPMATCH_FUZZ_SCRATCH="$scratch" UBSAN_OPTIONS="$ubsan_options" \
      CLIPMATCH_FUZZ_SKIP_CHECKS="$skip_checks" nice -n "$NICE" "$BUILD_DIR/fuzz_$t" \
      -max_total_time="$seconds" -timeout=10 -max_len="$max_len" "${dict_flag[@]}" -print_final_stats=1 \
      -artifact_prefix="$artifacts/" $FUZZ_FLAGS "$corpus" >"$work/fuzz.log" 2>&1) || rc=$?
    rm -rf "${scratch:?}"
    local runs secs rate found
    if read -r runs secs < <(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second\(s\).*/\1 \2/p' "$work/fuzz.log" | tail -1); then
      :
    else  # a crash: libFuzzer prints its final stats instead of the Done line
      runs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$work/fuzz.log" | tail -1)"
      secs=""
    fi
    runs="${runs:-0}"
    if [[ -n "$secs" && "$secs" -gt 0 ]]; then
      rate=$((runs / secs))
    else
      rate="$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$work/fuzz.log" | tail -1)"
      rate="${rate:-?}"
    fi
    local artifacts_found
    artifacts_found="$(find "$artifacts" -type f | sort)"
    if [[ $rc -ne 0 || -n "$artifacts_found" ]]; then
      any_found=1
      local kind
      kind="$(grep -m1 -oE 'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z -]+|runtime error: .*|==fuzz== FINDING: .*' "$work/fuzz.log" | head -1 || true)"
      found="FOUND (exit $rc): ${kind:-see log}; input: ${artifacts_found//$'\n'/ }"
    else
      found="nothing found"
    fi
    printf '%-16s %10s runs in %4ss  %7s exec/s  %s\n' "$t" "$runs" "${secs:-?}" "$rate" "$found"
    summary+=("$(printf '%-16s %10s runs %7s exec/s  %s' "$t" "$runs" "$rate" "$found")")
  done
  echo
  echo "== summary (${seconds}s per target; logs in $BUILD_DIR/work/TARGET/fuzz.log)"
  printf '%s\n' "${summary[@]}"
  if [[ $any_found -ne 0 ]]; then
    echo "something was found: minimise with tools/fuzz.sh --minimize TARGET ARTIFACT, see docs/fuzzing.md"
    return 1
  fi
}

# --- arguments ------------------------------------------------------------------------------------------------
mode=fuzz
seconds=60
case "${1:-}" in
  --regressions) mode=regressions; shift ;;
  --minimize) mode=minimize; shift ;;
  --list) printf '%s\n' "${ALL_TARGETS[@]}"; exit 0 ;;
  -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  '' ) ;;
  *)
    if [[ "$1" =~ ^[0-9]+$ ]]; then
      seconds="$1"
      shift
    fi
    ;;
esac

if [[ $mode == minimize ]]; then
  [[ $# -ge 2 ]] || die "usage: tools/fuzz.sh --minimize TARGET CRASH_FILE [SECONDS]"
  run_minimize "$(normalise_target "$1")" "$2" "${3:-60}"
  exit 0
fi

targets=()
for arg in "$@"; do targets+=("$(normalise_target "$arg")"); done
[[ ${#targets[@]} -gt 0 ]] || targets=("${ALL_TARGETS[@]}")

if [[ $mode == regressions ]]; then
  run_regressions "${targets[@]}"
else
  run_fuzzing "$seconds" "${targets[@]}"
fi
