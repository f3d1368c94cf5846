#!/usr/bin/env bash
# GPU half of issue #9's benchmark, for a session that has the GPU machine. One call: build the CLI (LibTorch 2.x +
# CUDA), write random-weight ViT-B/16 / BERT-base folders, make the course-sized job (2,938 movies: the real
# ml100k-tmdb posters cycled and upscaled to the course's 182×268, intros lengthened to the 128-token limit so
# the work per intro equals bench_hf.py's seq-128 batches), run `clipmatch bench --device cuda` in fp32 and bf16,
# then in the same call the Hugging Face baseline (../shared/device/bench_hf.py), a bf16 GEMM probe at the ViT
# block's shapes (what the chip gives those matrix products) and, time allowing, the course pipeline
# (seed_pipeline.py) on the same 2,938 files. Results (JSON + logs) go to $OUT.
#
# Needs the carried .device-deps/, made here first (the device has no apt; ICU, zlib and xxHash are build needs
# fetch-deps.sh predates):
#   bash ../shared/device/fetch-deps.sh libicu-dev libicu72 zlib1g-dev libxxhash-dev
#   mkdir -p .device-deps/shared/fixtures && cp -r ../shared/fixtures/hf .device-deps/shared/fixtures/
# then one device call: run `bash tools/device-bench.sh` with carry [".device-deps"] and timeout_s 600
# (BUDGET=seconds caps the steps after the build; about 340 s in all on an H200, build 140 s of it).
set -u
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
deps=.device-deps
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
source "$deps/env.sh" > "$out/env.log" 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader | tee "$out/gpu.txt"
cmake -S . -B build-dev -DCMAKE_BUILD_TYPE=Release -DCLIPMATCH_BUILD_PYTHON=OFF -DCLIPMATCH_BUILD_EXAMPLES=OFF \
      -DCLIPMATCH_BUILD_BENCH=OFF -DCLIPMATCH_SHARED_DIR="$PWD/$deps/shared" > "$out/cmake.log" 2>&1 \
  || { tail -30 "$out/cmake.log"; exit 1; }
# Data and weights are written while the build runs.
(
  python3 bench/make_random_weights.py /tmp/vit-base --kind vit-base
  python3 bench/make_random_weights.py /tmp/bert-base --kind bert-base --vocab "$deps/bert-base-uncased-vocab.txt"
  python3 bench/course_sized_dataset.py "$deps/ml100k-tmdb" /tmp/course2938 2938
) > "$out/prepare.log" 2>&1 &
prepare=$!
cmake --build build-dev -j"$(nproc)" --target clipmatch_cli clipmatch_tests > "$out/build.log" 2>&1 \
  || { grep -E "error" -A3 "$out/build.log" | head -40; exit 1; }
wait $prepare || { cat "$out/prepare.log"; exit 1; }
echo "build + data: $(elapsed) s"; tail -3 "$out/prepare.log"

# Steps in order of need, each cut short rather than overrunning the call: $budget seconds in all.
budget=${BUDGET:-570}
within() { local want=$1 left=$(( budget - $(date +%s) + start )); (( left < want )) && want=$left; (( want < 5 )) && want=5; echo $want; }
# Each precision in a call of its own, so that a failure in one keeps the other's figures.
common=(--device cuda --data /tmp/course2938 --image-encoder vit:/tmp/vit-base --text-encoder bert:/tmp/bert-base
        --posters 2938 --intros 2938 --image-batch 256 --text-batch 256 --repeat 2)
# How busy the GPU is while clipmatch runs (every 100 ms): near 100 % means the device is the limit, much less
# means host work (decoding, preprocessing, launches, read-backs) keeps it waiting.
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 100 \
  > "$out/gpu_busy_bf16.csv" 2> /dev/null &
sampler=$!
timeout "$(within 180)" build-dev/clipmatch bench "${common[@]}" --precision bf16 --train-pairs 1024 --train-batch 128 \
  --json "$out/clipmatch_bf16.json" > /dev/null 2> "$out/clipmatch_bf16.log"
echo "clipmatch bench bf16 rc=$? at $(elapsed) s"; grep -v "ETA" "$out/clipmatch_bf16.log" | tail -5
kill "$sampler" 2> /dev/null
PYTHONUNBUFFERED=1 timeout "$(within 150)" python3 "$deps/bench_hf.py" "$out/hf.json" > "$out/hf.log" 2>&1
echo "bench_hf rc=$? at $(elapsed) s"
PYTHONUNBUFFERED=1 timeout "$(within 40)" python3 bench/gemm_probe.py "$out/gemm.json" > "$out/gemm.log" 2>&1
echo "gemm probe rc=$? at $(elapsed) s"
timeout "$(within 90)" build-dev/clipmatch bench "${common[@]}" --precision fp32 --skip-training \
  --json "$out/clipmatch_fp32.json" > /dev/null 2> "$out/clipmatch_fp32.log"
echo "clipmatch bench fp32 rc=$? at $(elapsed) s"; grep -v "ETA" "$out/clipmatch_fp32.log" | tail -5
python3 bench/device_report.py "$out" > "$out/summary.json"; cat "$out/summary.json"
# The CUDA cases of the suite (bf16 against fp32 on the fixtures, GPU metrics against the CPU's).
timeout "$(within 40)" build-dev/tests/clipmatch_tests "[cuda]" > "$out/tests_cuda.log" 2>&1
echo "[cuda] tests rc=$? at $(elapsed) s"; tail -4 "$out/tests_cuda.log"
if (( $(elapsed) < budget - 60 )); then
  PYTHONUNBUFFERED=1 timeout "$(within 120)" python3 "$deps/seed_pipeline.py" /tmp/course2938 \
    "$deps/bert-base-uncased-vocab.txt" "$out/seed.json" > "$out/seed.log" 2>&1
  echo "seed_pipeline rc=$? at $(elapsed) s"; cat "$out/seed.json" 2>/dev/null
fi
