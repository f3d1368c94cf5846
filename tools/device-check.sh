#!/usr/bin/env bash
# One-shot check on the GPU machine (LibTorch 2.x + CUDA): configure, build, run the whole Catch2 suite (the
# [cuda] cases and CUDA sections run there), the CUDA demo and a CUDA top-K training run. Expects the carried
# .device-deps/ (see ../shared/device/fetch-deps.sh) with a copy of the shared fixtures in
# .device-deps/shared. Logs go to $OUT.
set -u
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
source .device-deps/env.sh > "$out/env.log" 2>&1
torch_lib=$(python3 -c 'import torch,os; print(os.path.dirname(torch.__file__))')/lib
echo "libtorch.so exports $(nm -D --defined-only "$torch_lib/libtorch.so" | c++filt | grep -c 'std::filesystem') std::filesystem symbols"
start=$(date +%s)
cmake -S . -B build-dev -DCMAKE_BUILD_TYPE=Release -DCLIPMATCH_BUILD_PYTHON=OFF -DCLIPMATCH_BUILD_EXAMPLES=OFF \
      -DCLIPMATCH_BUILD_BENCH=OFF -DCLIPMATCH_SHARED_DIR="$PWD/.device-deps/shared" > "$out/cmake.log" 2>&1 \
  || { tail -30 "$out/cmake.log"; exit 1; }
cmake --build build-dev -j"$(nproc)" --target clipmatch_tests clipmatch_cli > "$out/build.log" 2>&1 \
  || { grep -E "error" -A3 "$out/build.log" | head -40; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
cd build-dev
readelf -d tests/clipmatch_tests | grep NEEDED | head -2
start=$(date +%s)
timeout 300 ./tests/clipmatch_tests --durations yes > "$out/tests.log" 2>&1
echo "tests rc=$? in $(( $(date +%s) - start )) s: $(tail -3 "$out/tests.log" | tr '\n' ' ')"
grep -B2 -A12 "FAILED\|SIGSEGV" "$out/tests.log" | head -60
./clipmatch --version
timeout 90 ./clipmatch demo --out /tmp/cuda-demo --device cuda > "$out/demo.log" 2>&1
echo "demo rc=$?"; grep -v "ETA\|took" "$out/demo.log" | tail -12
timeout 90 ./clipmatch train --data /tmp/cuda-demo/data --out /tmp/cuda-topk/run --device cuda --freeze top-k \
  --unfreeze-top 2 --epochs 8 --batch-size 32 --lr 2e-3 --encoder-lr 2e-3 > "$out/topk.log" 2>&1
echo "top-k rc=$?"; grep -v "ETA\|took" "$out/topk.log" | tail -10
