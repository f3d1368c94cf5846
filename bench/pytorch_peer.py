#!/usr/bin/env python3
"""The PyTorch half of clipmatch's CPU benchmark (issue #9): PyTorch's fastest CPU path for each row.

Rows (same data and preprocessing as clipmatch's encoders):
  mobilenet_v2  torchvision mobilenet_v2 `features` + global average pool -> 1280-d, real ImageNet weights
  vit           torchvision vit_b_16 -> final-LayerNorm [CLS] token (768-d, = HF ViTModel last_hidden_state[:, 0])
  bert          HF-equivalent BERT-base -> final [CLS] hidden state (768-d, no pooler), WordPiece, <= 128 tokens
ViT and BERT use the random weights make_random_weights.py writes for the same --seed, so the peer computes
the same function as clipmatch run on those folders.

Each row is timed in several variants (eager fp32, bf16, dynamic int8, channels-last, TorchScript-frozen,
nn.TransformerEncoder with nested tensors, ...); a variant that does not run here is reported with its
error. Protocol: one warm-up pass over the items, then the best of --repeat timed passes. Image rows are
timed end to end (JPEG file -> PIL decode -> PIL resize -> normalise -> model -> features, all in the main
process as a plain PyTorch user would) and separately from already preprocessed pixel tensors. The BERT row
is timed from token ids (pad to the batch's longest -> model); tokenisation here is pure Python (no HF
`tokenizers`), so it is measured on its own and kept out of the model figures.

Prints one JSON object on stdout (progress goes to stderr); --json also writes it to a file.
"""
import argparse
import collections
import copy
import ctypes
import json
import os
import platform
import statistics
import sys
import time
import unicodedata

import numpy as np
import PIL
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_random_weights  # noqa: E402
import safetensors_lite  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("CLIPMATCH_SHARED", os.path.join(REPO, "..", "shared"))
DEFAULT_LIMITS = {"mobilenet_v2": 256, "vit": 64, "bert": 128}
IMAGE_SIZE = 224
JIT_WARMUP_CALLS = 4
MAX_TOKENS = 128


def log(message):
    print(message, file=sys.stderr, flush=True)


def error_text(e):
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:400]


# ----------------------------------------------------------------------------------------------- data


