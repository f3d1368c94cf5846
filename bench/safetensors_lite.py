"""Minimal safetensors reader/writer for the benchmark scripts.

The `safetensors` package is not installed on the benchmark machines (and PyPI is out of reach), so the
format is handled by hand: an 8-byte little-endian header length, a JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}} padded with spaces to a multiple of 8 bytes,
then the raw little-endian tensor bytes.
"""
import json
import struct

import torch

_DTYPES = {
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "U8": torch.uint8,
}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}


def read(path):
    """Returns {name: tensor} (copies, so the file can be closed); metadata is ignored."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def write(path, tensors):
    """Writes {name: tensor} in name order; tensors are made contiguous and stored in their own dtype.

    Streams tensor by tensor, so a 440 MB checkpoint does not need a second in-memory copy.
    """
    names = sorted(tensors)
    header = {}
    offset = 0
    for name in names:
        t = tensors[name]
        size = t.numel() * t.element_size()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for name in names:
            # numpy's tobytes is native order; every machine we target is little-endian, as the format requires.
            f.write(tensors[name].detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
