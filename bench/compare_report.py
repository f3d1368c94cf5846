"""Combines the JSON files of bench/compare_cpu.sh into the comparison table of docs/benchmarks.md.

For each row: clipmatch's figure in every precision and PyTorch's fastest variant (best over the rounds of
each), and the ratio of clipmatch's fastest precision to PyTorch's fastest path.
"""
import glob
import json
import os
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


def best_pytorch(out, row, figure):
    variants = {}
    for path in glob.glob(os.path.join(out, f"pytorch-{row}-*.json")):
        with open(path) as f:
            result = json.load(f)["rows"][row]
        for name, figures in result["variants"].items():
            value = figures.get(figure)
            if isinstance(value, (int, float)):
                variants[name] = max(variants.get(name, 0.0), value)
    return variants


def main():
    out = sys.argv[1]
    print("| work | clipmatch fp32 | clipmatch bf16 | clipmatch int8 | PyTorch eager fp32 | PyTorch fastest path | "
          "clipmatch fastest ÷ PyTorch fastest |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row, label, key, figure, unit in ROWS:
        ours = best_clipmatch(out, row, key)
        theirs = best_pytorch(out, row, figure)
        if not ours or not theirs:
            print(f"| {label} | (missing) | | | | | |")
            continue
        fastest_name = max(theirs, key=theirs.get)
        ours_best = max(ours, key=ours.get)
        ratio = ours[ours_best] / theirs[fastest_name]
        cells = [f"{ours.get(p, float('nan')):.1f} {unit}" for p in ("fp32", "bf16", "int8")]
        print(f"| {label} | {' | '.join(cells)} | {theirs.get('eager_fp32', float('nan')):.1f} {unit} | "
              f"{theirs[fastest_name]:.1f} {unit} ({fastest_name}) | {ratio:.2f} ({ours_best}) |")


if __name__ == "__main__":
    main()
