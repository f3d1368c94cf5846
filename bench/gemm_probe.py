#!/usr/bin/env python3
"""What a CUDA chip gives the matrix products of a ViT-B/16 / BERT-base block in bf16, for reading encoder
throughput as a fraction of it.

    gemm_probe.py OUT.json

Times torch.nn.functional.linear in bf16 at the four projection shapes of a block (QKV 768→2304, output
768→768, MLP 768→3072 and 3072→768) for a batch of 256 ViTs (256·197 rows) and 256 BERT intros (256·128 rows),
and a large square product as the chip's practical peak. Each figure: TFLOP/s (2·M·N·K per product).
"""
import json
import sys
import time

import torch


def tflops(m, k, n, reps=20):
    x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        torch.nn.functional.linear(x, w, b)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        torch.nn.functional.linear(x, w, b)
    torch.cuda.synchronize()
    return round(2 * m * n * k * reps / (time.perf_counter() - start) / 1e12, 1)


def main():
    shapes = {"qkv": (768, 2304), "out": (768, 768), "fc1": (768, 3072), "fc2": (3072, 768)}
    result = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    for tag, rows in [("vit_bs256", 256 * 197), ("bert_bs256_seq128", 256 * 128)]:
        result[tag] = {name: tflops(rows, k, n) for name, (k, n) in shapes.items()}
        # FLOP-weighted mean over one block's four products (fc1 and fc2 are 4× the output projection, qkv 3×).
        weights = {"qkv": 3, "out": 1, "fc1": 4, "fc2": 4}
        seconds = sum(weights[n] / result[tag][n] for n in shapes)
        result[tag]["block_mean"] = round(sum(weights.values()) / seconds, 1)
    result["square_8192"] = tflops(8192, 8192, 8192, reps=10)
    json.dump(result, open(sys.argv[1], "w"), indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
