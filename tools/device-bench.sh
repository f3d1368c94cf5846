#!/usr/bin/env bash
# GPU half of issue #9's benchmark, for a session that has the GPU machine: builds the CLI (LibTorch 2.x + CUDA),
# writes random-weight ViT-B/16 / BERT-base folders, runs `clipmatch bench` on CUDA in fp32 and bf16 and the Hugging
# Face baseline (../shared/device/bench_hf.py) in the same call, so the ratios come from one machine and one run.
# Expects the carried .device-deps/ as tools/device-check.sh does. Results (JSON) go to $OUT.
#
# Prepared and checked on CPU only (the build and the bench command line); it has not run on a GPU yet.
set -u
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
source .device-deps/env.sh > "$out/env.log" 2>&1
start=$(date +%s)
cmake -S . -B build-dev -DCMAKE_BUILD_TYPE=Release -DCLIPMATCH_BUILD_PYTHON=OFF -DCLIPMATCH_BUILD_EXAMPLES=OFF \
      -DCLIPMATCH_BUILD_BENCH=OFF -DCLIPMATCH_SHARED_DIR="$PWD/.device-deps/shared" > "$out/cmake.log" 2>&1 \
  || { tail -30 "$out/cmake.log"; exit 1; }
cmake --build build-dev -j"$(nproc)" --target clipmatch_cli > "$out/build.log" 2>&1 \
  || { grep -E "error" -A3 "$out/build.log" | head -40; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
shared=.device-deps/shared
python3 bench/make_random_weights.py /tmp/vit-base --kind vit-base > /dev/null
python3 bench/make_random_weights.py /tmp/bert-base --kind bert-base > /dev/null
timeout 420 build-dev/clipmatch bench --device cuda --data "$shared/data/ml100k-tmdb" \
  --image-encoder vit:/tmp/vit-base --text-encoder bert:/tmp/bert-base --precision fp32 bf16 \
  --posters 1625 --intros 1625 --image-batch 256 --text-batch 256 --repeat 3 --train-pairs 512 --train-batch 128 \
  --json "$out/clipmatch_cuda.json" > /dev/null 2> "$out/clipmatch_cuda.log"
echo "clipmatch bench rc=$?"
timeout 300 python3 "$shared/device/bench_hf.py" > "$out/hf.json" 2> "$out/hf.log"
echo "bench_hf rc=$?"
cat "$out/hf.json"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
ours = json.load(open(f"{out}/clipmatch_cuda.json"))
print(json.dumps({"machine": ours["machine"], "encoding": ours["encoding"], "training": ours.get("training"),
                  "distance_matrix_and_metrics": ours["distance_matrix_and_metrics"]}, indent=1))
PY
