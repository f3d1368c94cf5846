#!/usr/bin/env bash
# clipmatch index + search against the evaluation of the same model: with the exact (flat) kind, each intro's
# top poster and each poster's top intro are the ones topk.csv (the distance matrix) names; an approximate kind
# is built and queried too, and a damaged index is refused with one clear line. Skipped without FAISS.
set -euo pipefail
cli=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$cli" synthesize-dataset --out "$work/data" --n 60 --seed 9 >/dev/null
"$cli" train --data "$work/data" --out "$work/run" --freeze full --epochs 2 --batch-size 16 --lr 2e-3 \
  --encoder-lr 2e-3 --device cpu --quiet >/dev/null
if ! "$cli" index --model "$work/run" --data "$work/data" --out "$work/posters.index" --kind flat --device cpu \
     > "$work/index.log" 2>&1; then
  grep -q "without FAISS" "$work/index.log" && { echo "skipped: built without FAISS"; exit 0; }
  cat "$work/index.log" >&2; fail "clipmatch index failed"
fi
grep -q "indexed 60 rows" "$work/index.log" || fail "index log: $(cat "$work/index.log")"
"$cli" index --model "$work/run" --data "$work/data" --intros-side --out "$work/intros.index" --kind flat \
  --device cpu >/dev/null
"$cli" search --index "$work/posters.index" --model "$work/run" --intros "$work/data/movies.csv" -k 1 \
  --out "$work/intro_to_poster.csv" --device cpu 2>/dev/null
"$cli" search --index "$work/intros.index" --model "$work/run" --posters "$work/data/posters" -k 1 \
  --out "$work/poster_to_intro.csv" --device cpu 2>/dev/null

/usr/bin/python3 - "$work" <<'PY'
import csv, os, sys
work = sys.argv[1]
movies = list(csv.DictReader(open(os.path.join(work, "data", "movies.csv"))))
topk = list(csv.DictReader(open(os.path.join(work, "run", "topk.csv"))))
# intro i → the title of the nearest poster, from the index and from the distance matrix.
by_index = {int(r["query"]): r["title"] for r in csv.DictReader(open(os.path.join(work, "intro_to_poster.csv")))}
for i, row in enumerate(topk):
    assert by_index[i] == row["nearest_poster_1"], (i, by_index[i], row["nearest_poster_1"])
# poster file → the nearest intro's title; posters are queried in file-name order.
poster_of = {os.path.basename(m["poster"]): i for i, m in enumerate(movies)}
for r in csv.DictReader(open(os.path.join(work, "poster_to_intro.csv"))):
    i = poster_of[r["query"]]
    assert r["title"] == topk[i]["nearest_intro_1"], (r["query"], r["title"], topk[i]["nearest_intro_1"])
print("index top-1 == distance-matrix top-1 for", len(topk), "intros and posters")
PY

"$cli" index --model "$work/run" --data "$work/data" --out "$work/hnsw.index" --device cpu >/dev/null
"$cli" search --index "$work/hnsw.index" --model "$work/run" --intro "a red circle over a blue field" -k 3 \
  2>/dev/null | grep -c "^\"a red circle" | grep -q 3 || fail "hnsw search did not return 3 matches"
head -c 100 "$work/posters.index/index.faiss" > "$work/short" && mv "$work/short" "$work/posters.index/index.faiss"
if "$cli" search --index "$work/posters.index" --queries "$work/run/intros.npy" > "$work/bad.log" 2>&1; then
  fail "a truncated index was accepted"
fi
grep -q "index.faiss" "$work/bad.log" || fail "the error does not name index.faiss: $(cat "$work/bad.log")"
echo "catalog search ok"