def read_movies(data_dir, limit):
    import csv

    with open(os.path.join(data_dir, "movies.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return rows[:limit]


def decode_batch(paths):
    """JPEG files -> uint8 [B, 224, 224, 3]: PIL decode, RGB, bilinear resize straight to 224x224 (no crop).

    This is both clipmatch's mobilenet_v2 preprocessing (weights/mobilenet_v2_imagenet/config.json) and
    Hugging Face's ViTImageProcessor (size 224x224, resample=bilinear); Pillow's resize is what both use.
    """
    images = []
    for path in paths:
        with Image.open(path) as image:
            resized = image.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
        images.append(np.asarray(resized))
    return torch.from_numpy(np.stack(images))


def normalise(pixels_u8, dtype, channels_last):
    """uint8 NHWC -> (x/255 - 0.5)/0.5 (= x/127.5 - 1) in the variant's dtype and memory format."""
    x = pixels_u8.permute(0, 3, 1, 2).float()  # a channels-last view of the NHWC bytes
    x = x.mul_(1 / 255).sub_(0.5).div_(0.5)
    return x.to(dtype=dtype, memory_format=torch.channels_last if channels_last else torch.contiguous_format)


# ------------------------------------------------------------------------------------------ tokenizer


def _is_control(ch):
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


class WordPiece:
    """bert-base-uncased tokenisation (BertWordPieceTokenizer(lowercase=True)), [CLS] ... [SEP], truncated.

    Gives exactly the ids of ../shared/fixtures/tokenizer_golden.json (bert_uncased, bert_uncased_max128).
    """

    def __init__(self, vocab_path, max_tokens=MAX_TOKENS):
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
        self.cls, self.sep, self.unk = self.vocab["[CLS]"], self.vocab["[SEP]"], self.vocab["[UNK]"]
        self.max_tokens = max_tokens

    def _words(self, text):
        chars = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            chars.append(" " if _is_whitespace(ch) else f" {ch} " if _is_cjk(cp) else ch)
        text = unicodedata.normalize("NFD", "".join(chars).lower())
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
        for word in text.split():
            piece = []
            for ch in word:
                if _is_punctuation(ch):
                    if piece:
                        yield "".join(piece)
                        piece = []
                    yield ch
                else:
                    piece.append(ch)
            if piece:
                yield "".join(piece)

    def _pieces(self, word):
        if len(word) > 100:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in self.vocab:
                    ids.append(self.vocab[sub])
                    break
                end -= 1
            if end == start:
                return [self.unk]
            start = end
        return ids

    def encode(self, text, truncate=True):
        ids = [self.cls]
        for word in self._words(text):
            ids.extend(self._pieces(word))
        ids.append(self.sep)
        if truncate and len(ids) > self.max_tokens:
            ids = ids[: self.max_tokens - 1] + [self.sep]
        return ids


# --------------------------------------------------------------------------------------------- models


def mobilenet_v2_features(weights_dir):
    """(module, description); real weights when the folder has them, else torchvision's random init."""
    model = torchvision.models.mobilenet_v2(num_classes=1001)
    path = os.path.join(weights_dir, "model.safetensors")
    if os.path.isfile(path):
        model.load_state_dict(safetensors_lite.read(path))
        weights = f"real ImageNet weights from {os.path.normpath(weights_dir)}"
    else:
        weights = f"random (torchvision init; {path} not found)"
    return nn.Sequential(model.features, nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval(), weights


class ViTFeatures(nn.Module):
    """torchvision ViT up to the final LayerNorm, [CLS] token: what clipmatch's vit encoder returns."""

    def __init__(self, vit):
        super().__init__()
        self.vit = vit

    def forward(self, pixels):
        patches = self.vit._process_input(pixels)
        cls = self.vit.class_token.expand(patches.shape[0], -1, -1)
        return self.vit.encoder(torch.cat([cls, patches], dim=1))[:, 0]


def vit_b_16_features(seed):
    """torchvision vit_b_16 carrying make_random_weights.py's ViT-B/16 weights (HF names mapped)."""
    hf = make_random_weights.materialise(make_random_weights.vit_layout(), seed)
    vit = torchvision.models.vit_b_16()
    state = {
        "class_token": hf["embeddings.cls_token"],
        "conv_proj.weight": hf["embeddings.patch_embeddings.projection.weight"],
        "conv_proj.bias": hf["embeddings.patch_embeddings.projection.bias"],
        "encoder.pos_embedding": hf["embeddings.position_embeddings"],
        "encoder.ln.weight": hf["layernorm.weight"],
        "encoder.ln.bias": hf["layernorm.bias"],
        "heads.head.weight": vit.heads.head.weight,  # unused by the features
        "heads.head.bias": vit.heads.head.bias,
    }
    for i in range(make_random_weights.LAYERS):
        src, dst = f"encoder.layer.{i}.", f"encoder.layers.encoder_layer_{i}."
        for kind in ("weight", "bias"):
            qkv = [hf[f"{src}attention.attention.{p}.{kind}"] for p in ("query", "key", "value")]
            state[f"{dst}self_attention.in_proj_{kind}"] = torch.cat(qkv)
            state[f"{dst}self_attention.out_proj.{kind}"] = hf[f"{src}attention.output.dense.{kind}"]
            state[f"{dst}ln_1.{kind}"] = hf[f"{src}layernorm_before.{kind}"]
            state[f"{dst}ln_2.{kind}"] = hf[f"{src}layernorm_after.{kind}"]
            state[f"{dst}mlp.0.{kind}"] = hf[f"{src}intermediate.dense.{kind}"]
            state[f"{dst}mlp.3.{kind}"] = hf[f"{src}output.dense.{kind}"]
    vit.load_state_dict(state)
    for module in vit.modules():  # HF ViT's eps (torchvision uses 1e-6); same cost, same features as clipmatch
        if isinstance(module, nn.LayerNorm):
            module.eps = make_random_weights.VIT_CONFIG["layer_norm_eps"]
    return ViTFeatures(vit).eval()


class AddNorm(nn.Module):
    """HF's BertSelfOutput / BertOutput: LayerNorm(dense(h) + residual) (post-norm)."""

    def __init__(self, d_in, d_out, eps):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)
        self.LayerNorm = nn.LayerNorm(d_out, eps=eps)

    def forward(self, h, residual):
        return self.LayerNorm(self.dense(h) + residual)


class BertLayer(nn.Module):
    def __init__(self, d, heads, d_ff, eps):
        super().__init__()
        self.heads = heads
        # Submodule names follow transformers' BertLayer, so the HF state dict loads as is.
        self.attention = nn.Module()
        self.attention.self = nn.ModuleDict({p: nn.Linear(d, d) for p in ("query", "key", "value")})
        self.attention.output = AddNorm(d, d, eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(d, d_ff)
        self.output = AddNorm(d_ff, d, eps)

    def forward(self, h, additive_mask):
        b, length, d = h.shape
        split = lambda x: x.view(b, length, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = (split(self.attention.self[p](h)) for p in ("query", "key", "value"))
        scores = q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5 + additive_mask
        context = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, length, d)
        h = self.attention.output(context, h)
        return self.output(F.gelu(self.intermediate.dense(h)), h)


class BertEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        d = config["hidden_size"]
        self.word_embeddings = nn.Embedding(config["vocab_size"], d)
        self.position_embeddings = nn.Embedding(config["max_position_embeddings"], d)
        self.token_type_embeddings = nn.Embedding(config["type_vocab_size"], d)
        self.LayerNorm = nn.LayerNorm(d, eps=config["layer_norm_eps"])

    def forward(self, ids):
        # Single-segment input: every token type is 0, so its embedding is one broadcast row.
        positions = self.position_embeddings.weight[: ids.shape[1]]
        return self.LayerNorm(self.word_embeddings(ids) + positions + self.token_type_embeddings.weight[0])


class Bert(nn.Module):
    """transformers' BertModel (post-norm, erf GELU) in plain torch; returns the final [CLS] hidden state."""

    def __init__(self, config):
        super().__init__()
        self.embeddings = BertEmbeddings(config)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(
            BertLayer(config["hidden_size"], config["num_attention_heads"], config["intermediate_size"],
                      config["layer_norm_eps"])
            for _ in range(config["num_hidden_layers"]))

    def forward(self, ids, attention_mask):
        h = self.embeddings(ids)
        # HF's extended mask: 0 for real tokens, the dtype's minimum for padding.
        additive_mask = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for layer in self.encoder.layer:
            h = layer(h, additive_mask)
        return h[:, 0]


class NestedBert(nn.Module):
    """The same BERT on nn.TransformerEncoder, whose fast path packs the batch as a nested tensor and so
    skips the padding (eval, no grad, src_key_padding_mask given)."""

    def __init__(self, bert, config):
        super().__init__()
        self.embeddings = copy.deepcopy(bert.embeddings)  # own copy: .to(bf16) must not touch the base model
        d = config["hidden_size"]
        layer = nn.TransformerEncoderLayer(d, config["num_attention_heads"], config["intermediate_size"], dropout=0.0,
                                           activation="gelu", layer_norm_eps=config["layer_norm_eps"],
                                           batch_first=True, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, config["num_hidden_layers"], enable_nested_tensor=True)
        for src, dst in zip(bert.encoder.layer, self.encoder.layers):
            qkv = [src.attention.self[p] for p in ("query", "key", "value")]
            with torch.no_grad():
                dst.self_attn.in_proj_weight.copy_(torch.cat([m.weight for m in qkv]))
                dst.self_attn.in_proj_bias.copy_(torch.cat([m.bias for m in qkv]))
            dst.self_attn.out_proj.load_state_dict(src.attention.output.dense.state_dict())
            dst.norm1.load_state_dict(src.attention.output.LayerNorm.state_dict())
            dst.linear1.load_state_dict(src.intermediate.dense.state_dict())
            dst.linear2.load_state_dict(src.output.dense.state_dict())
            dst.norm2.load_state_dict(src.output.LayerNorm.state_dict())

    def forward(self, ids, attention_mask):
        return self.encoder(self.embeddings(ids), src_key_padding_mask=attention_mask == 0)[:, 0]


def bert_base(seed):
    config = make_random_weights.BERT_CONFIG
    bert = Bert(config)
    state = make_random_weights.materialise(make_random_weights.bert_layout(), seed)
    state["embeddings.word_embeddings.weight"][config["pad_token_id"]].zero_()
    # The pooler is part of the checkpoint but not of the [CLS] feature clipmatch returns.
    bert.load_state_dict({k: v for k, v in state.items() if not k.startswith("pooler.")})
    return bert.eval()


# ------------------------------------------------------------------------------------------- variants


class Variant:
    """A way to run a row's model: `build(base_model, example_input) -> callable`, plus the input it takes."""

    def __init__(self, name, build, dtype=torch.float32, channels_last=False, length_sorted=False):
        self.name, self.build, self.dtype = name, build, dtype
        self.channels_last, self.length_sorted = channels_last, length_sorted


def as_dtype(dtype):
    return lambda model, example: copy.deepcopy(model).to(dtype)


def as_channels_last(dtype):
    return lambda model, example: copy.deepcopy(model).to(dtype=dtype, memory_format=torch.channels_last)


def int8_dynamic(model, example):
    return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def jit_frozen(dtype, channels_last=False, optimize=False):
    def build(model, example):
        model = copy.deepcopy(model).to(dtype)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        with torch.no_grad():
            frozen = torch.jit.freeze(torch.jit.trace(model, example))
            if optimize:
                frozen = torch.jit.optimize_for_inference(frozen)
            # TorchScript's profiling executor runs a frozen conv net several times slower for its first
            # ~3 calls while it profiles and optimises; those calls are set-up, not steady-state speed.
            for _ in range(JIT_WARMUP_CALLS):
                frozen(*example)
        return frozen

    return build


def nested_encoder(dtype):
    return lambda model, example: NestedBert(model, make_random_weights.BERT_CONFIG).to(dtype).eval()


def image_variants(cnn):
    bf16 = torch.bfloat16
    variants = [Variant("eager_fp32", lambda model, example: model), Variant("eager_bf16", as_dtype(bf16), bf16)]
    if cnn:
        variants += [
            Variant("eager_fp32_channels_last", as_channels_last(torch.float32), channels_last=True),
            Variant("eager_bf16_channels_last", as_channels_last(bf16), bf16, channels_last=True),
            Variant("jit_frozen_fp32", jit_frozen(torch.float32)),
            Variant("jit_frozen_fp32_channels_last", jit_frozen(torch.float32, channels_last=True),
                    channels_last=True),
            Variant("jit_frozen_bf16_channels_last", jit_frozen(bf16, channels_last=True), bf16, channels_last=True),
            Variant("jit_frozen_fp32_optimize_for_inference", jit_frozen(torch.float32, optimize=True)),
        ]
    else:
        variants += [
            Variant("int8_dynamic", int8_dynamic),
            Variant("jit_frozen_fp32", jit_frozen(torch.float32)),
            Variant("jit_frozen_bf16", jit_frozen(bf16), bf16),
        ]
    return variants


def bert_variants():
    bf16 = torch.bfloat16
    return [
        Variant("eager_fp32", lambda model, example: model),
        Variant("eager_bf16", as_dtype(bf16), bf16),
        Variant("int8_dynamic", int8_dynamic),
        Variant("jit_frozen_fp32", jit_frozen(torch.float32)),
        Variant("jit_frozen_bf16", jit_frozen(bf16), bf16),
        Variant("nested_encoder_fp32", nested_encoder(torch.float32)),
        Variant("nested_encoder_bf16", nested_encoder(bf16), bf16),
        Variant("eager_bf16+length_sorted", as_dtype(bf16), bf16, length_sorted=True),
        Variant("int8_dynamic+length_sorted", int8_dynamic, length_sorted=True),
    ]


def selected(variants, args):
    """The variants --variants names (all without it)."""
    if not args.variants:
        return variants
    wanted = set(args.variants.split(","))
    return [v for v in variants if v.name in wanted]


# --------------------------------------------------------------------------------------------- timing


def best_time(repeat, run):
    """Best wall time of `repeat` calls of `run` (the caller has already warmed it up)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def compare(features, reference):
    features, reference = features.float(), reference.float()
    return {
        "max_abs_diff_vs_eager_fp32": round((features - reference).abs().max().item(), 6),
        "min_cosine_vs_eager_fp32": round(F.cosine_similarity(features, reference, dim=1).min().item(), 6),
    }


class VariantRecorder:
    """Records each variant's figures in row["variants"] with its deviation from the first variant's features
    (eager fp32); a variant that fails on this machine is recorded with its error, not dropped."""

    def __init__(self, row, tag):
        self.row, self.tag, self.reference = row, tag, None

    def record(self, name, measure):
        log(f"[{self.tag}] {name}")
        try:
            features, result = measure()
            self.reference = features if self.reference is None else self.reference
            result.update(compare(features, self.reference))
        except Exception as e:  # noqa: BLE001 -- every variant is reported, including those that cannot run here
            result = {"error": error_text(e)}
        self.row["variants"][name] = result
        log(f"[{self.tag}] {name}: {result}")


def fastest(variants, key):
    timed = {name: r[key] for name, r in variants.items() if key in r}
    if not timed:
        return None
    name = max(timed, key=timed.get)
    return {"variant": name, "value": timed[name]}


def image_row(name, model, weights, paths, args):
    cnn = name == "mobilenet_v2"
    batches = [paths[i: i + args.batch] for i in range(0, len(paths), args.batch)]
    sizes = collections.Counter()
    for path in paths:
        with Image.open(path) as image:
            sizes[f"{image.width}x{image.height}"] += 1
    decoded = [decode_batch(b) for b in batches]
    decode_s = best_time(args.repeat, lambda: [decode_batch(b) for b in batches])
    row = {
        "model": ("torchvision mobilenet_v2 features + global average pool -> 1280-d" if cnn else
                  "torchvision vit_b_16 (HF ViT-B/16 weights, LayerNorm eps 1e-12) -> final-LayerNorm [CLS], 768-d"),
        "weights": weights,
        "items": len(paths),
        "batch": args.batch,
        "unit": "img/s",
        "poster_sizes": dict(sizes.most_common()),
        "preprocessing": "PIL decode -> RGB -> PIL bilinear resize to 224x224 (no crop) -> x/255 -> (x-0.5)/0.5",
        "timed_end_to_end": "JPEG file -> PIL decode + resize -> normalise -> model -> features (main process)",
        "timed_from_tensors": "preprocessed pixel tensors (variant's dtype and layout) -> model -> features",
        "decode_and_resize_only_img_per_s": round(len(paths) / decode_s, 2),
        "variants": {},
    }
    if not cnn:
        row["not_included"] = ("channels-last variants (the only convolution is the patch embedding); "
                               "nested tensors (no padding in ViT)")
    recorder = VariantRecorder(row, name)
    for variant in selected(image_variants(cnn), args):
        def measure(variant=variant):
            inputs = [normalise(u8, variant.dtype, variant.channels_last) for u8 in decoded]
            fn = variant.build(model, (inputs[0],))

            def end_to_end():
                return torch.cat([fn(normalise(decode_batch(b), variant.dtype, variant.channels_last))
                                  for b in batches])

            with torch.no_grad():
                features = end_to_end()  # the warm-up pass, also the features checked against eager fp32
                e2e_s = best_time(args.repeat, end_to_end)
                tensors_s = best_time(args.repeat, lambda: [fn(x) for x in inputs])
            return features, {"end_to_end": round(len(paths) / e2e_s, 2),
                              "from_tensors": round(len(paths) / tensors_s, 2)}

        recorder.record(variant.name, measure)
    if cnn:
        row["variants"]["int8_dynamic"] = {
            "not_applicable": "quantize_dynamic only replaces nn.Linear; MobileNetV2 features have none"}
    row["fastest"] = fastest(row["variants"], "end_to_end")
    row["fastest_from_tensors"] = fastest(row["variants"], "from_tensors")
    return row


def pad(sequences):
    length = max(len(s) for s in sequences)
    ids = torch.zeros(len(sequences), length, dtype=torch.long)
    mask = torch.zeros(len(sequences), length, dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


def length_stats(lengths):
    return {"count": len(lengths), "mean": round(statistics.mean(lengths), 2),
            "median": statistics.median(lengths), "min": min(lengths), "max": max(lengths)}


def bert_row(model, tokenizer, intros, all_intros, args):
    ids = [tokenizer.encode(t) for t in intros]
    token_s = best_time(args.repeat, lambda: [tokenizer.encode(t) for t in intros])
    untruncated = [len(tokenizer.encode(t, truncate=False)) for t in all_intros]
    lengths = [len(s) for s in ids]
    file_order = [ids[i: i + args.batch] for i in range(0, len(ids), args.batch)]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    by_length = [order[i: i + args.batch] for i in range(0, len(order), args.batch)]
    padded = sum(len(b) * max(len(s) for s in b) for b in file_order)
    row = {
        "model": ("BERT-base (HF BertModel equivalent, post-norm, erf GELU) -> final [CLS] hidden state, "
                  "768-d, no pooler"),
        "weights": f"random, make_random_weights.py --kind bert-base --seed {args.seed}",
        "items": len(ids),
        "batch": args.batch,
        "unit": "seq/s",
        "tokens": {
            "timed_intros": length_stats(lengths),
            "all_intros": {**length_stats([min(n, MAX_TOKENS) for n in untruncated]),
                           "truncated_to_128": sum(n > MAX_TOKENS for n in untruncated),
                           "max_before_truncation": max(untruncated)},
            "real_token_fraction_padded_in_file_order": round(sum(lengths) / padded, 3),
        },
        "timed": "token ids -> pad to the batch's longest (+ attention mask) -> model -> [CLS] features",
        "tokenization_seq_per_s": round(len(intros) / token_s, 1),
        "tokenization_note": "pure-Python WordPiece (no HF tokenizers here), not included in the timed figures",
        "variants": {},
    }
    recorder = VariantRecorder(row, "bert")
    for variant in selected(bert_variants(), args):
        def measure(variant=variant):
            fn = variant.build(model, pad(file_order[0]))

            def encode():
                if not variant.length_sorted:
                    return torch.cat([fn(*pad(b)) for b in file_order])
                features = torch.empty(len(ids), make_random_weights.HIDDEN, dtype=variant.dtype)
                for b in by_length:
                    features[b] = fn(*pad([ids[i] for i in b]))
                return features

            with torch.no_grad():
                features = encode()  # the warm-up pass, also the features checked against eager fp32
                seconds = best_time(args.repeat, encode)
            return features, {"value": round(len(ids) / seconds, 2)}

        recorder.record(variant.name, measure)
    row["fastest"] = fastest(row["variants"], "value")
    return row


# ----------------------------------------------------------------------------------------------- main


def pin_openblas_threads(threads):
    """Debian's torch does fp32 GEMMs in OpenBLAS, whose own thread pool torch.set_num_threads does not
    size (it starts with one thread per core); returns {library, threads} or None when OpenBLAS is absent."""
    with open("/proc/self/maps") as f:
        libraries = sorted({line.split()[-1] for line in f if "openblas" in line and line.split()[-1].startswith("/")})
    for path in libraries:
        library = ctypes.CDLL(path)
        if hasattr(library, "openblas_set_num_threads"):
            library.openblas_set_num_threads(threads)
            return {"library": path, "threads": library.openblas_get_num_threads()}
    return None


def cpu_info():
    model, flags = "unknown", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = value.split()
    except OSError:
        pass
    relevant = [f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "fma")]
    return {"model": model, "logical_cpus": os.cpu_count(), "flags": relevant}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join(SHARED, "data", "ml100k-tmdb"),
                        help="dataset folder with movies.csv and posters/ (default: $CLIPMATCH_SHARED or ../shared)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", default="mobilenet_v2,vit,bert", help="comma-separated subset of rows")
    parser.add_argument("--limit", type=int, help="items per row (default: 256 mobilenet_v2, 64 vit, 128 bert)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes after the warm-up pass; best is kept")
    parser.add_argument("--mobilenet", default=os.path.join(SHARED, "weights", "mobilenet_v2_imagenet"))
    parser.add_argument("--vocab", default=os.path.join(SHARED, "vocab", "bert-base-uncased-vocab.txt"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the ViT/BERT random weights")
    parser.add_argument("--json", help="also write the result to this file")
    parser.add_argument("--variants", help="comma-separated subset of variants to time (default: all); deviations are then "
                        "measured against the first of them")
    args = parser.parse_args()
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = set(rows) - set(DEFAULT_LIMITS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))} (choose from {', '.join(DEFAULT_LIMITS)})")

    # Interop threads must be fixed before any parallel work; intra-op threads are the compared budget.
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    openblas = pin_openblas_threads(args.threads)
    torch.backends.quantized.engine = "onednn"  # Debian's torch has no fbgemm
    torch.manual_seed(args.seed)

    result = {
        "peer": "pytorch",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "pillow": PIL.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "openblas": openblas,
        "quantized_engine": torch.backends.quantized.engine,
        "cpu": cpu_info(),
        "protocol": f"one warm-up pass, then the best of {args.repeat} timed passes; eval + torch.no_grad",
        "rows": {},
    }
    for name in rows:
        movies = read_movies(args.data, args.limit or DEFAULT_LIMITS[name])
        if name == "bert":
            all_intros = [m["intro"] for m in read_movies(args.data, None)]
            tokenizer = WordPiece(args.vocab)
            row = bert_row(bert_base(args.seed), tokenizer, [m["intro"] for m in movies], all_intros, args)
        else:
            paths = [os.path.join(args.data, m["poster"]) for m in movies]
            if name == "mobilenet_v2":
                model, weights = mobilenet_v2_features(args.mobilenet)
            else:
                model = vit_b_16_features(args.seed)
                weights = f"random, make_random_weights.py --kind vit-base --seed {args.seed}"
            row = image_row(name, model, weights, paths, args)
        result["rows"][name] = row

    text = json.dumps(result, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
