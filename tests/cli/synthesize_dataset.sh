#!/usr/bin/env bash
# clipmatch synthesize-dataset: writes a loadable dataset, is deterministic for a seed, and rejects bad options.
set -euo pipefail
cli="$1"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

"$cli" synthesize-dataset --out "$dir/a" --n 30 --seed 5 --size 32x48 --train-fraction 0.5 > "$dir/out.txt" 2> "$dir/err.txt"
grep -q "wrote 30 movies (15 train, 15 held out)" "$dir/out.txt"
grep -q "synthesize posters: 30/30 (100%)" "$dir/err.txt"  # not a terminal: progress lines
test "$(ls "$dir/a/posters" | wc -l)" -eq 30
test "$(wc -l < "$dir/a/train.txt")" -eq 15
head -1 "$dir/a/movies.csv" | grep -q "movie_id,title,year,genres,poster,intro"

"$cli" synthesize-dataset --out "$dir/b" --n 30 --seed 5 --size 32x48 --train-fraction 0.5 > /dev/null 2>&1
cmp "$dir/a/movies.csv" "$dir/b/movies.csv"
cmp "$dir/a/posters/000007.jpg" "$dir/b/posters/000007.jpg"

if "$cli" synthesize-dataset --out "$dir/c" --size 32by48 2> "$dir/err.txt"; then exit 1; fi
grep -q -- "--size" "$dir/err.txt"
if "$cli" synthesize-dataset --out "$dir/c" --train-fraction 2 2> "$dir/err.txt"; then exit 1; fi
grep -q "train_fraction" "$dir/err.txt"
echo "cli synthesize-dataset ok"
