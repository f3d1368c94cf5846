#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs the build and run-time dependencies (Debian
# packages only), configures and builds clipmatch, then runs the demo or the test suite.
#
#   bash tools/bootstrap.sh demo [clipmatch demo options…]   # the main job, on data it generates itself
#   bash tools/bootstrap.sh test                             # the whole test suite (what CI runs)
#   bash tools/bootstrap.sh build                            # install + build only
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

mode=${1:-build}
shift || true
build_dir=${CLIPMATCH_BUILD_DIR:-build}
jobs=$(nproc)

# Why each package:
# - the design card's libraries: LibTorch, sentencepiece, stb, Eigen, fmt, nlohmann-json, CLI11, Catch2, pybind11;
# - libicu-dev: Unicode-exact tokenisation; zlib1g-dev: CLIP's gzipped BPE file; libxxhash-dev (header-only use):
#   feature-cache keys;
# - libopenblas0-pthread: without it LibTorch's CPU GEMM falls back to reference BLAS (~19x slower);
# - python3-dev, python3-numpy, python3-pytest: the Python module and its tests;
# - cargo, rustc: the Rust crate over the C ABI (examples/rust: cargo test and its example, no crates.io);
# - jupyter-nbconvert, python3-ipykernel, python3-nbformat, python3-matplotlib: executing the quickstart notebook
#   (examples/python/quickstart.ipynb; matplotlib draws its heatmap);
# - python3-venv, python3-pip, python3-setuptools, python3-wheel: `pip install .` offline into a venv (the build
#   backend is Debian's setuptools; bindings/python/tests/test_packaging.py);
# - python3-pil: the bad-input corpus draws CMYK / progressive / 16-bit images (tests/bad_inputs);
# - clang-14, libclang-rt-14-dev: the libFuzzer targets (fuzz/, ctest fuzz.regressions) with ASan + UBSan;
# - libtesseract-dev, tesseract-ocr-eng: reading the text printed on posters (--ocr, include/clipmatch/ocr.hpp)
#   through Tesseract's C++ API, with its English model;
# - libfaiss-dev: catalog indexes (clipmatch index / search, include/clipmatch/catalog.hpp);
# - libgloo-dev: Gloo's headers, for distributed training over LibTorch's c10d (train --nproc,
#   include/clipmatch/distributed.hpp); the library itself comes with libtorch.
# - libdnnl-dev: oneDNN's headers, for convolutions with their ReLU6 / residual sum fused (src/nn/direct_conv.hpp);
#   the library is the libdnnl.so.2 that libtorch already links.
packages=(build-essential cmake pkg-config git
          libtorch-dev libopenblas0-pthread libsentencepiece-dev libstb-dev libeigen3-dev libfmt-dev
          nlohmann-json3-dev libcli11-dev catch2 pybind11-dev python3-dev python3-numpy python3-pytest
          libicu-dev zlib1g-dev libxxhash-dev
          cargo rustc
          jupyter-nbconvert python3-ipykernel python3-nbformat python3-matplotlib
          python3-venv python3-pip python3-setuptools python3-wheel python3-pil
          clang-14 libclang-rt-14-dev
          libtesseract-dev tesseract-ocr-eng libfaiss-dev libgloo-dev libdnnl-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

start=$(date +%s)
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE=/usr/bin/python3 \
      -DPYTHON_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build "$build_dir" -j"$jobs"
echo "bootstrap: build took $(( $(date +%s) - start )) s"

case "$mode" in
  demo) exec "$build_dir/clipmatch" demo "$@" ;;
  test) cd "$build_dir" && exec ctest --output-on-failure -j"$jobs" "$@" ;;
  build) ;;
  *) echo "usage: bash tools/bootstrap.sh demo|test|build" >&2; exit 2 ;;
esac
