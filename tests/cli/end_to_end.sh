#!/usr/bin/env bash
# The clipmatch program end to end on a small synthetic dataset: synth → train → eval → encode, checking every
# output file (npy headers and shapes, PNG signature and size, CSV rows) and that errors are one clear line.
set -euo pipefail
cli=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$cli" --help | grep -q "synthesize-dataset" || fail "help lists no subcommands"
"$cli" synthesize-dataset --out "$work/data" --n 48 --seed 5 >/dev/null
[ "$(wc -l < "$work/data/train.txt")" -gt 0 ] || fail "empty train.txt"

"$cli" train --data "$work/data" --out "$work/run" --freeze full --epochs 2 --batch-size 16 --lr 2e-3 \
  --encoder-lr 2e-3 --device cpu --quiet > "$work/train.log"
grep -q "heldout" "$work/train.log" || fail "train printed no metrics table"
[ "$(wc -l < "$work/run/epochs.jsonl")" -eq 2 ] || fail "epochs.jsonl should have 2 lines"
for f in model.safetensors metrics.json distance.npy posters.npy intros.npy heatmap.png topk.csv; do
  [ -s "$work/run/$f" ] || fail "train did not write $f"
done

"$cli" eval --data "$work/data" --model "$work/run" --out "$work/eval" --device cpu --distance=-cos > "$work/eval.log"
grep -q '"distance": "-cos"' "$work/eval/metrics.json" || grep -q '"distance":"-cos"' "$work/eval/metrics.json" \
  || fail "metrics.json does not record -cos"

# .npy: magic, version 1.0, '<f4', C order, shape.
npy_shape() { head -c 128 "$1" | tr -d '\0' | grep -ao "'shape': ([0-9, ]*)" ; }
head -c 6 "$work/eval/distance.npy" | grep -q "NUMPY" || fail "distance.npy has no npy magic"
head -c 128 "$work/eval/distance.npy" | grep -aq "'descr': '<f4'" || fail "distance.npy is not float32"
[ "$(npy_shape "$work/eval/distance.npy")" = "'shape': (48, 48)" ] || fail "distance.npy shape: $(npy_shape "$work/eval/distance.npy")"
[ "$(npy_shape "$work/eval/posters.npy")" = "'shape': (48, 128)" ] || fail "posters.npy shape: $(npy_shape "$work/eval/posters.npy")"

# PNG: signature and IHDR width/height (big-endian at bytes 16..23).
[ "$(head -c 8 "$work/eval/heatmap.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "heatmap.png is not a PNG"
width=$((16#$(od -An -tx1 -j16 -N4 "$work/eval/heatmap.png" | tr -d ' \n')))
[ "$width" -gt 48 ] || fail "heatmap.png is only $width px wide"

[ "$(grep -c . "$work/eval/topk.csv")" -ge 49 ] || fail "topk.csv has too few rows"

"$cli" encode --model "$work/run" --posters "$work/data/posters" --out "$work/p.npy" --device cpu >/dev/null
[ "$(npy_shape "$work/p.npy")" = "'shape': (48, 128)" ] || fail "encode posters shape: $(npy_shape "$work/p.npy")"
[ "$(wc -l < "$work/p.npy.txt")" -eq 48 ] || fail "encode did not list the poster order"
"$cli" encode --model "$work/run" --intros "$work/data/movies.csv" --out "$work/t.npy" --device cpu >/dev/null
[ "$(npy_shape "$work/t.npy")" = "'shape': (48, 128)" ] || fail "encode intros shape"

# Errors: non-zero exit, one line naming the problem.
if "$cli" eval --data "$work/data" --model "$work/data/movies.csv" --out "$work/x" 2> "$work/err.txt"; then
  fail "eval accepted a CSV as a model"
fi
[ "$(wc -l < "$work/err.txt")" -eq 1 ] || fail "error is not one line: $(cat "$work/err.txt")"
grep -q "movies.csv" "$work/err.txt" || fail "error does not name the file: $(cat "$work/err.txt")"
if "$cli" train --data "$work/data" --out "$work/r2" --image-encoder bogus 2> "$work/err2.txt"; then
  fail "train accepted an unknown encoder"
fi
grep -q "bogus" "$work/err2.txt" || fail "unknown encoder error does not name it"
touch "$work/a-file"
if "$cli" train --data "$work/data" --out "$work/a-file/run" --quiet > /dev/null 2> "$work/err3.txt"; then
  fail "train wrote into a folder that cannot exist"
fi
grep -q "^clipmatch: error: run folder $work/a-file/run cannot be created" "$work/err3.txt" ||
  fail "an uncreatable run folder is not reported plainly: $(cat "$work/err3.txt")"
echo "cli end-to-end ok"
