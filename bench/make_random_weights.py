#!/usr/bin/env python3
"""Writes a randomly initialised Hugging Face checkpoint folder (ViT-B/16 or BERT-base) for benchmarks.

    make_random_weights.py OUT_DIR --kind vit-base|bert-base [--seed 0]

Speed does not depend on weight values, and neither network nor `transformers` is available here, so the
benchmark builds its base-size checkpoints from scratch: `config.json` + `model.safetensors` (F32) with
exactly the parameter names and shapes `ViTModel` / `BertModel` save (the transformers 4 layout every Hub
checkpoint uses, e.g. google/vit-base-patch16-224 and bert-base-uncased, without the `vit.` / `bert.`
prefix of the task-head classes), pooler included as those classes add it by default. BERT also gets the
real bert-base-uncased `vocab.txt`; ViT gets the `preprocessor_config.json` of ViTImageProcessor.

Initialisation: weights ~ N(0, 0.02), biases 0, LayerNorm weights 1 (what HF's `_init_weights` does, with
normal instead of truncated normal), the [PAD] row of the word embeddings zeroed as HF does for padding_idx.
The files are ~350 MB (ViT) / ~440 MB (BERT): write them outside the repository.
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SHARED = os.environ.get("CLIPMATCH_SHARED", os.path.join(REPO, "..", "shared"))

HIDDEN, LAYERS, HEADS, INTERMEDIATE = 768, 12, 12, 3072

VIT_CONFIG = {
    "architectures": ["ViTModel"],
    "attention_probs_dropout_prob": 0.0,
    "encoder_stride": 16,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "hidden_size": HIDDEN,
    "image_size": 224,
    "initializer_range": 0.02,
    "intermediate_size": INTERMEDIATE,
    "layer_norm_eps": 1e-12,
    "model_type": "vit",
    "num_attention_heads": HEADS,
    "num_channels": 3,
    "num_hidden_layers": LAYERS,
    "patch_size": 16,
    "pooler_act": "tanh",
    "pooler_output_size": HIDDEN,
    "qkv_bias": True,
}

VIT_PREPROCESSOR = {
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "ViTImageProcessor",
    "image_std": [0.5, 0.5, 0.5],
    "resample": 2,  # PIL bilinear
    "rescale_factor": 1 / 255,
    "size": {"height": 224, "width": 224},
}

BERT_CONFIG = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": HIDDEN,
    "initializer_range": 0.02,
    "intermediate_size": INTERMEDIATE,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": HEADS,
    "num_hidden_layers": LAYERS,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "type_vocab_size": 2,
    "vocab_size": 30522,
}

BERT_TOKENIZER_CONFIG = {"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}


def linear(prefix, out_features, in_features):
    return {f"{prefix}.weight": ("normal", [out_features, in_features]), f"{prefix}.bias": ("zeros", [out_features])}


def layer_norm(prefix):
    return {f"{prefix}.weight": ("ones", [HIDDEN]), f"{prefix}.bias": ("zeros", [HIDDEN])}


def vit_layout():
    """{name: (init, shape)} of transformers' ViTModel at base size."""
    patches = (VIT_CONFIG["image_size"] // VIT_CONFIG["patch_size"]) ** 2
    layout = {
        "embeddings.cls_token": ("normal", [1, 1, HIDDEN]),
        "embeddings.position_embeddings": ("normal", [1, patches + 1, HIDDEN]),
        "embeddings.patch_embeddings.projection.weight": ("normal", [HIDDEN, 3, 16, 16]),
        "embeddings.patch_embeddings.projection.bias": ("zeros", [HIDDEN]),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        for proj in ("query", "key", "value"):
            layout.update(linear(f"{p}.attention.attention.{proj}", HIDDEN, HIDDEN))
        layout.update(linear(f"{p}.attention.output.dense", HIDDEN, HIDDEN))
        layout.update(linear(f"{p}.intermediate.dense", INTERMEDIATE, HIDDEN))
        layout.update(linear(f"{p}.output.dense", HIDDEN, INTERMEDIATE))
        layout.update(layer_norm(f"{p}.layernorm_before"))
        layout.update(layer_norm(f"{p}.layernorm_after"))
    layout.update(layer_norm("layernorm"))
    layout.update(linear("pooler.dense", HIDDEN, HIDDEN))
    return layout


def bert_layout():
    """{name: (init, shape)} of transformers' BertModel at base size."""
    layout = {
        "embeddings.word_embeddings.weight": ("normal", [BERT_CONFIG["vocab_size"], HIDDEN]),
        "embeddings.position_embeddings.weight": ("normal", [BERT_CONFIG["max_position_embeddings"], HIDDEN]),
        "embeddings.token_type_embeddings.weight": ("normal", [BERT_CONFIG["type_vocab_size"], HIDDEN]),
    }
    layout.update(layer_norm("embeddings.LayerNorm"))
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        for proj in ("query", "key", "value"):
            layout.update(linear(f"{p}.attention.self.{proj}", HIDDEN, HIDDEN))
        layout.update(linear(f"{p}.attention.output.dense", HIDDEN, HIDDEN))
        layout.update(layer_norm(f"{p}.attention.output.LayerNorm"))
        layout.update(linear(f"{p}.intermediate.dense", INTERMEDIATE, HIDDEN))
        layout.update(linear(f"{p}.output.dense", HIDDEN, INTERMEDIATE))
        layout.update(layer_norm(f"{p}.output.LayerNorm"))
    layout.update(linear("pooler.dense", HIDDEN, HIDDEN))
    return layout


def materialise(layout, seed):
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name in sorted(layout):  # sorted: the values for a seed do not depend on dict order
        init, shape = layout[name]
        if init == "normal":
            tensors[name] = torch.empty(shape).normal_(0.0, 0.02, generator=generator)
        else:
            tensors[name] = torch.zeros(shape) if init == "zeros" else torch.ones(shape)
    return tensors


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--kind", required=True, choices=["vit-base", "bert-base"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vocab", default=os.path.join(DEFAULT_SHARED, "vocab", "bert-base-uncased-vocab.txt"),
                        help="WordPiece vocabulary copied into a bert-base folder (default: the shared real one)")
    args = parser.parse_args()

    os.makedirs(args.out_dir, exist_ok=True)
    if args.kind == "vit-base":
        tensors = materialise(vit_layout(), args.seed)
        write_json(os.path.join(args.out_dir, "config.json"), VIT_CONFIG)
        write_json(os.path.join(args.out_dir, "preprocessor_config.json"), VIT_PREPROCESSOR)
    else:
        if not os.path.isfile(args.vocab):
            parser.error(f"vocabulary not found: {args.vocab} (set --vocab or CLIPMATCH_SHARED)")
        tensors = materialise(bert_layout(), args.seed)
        tensors["embeddings.word_embeddings.weight"][BERT_CONFIG["pad_token_id"]].zero_()
        write_json(os.path.join(args.out_dir, "config.json"), BERT_CONFIG)
        write_json(os.path.join(args.out_dir, "tokenizer_config.json"), BERT_TOKENIZER_CONFIG)
        shutil.copyfile(args.vocab, os.path.join(args.out_dir, "vocab.txt"))
    safetensors_lite.write(os.path.join(args.out_dir, "model.safetensors"), tensors)
    count = sum(t.numel() for t in tensors.values())
    print(f"{args.out_dir}: {args.kind}, {len(tensors)} tensors, {count:,} parameters, seed {args.seed}")


if __name__ == "__main__":
    main()
