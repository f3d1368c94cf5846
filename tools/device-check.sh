#!/usr/bin/env bash
# One-shot check on the GPU machine (LibTorch 2.x + CUDA): configure, build, run the parity / CUDA tests and a
# short CUDA demo. Expects the carried .device-deps/ (see ../shared/device/fetch-deps.sh) with a copy of the
# shared fixtures in .device-deps/shared. Logs go to $OUT.
set -u
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
source .device-deps/env.sh > "$out/env.log" 2>&1
start=$(date +%s)
cmake -S . -B build-dev -DCMAKE_BUILD_TYPE=Release -DCLIPMATCH_BUILD_PYTHON=OFF -DCLIPMATCH_BUILD_EXAMPLES=OFF \
      -DCLIPMATCH_BUILD_BENCH=OFF -DCLIPMATCH_SHARED_DIR="$PWD/.device-deps/shared" > "$out/cmake.log" 2>&1 \
  || { tail -30 "$out/cmake.log"; exit 1; }
cmake --build build-dev -j"$(nproc)" --target clipmatch_tests clipmatch_cli > "$out/build.log" 2>&1 \
  || { grep -E "error" -A3 "$out/build.log" | head -40; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
cd build-dev
for tags in "[vit],[bert],[clip],[attention]" "[resnet],[mobilenet_v2]" "[wordpiece],[clip_bpe],[sentencepiece]" \
            "[safetensors],[checkpoint],[feature_cache]" "[metrics],[loss],[optim],[cuda]" "[eval_outputs]"; do
  timeout 60 ./tests/clipmatch_tests "$tags" > "$out/tests.log.part" 2>&1
  echo "tests $tags: rc=$? $(tail -2 "$out/tests.log.part" | tr '\n' ' ')"
  cat "$out/tests.log.part" >> "$out/tests.log"
done
./clipmatch --version
timeout 90 ./clipmatch demo --out /tmp/cuda-demo --epochs 8 --device cuda > "$out/demo.log" 2>&1
echo "demo rc=$?"; grep -v "ETA\|took" "$out/demo.log" | tail -12
