#!/usr/bin/env python3
"""Puts one GPU device call's figures side by side (tools/device-bench.sh): clipmatch bench on CUDA, the Hugging
Face baseline (bench_hf.py) and the bf16 GEMM probe (gemm_probe.py), as ratios and TFLOP/s.

    device_report.py OUT_DIR        (reads clipmatch_fp32.json, clipmatch_bf16.json, hf.json, gemm.json and
                                     gpu_busy_bf16.csv there; prints JSON)

Encoder TFLOP/s count the matrix products only (projections, MLP, attention's two products, ViT's patch
embedding) at 197 tokens per ViT-B/16 image and 128 per BERT-base intro, so they are a lower bound on how busy
the products keep the chip: the rest of each block's time (norms, activations, copies) counts against them.
"""
import json
import os
import sys

HIDDEN, MLP, LAYERS = 768, 3072, 12


def block_flops(tokens):
    projections = 2 * tokens * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * MLP)
    attention = 2 * 2 * tokens * tokens * HIDDEN
    return LAYERS * (projections + attention)


VIT_FLOPS = block_flops(197) + 2 * 196 * HIDDEN * (3 * 16 * 16)
BERT_FLOPS = block_flops(128)


def load(out, name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.exists(path) else None


def ratio(a, b):
    return round(a / b, 2) if a and b else None


def gpu_busy(path):
    """nvidia-smi's utilization.gpu samples (percent of time a kernel ran) over the whole bench call."""
    if not os.path.exists(path):
        return None
    samples = []
    for line in open(path):
        fields = [f.strip() for f in line.split(",")]
        if fields and fields[0].isdigit():
            samples.append(int(fields[0]))
    if not samples:
        return None
    share = lambda keep: round(sum(1 for s in samples if keep(s)) / len(samples), 2)
    return {"samples": len(samples), "mean_percent": round(sum(samples) / len(samples), 1),
            "share_at_90_or_more": share(lambda s: s >= 90), "share_under_50": share(lambda s: s < 50)}


def main():
    out = sys.argv[1]
    hf, gemm = load(out, "hf.json"), load(out, "gemm.json")
    # One clipmatch bench call per precision (clipmatch_<precision>.json): their encodings merged, training
    # and the distance matrix from whichever measured them.
    ours = {}
    for name in ("clipmatch_fp32.json", "clipmatch_bf16.json"):
        part = load(out, name) or {}
        ours.setdefault("encoding", {}).update(part.get("encoding", {}))
        for key in ("build", "training", "distance_matrix_and_metrics"):
            if part.get(key) and not ours.get(key):
                ours[key] = part[key]
    report = {"gpu": (hf or gemm or {}).get("gpu"), "hf_torch": (hf or {}).get("torch")}
    if ours:
        report["clipmatch_build"] = ours.get("build")
        hf_fast = (hf or {}).get("bf16_sdpa_bs256", {})
        for precision, figures in ours.get("encoding", {}).items():
            vit = figures.get("posters_from_decoded_pixels_img_per_s")
            bert = figures.get("intros_seq_per_s")
            report[precision] = {
                "posters_from_files_img_per_s": round(figures.get("posters_from_files_img_per_s", 0), 1),
                "posters_from_pixels_img_per_s": round(vit or 0, 1),
                "intros_seq128_per_s": round(bert or 0, 1),
                "vs_hf_bf16_sdpa_bs256": {"vit_from_pixels": ratio(vit, hf_fast.get("vit_img_per_s")),
                                          "vit_from_files": ratio(figures.get("posters_from_files_img_per_s"),
                                                                  hf_fast.get("vit_img_per_s")),
                                          "bert": ratio(bert, hf_fast.get("bert_seq128_per_s"))},
                "encoder_tflops": {"vit": round((vit or 0) * VIT_FLOPS / 1e12, 1),
                                   "bert": round((bert or 0) * BERT_FLOPS / 1e12, 1)},
                "end_to_end": figures.get("end_to_end"),
            }
            if gemm:
                report[precision]["fraction_of_gemm_probe"] = {
                    "vit": ratio((vit or 0) * VIT_FLOPS / 1e12, gemm["vit_bs256"]["block_mean"]),
                    "bert": ratio((bert or 0) * BERT_FLOPS / 1e12, gemm["bert_bs256_seq128"]["block_mean"]),
                    "vit_of_square_peak": ratio((vit or 0) * VIT_FLOPS / 1e12, gemm["square_8192"]),
                }
        training = ours.get("training") or {}
        full = training.get("full_finetune") or {}
        hf_step = (hf or {}).get("finetune_bf16_bs128", {})
        report["training"] = {**training, "full_finetune_vs_hf": ratio(hf_step.get("step_ms"), full.get("step_ms"))}
        report["distance_matrix_and_metrics"] = ours.get("distance_matrix_and_metrics")
    busy = gpu_busy(os.path.join(out, "gpu_busy_bf16.csv"))
    if busy:
        report["gpu_busy_during_clipmatch_bf16"] = busy
    if hf:
        report["hf"] = {k: v for k, v in hf.items() if k not in ("gpu", "torch")}
    if gemm:
        report["gemm_probe_tflops"] = {k: v for k, v in gemm.items() if k not in ("gpu", "torch")}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
