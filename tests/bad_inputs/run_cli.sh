#!/usr/bin/env bash
# Runs every case of the bad-inputs corpus through the CLI.
#
#   run_cli.sh CLIPMATCH_BINARY CASES_DIR        (CASES_DIR written by make_cases.py)
#
# Each case: clipmatch train --data CASE --out RUN --epochs 1 --batch-size 8 --device cpu --quiet --no-cache,
# with the case's train arguments (case.txt) replacing those defaults.
#   accept: exit 0 and RUN/model.safetensors written.
#   refuse: exit 1 (no crash: no exit >= 128, no "unexpected error"), exactly one `clipmatch: error: …` line on
#           stderr containing every name of the case, and no partial output: no RUN/model.safetensors and no
#           temporary file `.*.tmp.*` under RUN or next to it.
# Prints one line per case, then `N passed, M failed`; exits 1 when a case failed.
# Environment: CLIPMATCH_CASE_TIMEOUT (seconds per case, 300), KEEP_SCRATCH=1 keeps the run folders.
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 CLIPMATCH_BINARY CASES_DIR" >&2
  exit 2
fi
bin=$1
cases=$2
[ -x "$bin" ] || { echo "$0: $bin is not an executable" >&2; exit 2; }
[ -d "$cases" ] || { echo "$0: $cases is not a folder" >&2; exit 2; }
timeout_s=${CLIPMATCH_CASE_TIMEOUT:-300}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/clipmatch-bad-inputs-cli.XXXXXX")
if [ "${KEEP_SCRATCH:-0}" != 1 ]; then
  trap 'rm -rf "$scratch"' EXIT
else
  echo "scratch folder: $scratch"
fi

passed=0
failed=0
for dir in "$cases"/*/; do
  dir=${dir%/}
  [ -f "$dir/case.txt" ] || continue
  name=$(basename "$dir")

  expect=""
  names=()
  declare -A targ=([epochs]=1 [batch_size]=8 [device]=cpu [learning_rate]="")
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    key=${line%%=*}
    value=${line#*=}
    case $key in
      expect) expect=$value ;;
      name) names+=("$value") ;;
      epochs | batch_size | device | learning_rate) targ[$key]=$value ;;
      "") ;;
      *) echo "$0: $dir/case.txt: unknown key '$key'" >&2 ;;
    esac
  done <"$dir/case.txt"

  mkdir -p "$scratch/$name"
  run="$scratch/$name/run"
  args=(train --data "$dir" --out "$run" --epochs "${targ[epochs]}" --batch-size "${targ[batch_size]}"
        --device "${targ[device]}" --quiet --no-cache)
  [ -n "${targ[learning_rate]}" ] && args+=(--lr "${targ[learning_rate]}")
  unset targ

  timeout -k 10 "$timeout_s" nice -n 10 "$bin" "${args[@]}" >"$scratch/$name/stdout" 2>"$scratch/$name/stderr"
  rc=$?

  problems=()
  errlines=$(grep -c '^clipmatch: error: ' "$scratch/$name/stderr")
  errline=$(grep -m1 '^clipmatch: error: ' "$scratch/$name/stderr")
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    problems+=("timed out after ${timeout_s}s")
  elif [ $rc -ge 128 ]; then
    problems+=("crashed (exit $rc, signal $((rc - 128)))")
  fi
  if grep -qi 'unexpected error' "$scratch/$name/stdout" "$scratch/$name/stderr"; then
    problems+=("printed 'unexpected error'")
  fi
  tmpfiles=$(find "$scratch/$name" -name '.*.tmp.*' 2>/dev/null | tr '\n' ' ')
  [ -n "$tmpfiles" ] && problems+=("left temporary files: $tmpfiles")

  if [ "$expect" = accept ]; then
    [ $rc -eq 0 ] || problems+=("exit $rc, expected 0")
    [ -f "$run/model.safetensors" ] || problems+=("no $run/model.safetensors")
    detail=""
  elif [ "$expect" = refuse ]; then
    [ $rc -eq 1 ] || problems+=("exit $rc, expected 1")
    [ "$errlines" -eq 1 ] || problems+=("$errlines 'clipmatch: error:' lines on stderr, expected 1")
    for n in "${names[@]}"; do
      case $errline in
        *"$n"*) ;;
        *) problems+=("message does not name '$n'") ;;
      esac
    done
    [ -e "$run/model.safetensors" ] && problems+=("left $run/model.safetensors")
    detail=" :: ${errline:-<no error line>}"
  else
    problems+=("case.txt has no valid expect= line")
    detail=""
  fi

  if [ ${#problems[@]} -eq 0 ]; then
    passed=$((passed + 1))
    echo "PASS $name ($expect, exit $rc)$detail"
  else
    failed=$((failed + 1))
    msg=$(printf '%s; ' "${problems[@]}")
    echo "FAIL $name ($expect, exit $rc): ${msg%; }$detail"
    if [ -z "$errline" ] && [ $rc -ne 0 ]; then
      tail -n 3 "$scratch/$name/stderr" | sed 's/^/     | /'
    fi
  fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
