#!/usr/bin/env bash
# Kill and resume. A training run killed with SIGKILL — mid-epoch, and while a checkpoint is being written — and
# continued with `--resume` ends with exactly the weights, metrics and epoch log of an uninterrupted run; after
# every kill the run folder still loads.
set -euo pipefail
cli=$1
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$cli" synthesize-dataset --out "$work/data" --n 400 --seed 3 > /dev/null 2>&1
args=(--data "$work/data" --freeze full --epochs 6 --batch-size 32 --lr 2e-3 --encoder-lr 2e-3 --seed 4
      --device cpu --quiet --no-cache)

# The reference: one uninterrupted run.
"$cli" train "${args[@]}" --out "$work/whole" > /dev/null
"$cli" encode --model "$work/whole" --posters "$work/data/posters" --out "$work/whole.npy" --device cpu > /dev/null

epochs_logged() { if [ -f "$1/epochs.jsonl" ]; then wc -l < "$1/epochs.jsonl"; else echo 0; fi; }

# Same epoch log as the reference, all but the wall-clock seconds.
same_log() {
  python3 - "$work/whole/epochs.jsonl" "$1/epochs.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
for line in a + b:
    line.pop("seconds")
sys.exit(0 if a == b else 1)
PY
}

# The run folder loads after a kill: the checkpoint (when one exists) evaluates, the resume state reads.
folder_loads() {
  if [ -f "$1/model.safetensors" ]; then
    "$cli" encode --model "$1" --intros "$work/data/movies.csv" --out "$work/probe.npy" --device cpu > /dev/null ||
      fail "the checkpoint in $1 does not load after SIGKILL"
  fi
}

finish_and_compare() {
  "$cli" train "${args[@]}" --out "$1" --resume > /dev/null || fail "--resume failed in $1"
  cmp -s "$work/whole/metrics.json" "$1/metrics.json" || fail "$1: metrics differ from the uninterrupted run"
  same_log "$1" || fail "$1: epochs.jsonl differs from the uninterrupted run"
  "$cli" encode --model "$1" --posters "$work/data/posters" --out "$work/resumed.npy" --device cpu > /dev/null
  cmp -s "$work/whole.npy" "$work/resumed.npy" || fail "$1: weights differ from the uninterrupted run"
  if ls -A "$1" | grep -q '\.tmp\.'; then fail "$1: temporary files left behind: $(ls -A "$1")"; fi
}

# 1. SIGKILL in the middle of epoch 3 (two epochs logged, then a little more).
"$cli" train "${args[@]}" --out "$work/mid" > /dev/null 2>&1 &
pid=$!
while [ "$(epochs_logged "$work/mid")" -lt 2 ]; do
  kill -0 "$pid" 2>/dev/null || fail "training ended before it could be killed"
  sleep 0.05
done
sleep 0.2
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
[ "$(epochs_logged "$work/mid")" -lt 6 ] || fail "the run finished before the kill"
folder_loads "$work/mid"
finish_and_compare "$work/mid"

# 2. SIGKILL while a checkpoint is being written: every atomic write is held open (fault injection) and the
#    process is killed once the temporary file of model.safetensors or resume.safetensors exists.
CLIPMATCH_FAULT_SLOW_WRITES_MS=3000 "$cli" train "${args[@]}" --out "$work/during" > /dev/null 2>&1 &
pid=$!
until ls -A "$work/during" 2>/dev/null | grep -q -E '^\.(model|resume)\.safetensors\.tmp\.'; do
  kill -0 "$pid" 2>/dev/null || fail "training ended before a checkpoint write was caught"
  sleep 0.02
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
folder_loads "$work/during"
finish_and_compare "$work/during"

# 3. A resume with other options is refused by name.
other=(--data "$work/data" --freeze full --epochs 6 --batch-size 16 --lr 2e-3 --encoder-lr 2e-3 --seed 4
       --device cpu --quiet --no-cache)
if "$cli" train "${other[@]}" --out "$work/mid" --resume 2> "$work/err.txt" > /dev/null; then
  fail "a resume with another batch size was accepted"
fi
grep -q "batch_size" "$work/err.txt" || fail "the refusal does not name the option: $(cat "$work/err.txt")"
echo "cli resume ok"
