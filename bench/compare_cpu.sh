#!/usr/bin/env bash
# The CPU comparison of issue #9 in one run: for each row (MobileNetV2 features, ViT-B/16, BERT-base) clipmatch
# and PyTorch's fastest path measure the same items back to back, so machine load hits both alike; the report
# gives each figure and the ratio.
#
#   bench/compare_cpu.sh [OUT_DIR]          (default /tmp/clipmatch-compare)
#
# Environment: CLIPMATCH (the CLI, default build/clipmatch), CLIPMATCH_SHARED (default ../shared), THREADS (2),
# ROUNDS (2: each row alternates clipmatch / PyTorch this many times; the best of each is kept), ROWS (the rows to
# run, default "mobilenet_v2 vit bert"), and per row the
# items and batch: MNV2_ITEMS (256) MNV2_BATCH (32) VIT_ITEMS (32) VIT_BATCH (16) BERT_ITEMS (128) BERT_BATCH (32).
# MNV2_MORE_BATCHES ("8"): further batch sizes both sides also run MobileNetV2 at; PyTorch's fastest path is then
# the fastest variant at any batch (PyTorch's MobileNetV2 is fastest at batch 8 on the 2-core machine).
# NO_MMAP_PEER (1): each row's fastest PyTorch variants run once more with glibc's mmap turned off
# (MALLOC_MMAP_MAX_=0), which gives PyTorch what clipmatch's CPU block cache gives clipmatch; the report shows
# those figures in a column of their own.
# Random-weight ViT-B/16 and BERT-base folders are generated into OUT_DIR once (bench/make_random_weights.py).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-/tmp/clipmatch-compare}"
cli="${CLIPMATCH:-$root/build/clipmatch}"
shared="${CLIPMATCH_SHARED:-$root/../shared}"
python=/usr/bin/python3  # Debian's interpreter, which has python3-torch
threads="${THREADS:-2}"
rounds="${ROUNDS:-2}"
rows=" ${ROWS:-mobilenet_v2 vit bert} "
data="$shared/data/ml100k-tmdb"
mkdir -p "$out"

for kind in vit-base bert-base; do
  [[ -f "$out/$kind/model.safetensors" ]] || "$python" "$root/bench/make_random_weights.py" "$out/$kind" --kind "$kind"
done

# clipmatch's threads: OMP_NUM_THREADS is honoured by the library (src/core/compute_threads.cpp).
export OMP_NUM_THREADS="$threads"
run_pair() {  # row items batch image-encoder text-encoder tag: clipmatch, then PyTorch, once
  local row=$1 items=$2 batch=$3 image=$4 text=$5 tag=$6
  "$cli" bench --data "$data" --image-encoder "$image" --text-encoder "$text" --precision fp32 bf16 int8 \
    --posters "$items" --intros "$items" --image-batch "$batch" --text-batch "$batch" --repeat 1 \
    --skip-end-to-end --skip-training --matrix-n 16 --json "$out/clipmatch-$row-$tag.json" > /dev/null
  "$python" "$root/bench/pytorch_peer.py" --data "$data" --rows "$row" --limit "$items" --batch "$batch" \
    --threads "$threads" --repeat 1 --json "$out/pytorch-$row-$tag.json" > /dev/null
}
run_row() {  # row items batch image-encoder text-encoder [more batches] [fastest PyTorch variants], ROUNDS times
  local row=$1 items=$2 batch=$3 image=$4 text=$5 more=${6:-} fastest=${7:-}
  [[ "$rows" == *" $row "* ]] || return 0
  for round in $(seq "$rounds"); do
    run_pair "$row" "$items" "$batch" "$image" "$text" "$round"
    for b in $more; do run_pair "$row" "$items" "$b" "$image" "$text" "batch$b-$round"; done
    if [[ "${NO_MMAP_PEER:-1}" == 1 && -n "$fastest" ]]; then
      for b in $batch $more; do
        MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000 "$python" "$root/bench/pytorch_peer.py" \
          --data "$data" --rows "$row" --limit "$items" --batch "$b" --threads "$threads" --repeat 1 \
          --variants "$fastest" --json "$out/pytorch-$row-nommap-batch$b-$round.json" > /dev/null
      done
    fi
  done
}

glove="glove:$shared/weights/glove_6b_100d_top100k"
run_row mobilenet_v2 "${MNV2_ITEMS:-256}" "${MNV2_BATCH:-32}" "mobilenet_v2:$shared/weights/mobilenet_v2_imagenet" "$glove" \
  "${MNV2_MORE_BATCHES-8}" jit_frozen_bf16_channels_last
run_row vit "${VIT_ITEMS:-32}" "${VIT_BATCH:-16}" "vit:$out/vit-base" "$glove" "" jit_frozen_bf16,int8_dynamic
run_row bert "${BERT_ITEMS:-128}" "${BERT_BATCH:-32}" "mobilenet_v2:$shared/weights/mobilenet_v2_imagenet" \
  "bert:$out/bert-base" "" "nested_encoder_bf16,int8_dynamic+length_sorted"

"$python" "$root/bench/compare_report.py" "$out" | tee "$out/report.md"
