"""Combines the JSON files of bench/compare_cpu.sh into the comparison table of docs/benchmarks.md.

For each row: clipmatch's figure in every precision and PyTorch's fastest variant (best over the rounds and the
batch sizes run), the ratio of clipmatch's fastest precision to PyTorch's fastest path, and the same for
PyTorch's fastest variants run with glibc's mmap turned off (files pytorch-ROW-nommap-*.json).
"""
import glob
import json
import os
import re
import sys

# Per row: the PyTorch row name, a label, clipmatch's JSON figure, the peer's figure, the unit. Image rows compare
# JPEG file -> features on both sides.
ROWS = [
    ("mobilenet_v2", "MobileNetV2 features from JPEG files", "posters_from_files_img_per_s", "end_to_end", "img/s"),
    ("vit", "ViT-B/16 (random weights) from JPEG files", "posters_from_files_img_per_s", "end_to_end", "img/s"),
    ("bert", "BERT-base (random weights), real intros <=128 tokens", "intros_seq_per_s", "value", "seq/s"),
]


def best_clipmatch(out, row, key):
    best = {}
    for path in glob.glob(os.path.join(out, f"clipmatch-{row}-*.json")):
        with open(path) as f:
            for precision, figures in json.load(f)["encoding"].items():
                best[precision] = max(best.get(precision, 0.0), figures[key])
    return best


def best_pytorch(out, row, figure, no_mmap):
    """{variant name (with its batch when several batches ran): best figure} over the matching files."""
    variants, batches = {}, set()
    for path in glob.glob(os.path.join(out, f"pytorch-{row}-*.json")):
        if bool(re.search(r"-nommap-", os.path.basename(path))) != no_mmap:
            continue
        with open(path) as f:
            result = json.load(f)["rows"][row]
        batches.add(result["batch"])
        for name, figures in result["variants"].items():
            value = figures.get(figure)
            if isinstance(value, (int, float)):
                key = (name, result["batch"])
                variants[key] = max(variants.get(key, 0.0), value)
    label = (lambda name, batch: f"{name}, batch {batch}") if len(batches) > 1 else (lambda name, batch: name)
    return {label(name, batch): value for (name, batch), value in variants.items()}


def eager_fp32(variants):
    values = [v for name, v in variants.items() if name == "eager_fp32" or name.startswith("eager_fp32, ")]
    return max(values) if values else float("nan")


def main():
    out = sys.argv[1]
    print("| work | clipmatch fp32 | clipmatch bf16 | clipmatch int8 | PyTorch eager fp32 | PyTorch fastest path | "
          "clipmatch fastest ÷ PyTorch fastest | PyTorch fastest, glibc mmap off | ÷ that |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row, label, key, figure, unit in ROWS:
        ours = best_clipmatch(out, row, key)
        theirs = best_pytorch(out, row, figure, no_mmap=False)
        if not ours or not theirs:
            print(f"| {label} | (missing) | | | | | | | |")
            continue
        fastest_name = max(theirs, key=theirs.get)
        ours_best = max(ours, key=ours.get)
        ratio = ours[ours_best] / theirs[fastest_name]
        cells = [f"{ours.get(p, float('nan')):.1f} {unit}" for p in ("fp32", "bf16", "int8")]
        no_mmap = best_pytorch(out, row, figure, no_mmap=True)
        if no_mmap:
            no_mmap_name = max(no_mmap, key=no_mmap.get)
            no_mmap_cells = (f"{no_mmap[no_mmap_name]:.1f} {unit} ({no_mmap_name}) | "
                             f"{ours[ours_best] / no_mmap[no_mmap_name]:.2f}")
        else:
            no_mmap_cells = "(not run) | "
        print(f"| {label} | {' | '.join(cells)} | {eager_fp32(theirs):.1f} {unit} | "
              f"{theirs[fastest_name]:.1f} {unit} ({fastest_name}) | {ratio:.2f} ({ours_best}) | {no_mmap_cells} |")


if __name__ == "__main__":
    main()
