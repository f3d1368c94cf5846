#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (standard library only), and one hand-made regression.

The committed seeds were made by this script plus fuzz/seeds/make_jpeg_seeds.c (JPEG needs libjpeg):
    python3 fuzz/seeds/make_seeds.py
    cc fuzz/seeds/make_jpeg_seeds.c -ljpeg -o /tmp/make_jpeg_seeds && /tmp/make_jpeg_seeds fuzz/corpus/image
Seeds are small valid (or nearly valid) inputs of each format; the fuzzer mutates them.
"""
import json
import os
import struct
import sys
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")


def put(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def put_regression(target, name, data):
    folder = os.path.join(ROOT, "..", "regressions", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# --- safetensors ------------------------------------------------------------------------------------------
def safetensors(tensors, metadata=None, pad=True):
    header = {}
    buffer = b""
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(buffer), len(buffer) + len(data)]}
        buffer += data
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + buffer


def make_safetensors():
    t = "safetensors"
    put(t, "empty_object", safetensors([]))
    put(t, "metadata_only", safetensors([], {"format": "pt", "clipmatch.config": "{\"embed_dim\":128}"}))
    put(t, "f32_2x2", safetensors([("w", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4))]))
    put(t, "several_dtypes", safetensors([
        ("a.bias", "F16", [3], b"\x00\x3c" * 3),
        ("a.weight", "BF16", [2, 1], b"\x80\x3f" * 2),
        ("b", "I64", [1], struct.pack("<q", -5)),
        ("c", "U8", [4], b"\x01\x02\x03\x04"),
        ("d", "BOOL", [2], b"\x00\x01"),
        ("e", "F8_E4M3", [1], b"\x38"),
    ], {"format": "pt"}))
    put(t, "zero_size_and_scalar", safetensors([
        ("empty", "F32", [0, 5], b""),
        ("scalar", "F64", [], struct.pack("<d", 3.5)),
    ]))
    put(t, "unpadded_header", safetensors([("x", "I32", [2], struct.pack("<2i", 7, 8))], pad=False))
    put(t, "tokenizer_blob", safetensors([("tokenizer.model", "U8", [5], b"hello")],
                                         {"clipmatch.image_encoder_stored": "1"}))


# --- .npy -------------------------------------------------------------------------------------------------
def npy(descr, shape, data, version=1, quote="'", fortran="False", extra_space=True):
    dims = ", ".join(str(d) for d in shape)
    if len(shape) == 1:
        dims += ","
    q = quote
    header = "{%sdescr%s: %s%s%s, %sfortran_order%s: %s, %sshape%s: (%s), }" % (
        q, q, q, descr, q, q, q, fortran, q, q, dims)
    prefix = 6 + 2 + (2 if version == 1 else 4)
    total = prefix + len(header) + 1
    if extra_space:
        header += " " * ((64 - total % 64) % 64)
    header += "\n"
    length = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode("latin1") + data


def make_npy():
    t = "npy"
    put(t, "f4_2x3", npy("<f4", [2, 3], struct.pack("<6f", *range(6))))
    put(t, "i8_3", npy("<i8", [3], struct.pack("<3q", 1, -2, 3)))
    put(t, "f4_scalar", npy("<f4", [], struct.pack("<f", 1.5)))
    put(t, "f4_0x4", npy("<f4", [0, 4], b""))
    put(t, "v2_f4_1x1", npy("<f4", [1, 1], struct.pack("<f", 2.0), version=2))
    put(t, "v3_i8_2x1x1", npy("<i8", [2, 1, 1], struct.pack("<2q", 9, 10), version=3))
    put(t, "double_quotes", npy("<f4", [1, 2], struct.pack("<2f", 0, 1), quote='"'))
    put(t, "fortran_true", npy("<f4", [1], struct.pack("<f", 0), fortran="True"))
    put(t, "unsupported_f8", npy("<f8", [1], struct.pack("<d", 0)))
    put(t, "python2_long", b"\x93NUMPY\x01\x00" + struct.pack("<H", 70) +
        b"{'descr': '<i8', 'fortran_order': False, 'shape': (1L, 2L), }".ljust(69) + b"\n" +
        struct.pack("<2q", 1, 2))


# --- dataset (movies.csv NUL train.txt) -------------------------------------------------------------------
def make_dataset():
    t = "dataset"
    basic = ("movie_id,title,year,genres,poster,intro\r\n"
             "1,Toy Story (1995),1995,Animation|Children|Comedy,posters/1.jpg,\"Led by Woody, Andy's toys live "
             "happily.\"\r\n"
             "2,GoldenEye (1995),1995,Action|Adventure,posters/2.jpg,James Bond must unmask the head of Janus.\r\n"
             "3,\"Four Rooms, The\",,Comedy,posters/3.jpg,\"Four \"\"rooms\"\",\nfour stories\"\r\n")
    put(t, "basic_with_split", basic + "\x00" + "0\n2\n")
    put(t, "basic_no_split", basic)
    put(t, "minimal_columns", "poster,intro\n/abs/p.png,text\nrel/q.png,other text\n\x00\ufeff 1 \r\n\r\n0\n")
    put(t, "bom_reordered_extra", "\ufeffintro,extra,poster,year\n\"multi\rline\",x,a.jpg, 1999 \n"
        "second,,b.jpg,\n\x00 1\n")
    put(t, "bad_rows", "poster,intro,year\na.jpg,ok,2000\n,empty poster,1\nb.jpg,,2\nc.jpg,bad year,19x9\n"
        "d.jpg,too,many,fields\n\x00" "0\n1\n4\n3\n")
    put(t, "lone_cr_and_empty_lines", "poster,intro\r\ra.jpg,x\r\r\rb.jpg,\"y\"\r\x00" "1\r\n\t0 ")
    put(t, "duplicate_columns", "poster,intro,poster\na,b,c\n")
    put(t, "split_errors", "poster,intro\na,b\n\x00" "0\n0\n-1\n99\nx\n")


# --- text for the tokenizers ------------------------------------------------------------------------------
TEXTS = {
    "synopsis": "Led by Woody, Andy's toys live happily in his room until Andy's birthday brings Buzz Lightyear "
                "onto the scene. Afraid of losing his place in Andy's heart, Woody plots against Buzz.",
    "accents": "Amélie, a naïve café waitress in Paris, über-shy, decides to change lives — straße Ǆemal ǅ ǆ.",
    "cjk": "東京物語 (Tokyo Story, 1953): 老夫婦が子供たちを訪ねる。한국 영화 「映画」",
    "mixed_scripts": "Ωmega man vs. Дракула: the 2001 space odyssey… ¡Hola! ¿Qué? «quote» “smart” ‘single’",
    "html_entities": "Tom &amp; Jerry &lt;3 &#39;cartoon&#39; &eacute;t&eacute; &#x1F600; &copy &notit; &#0; "
                     "&#150; &amp;amp; &#9999999999;",
    "contractions": "I'm sure you'll say they've won't DON'T It'S We'RE he'd <|startoftext|>x<|endoftext|>",
    "whitespace_controls": " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0 a\u2028b\u3000c\u200bd\ufeffe\x00f\x7f ",
    "emoji_combining": "e\u0301 a\u0308 \U0001F3AC\U0001F37F 👨‍👩‍👧 ﬁlm İstanbul ǰ ß ΐ",
    "long_word": "supercalifragilisticexpialidocious" * 3 + " antidisestablishmentarianism",
    "numbers_punct": "1995 3.14 $100 50% a+b=c (x) [y] {z} <w> ~`^|\\ --- ... !!! ???",
}


def make_text(target):
    for name, text in TEXTS.items():
        put(target, name, text)
    put(target, "invalid_utf8", b"caf\xc3 \xe9t\xe9 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf \xff\xfe ok \xe2\x82")


# --- tokenizer vocabulary files (vocab.json NUL merges.txt, or a BERT vocab.txt) -------------------------------
def gpt2_byte_symbols():
    direct = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table = {}
    n = 0
    for b in range(256):
        if b in direct:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    order = direct + [b for b in range(256) if b not in direct]
    return table, order


def make_tokenizer_files():
    t = "tokenizer_files"
    table, order = gpt2_byte_symbols()
    tokens = [table[b] for b in order] + [table[b] + "</w>" for b in order]
    merges = [("t", "h"), ("th", "e</w>"), ("i", "n"), ("in", "g</w>"), ("a", "n"), ("an", "d</w>"),
              ("l", "o"), ("lo", "v"), ("lov", "e</w>"), ("\u00c3", "\u00a9</w>")]
    merges = [(a.encode().decode("unicode_escape"), b.encode().decode("unicode_escape")) for a, b in merges]
    tokens += [a + b for a, b in merges] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    merges_txt = "#version: 0.2\n" + "".join("%s %s\n" % m for m in merges)
    put(t, "clip_small", json.dumps(vocab, ensure_ascii=False) + "\x00" + merges_txt)
    put(t, "clip_small_crlf_ascii", json.dumps(vocab) + "\x00" + merges_txt.replace("\n", "\r\n"))
    put(t, "bert_vocab", "[PAD]\n[unused0]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n" +
        "".join(c + "\n" for c in "abcdefghijklmnopqrstuvwxyz0123456789.,'!&;") +
        "the\nlove\nstory\nyoung\nman\ncafé\n##s\n##ing\n##é\n 1995 \t\r\n\n東\n京\n")


# --- checkpoint metadata JSON -----------------------------------------------------------------------------
def make_json():
    t = "checkpoint_json"
    put(t, "pp_vit", '{"size":224,"filter":"bilinear","mode":"stretch","resize_to":224,"mean":[0.5,0.5,0.5],'
                     '"std":[0.5,0.5,0.5],"scale":0.00392156862745098}')
    put(t, "pp_clip", '{"size":224,"filter":"bicubic","mode":"shorter_side_then_center_crop","resize_to":224,'
                      '"mean":[0.48145466,0.4578275,0.40821073],"std":[0.26862954,0.26130258,0.27577711],'
                      '"scale":0.00392156862745098}')
    put(t, "pp_no_resize_to", '{"size":64,"filter":"bilinear","mode":"stretch","mean":[0,0,0],"std":[1,1,1],'
                              '"scale":1}')
    put(t, "config_default", '{"image_encoder":"tiny_cnn","text_encoder":"tiny_text","embed_dim":128,'
                             '"head":"linear","mlp_hidden":512,"temperature":"clip","max_text_tokens":0,'
                             '"use_pretrained_projection":false,"seed":0}')
    put(t, "config_pretrained", '{"image_encoder":"vit:/w/vit-base","text_encoder":"bert:/w/bert","embed_dim":256,'
                                '"head":"mlp","mlp_hidden":1024,"temperature":"course","max_text_tokens":128,'
                                '"use_pretrained_projection":true,"seed":18446744073709551615}')
    put(t, "config_clip", '{"image_encoder":"clip:C:/x:y","text_encoder":"clip:C:/x:y","embed_dim":512,'
                          '"head":"linear","mlp_hidden":0,"temperature":"clip","max_text_tokens":77,'
                          '"use_pretrained_projection":true,"seed":42}')


# --- images (formats stb_image reads, except JPEG: see make_jpeg_seeds.c) --------------------------------
def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, color_type, bit_depth, rows, palette=None, trns=None, interlace=0, gamma=False):
    """rows: list of bytes (unfiltered scanlines); for interlace=1, `rows` is the already-interlaced stream."""
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace))
    if gamma:
        out += png_chunk(b"gAMA", struct.pack(">I", 45455))
    if palette:
        out += png_chunk(b"PLTE", palette)
    if trns:
        out += png_chunk(b"tRNS", trns)
    raw = rows if isinstance(rows, bytes) else b"".join(b"\x00" + r for r in rows)
    out += png_chunk(b"IDAT", zlib.compress(raw))
    out += png_chunk(b"IEND", b"")
    return out


def adam7(width, height, channels, pixel):
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    stream = b""
    for x0, y0, dx, dy in passes:
        for y in range(y0, height, dy):
            row = b"".join(pixel(x, y) for x in range(x0, width, dx))
            if row:
                stream += b"\x00" + row
    return stream


def gif(width, height, palette, pixels, min_code_size=2, extension=b""):
    # LZW with a clear code before the table would grow past the code size: simple and valid.
    clear = 1 << min_code_size
    end = clear + 1
    size = min_code_size + 1
    codes = [clear]
    next_code = end + 1
    for p in pixels:
        codes.append(p)
        next_code += 1
        if next_code >= (1 << size) - 1:
            codes.append(clear)
            next_code = end + 1
    codes.append(end)
    bits = 0
    nbits = 0
    data = bytearray()
    for c in codes:
        bits |= c << nbits
        nbits += size
        while nbits >= 8:
            data.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        data.append(bits & 0xFF)
    blocks = b""
    for i in range(0, len(data), 255):
        chunk = bytes(data[i:i + 255])
        blocks += bytes([len(chunk)]) + chunk
    table_bits = (len(palette) // 3).bit_length() - 2
    out = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80 | table_bits, 0, 0) + palette + extension
    out += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + bytes([min_code_size]) + blocks + b"\x00\x3b"
    return out


def bmp24(width, height, pixel):
    row_bytes = (width * 3 + 3) & ~3
    data = b""
    for y in range(height - 1, -1, -1):
        row = b"".join(pixel(x, y) for x in range(width))
        data += row + b"\x00" * (row_bytes - len(row))
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + len(data), 0, 0, 54) + header + data


def bmp8(width, height):
    palette = b"".join(bytes([i * 60 % 256, i * 100 % 256, i * 30 % 256, 0]) for i in range(4))
    row_bytes = (width + 3) & ~3
    data = b"".join(bytes([(x + y) % 4 for x in range(width)]).ljust(row_bytes, b"\x00") for y in range(height))
    header = struct.pack("<IiiHHIIiiII", 40, width, -height, 1, 8, 0, len(data), 0, 0, 4, 0)  # top-down
    offset = 14 + 40 + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + header + palette + data


def bmp32_bitfields(width, height):
    data = b"".join(struct.pack("<I", 0x80FF4020 + x * 16 + y) for y in range(height) for x in range(width))
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 32, 3, len(data), 0, 0, 0, 0)
    masks = struct.pack("<III", 0x00FF0000, 0x0000FF00, 0x000000FF)  # BI_BITFIELDS after a 40-byte header
    offset = 14 + 40 + 12
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + header + masks + data


def tga(width, height, rle=False, bits=24):
    kind = 10 if rle else 2
    header = struct.pack("<BBBHHBHHHHBB", 0, 0, kind, 0, 0, 0, 0, 0, width, height, bits, 0x20 if bits == 32 else 0)
    bpp = bits // 8
    if not rle:
        data = b"".join(bytes([(x * 40) % 256, (y * 70) % 256, 128, 200][:bpp]) for y in range(height)
                        for x in range(width))
    else:
        data = b""
        for y in range(height):
            data += bytes([0x80 | (width - 1)]) + bytes([y * 50 % 256, 10, 20, 255][:bpp])  # one run per row
    return header + data


def psd(width, height, channels=3, rle=False):
    header = b"8BPS" + struct.pack(">H6sHIIHH", 1, b"\x00" * 6, channels, height, width, 8, 3)
    header += struct.pack(">I", 0) + struct.pack(">I", 0) + struct.pack(">I", 0)
    if not rle:
        data = struct.pack(">H", 0) + b"".join(bytes([(c * 80 + i) % 256 for i in range(width * height)])
                                              for c in range(channels))
    else:
        rows = []
        for c in range(channels):
            for y in range(height):
                rows.append(bytes([257 - width, (c * 90 + y) % 256]))  # one repeated run per row
        data = struct.pack(">H", 1) + b"".join(struct.pack(">H", len(r)) for r in rows) + b"".join(rows)
    return header + data


def hdr(width, height):
    head = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\nEXPOSURE=1.0\n\n" + b"-Y %d +X %d\n" % (height, width)
    return head + b"".join(bytes([128, 64 + x * 10, 32 + y * 10, 129]) for y in range(height) for x in range(width))


def hdr_rle(width, height):
    head = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n" + b"-Y %d +X %d\n" % (height, width)
    body = b""
    for y in range(height):
        body += bytes([2, 2, width >> 8, width & 0xFF])
        for c in range(4):
            body += bytes([128 + width, (c * 60 + y) % 256])  # one run covering the row
    return head + body


def make_images():
    t = "image"
    rgb = lambda x, y: bytes([(x * 60) % 256, (y * 60) % 256, ((x + y) * 30) % 256])
    put(t, "png_rgb_4x3.png", png(4, 3, 2, 8, [b"".join(rgb(x, y) for x in range(4)) for y in range(3)], gamma=True))
    put(t, "png_rgba_3x3.png", png(3, 3, 6, 8, [b"".join(rgb(x, y) + bytes([x * 120]) for x in range(3))
                                                for y in range(3)]))
    put(t, "png_gray_5x2.png", png(5, 2, 0, 8, [bytes(range(y * 5, y * 5 + 5)) for y in range(2)]))
    put(t, "png_gray_alpha_2x2.png", png(2, 2, 4, 8, [b"\x10\xff\x80\x00", b"\xff\x40\x00\x80"]))
    put(t, "png_palette_trns_4x2.png", png(4, 2, 3, 2, [b"\x1b", b"\xe4"], palette=b"\xff\x00\x00\x00\xff\x00"
                                                        b"\x00\x00\xff\xff\xff\xff", trns=b"\x80\xff"))
    put(t, "png_rgb16_2x2.png", png(2, 2, 2, 16, [b"\xff\xff\x00\x00\x80\x00" * 2, b"\x00\x10\x20\x30\x40\x50" * 2]))
    put(t, "png_gray1_9x2.png", png(9, 2, 0, 1, [b"\xaa\x80", b"\x55\x00"]))
    put(t, "png_interlaced_9x9.png", png(9, 9, 2, 8, adam7(9, 9, 3, rgb), interlace=1))
    put(t, "gif_1x1_transparent.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01"
                                      b"\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
    put(t, "gif_4x4.gif", gif(4, 4, b"\x00\x00\x00\xff\x00\x00\x00\xff\x00\x00\x00\xff",
                              [(x + y) % 4 for y in range(4) for x in range(4)],
                              extension=b"\x21\xf9\x04\x01\x0a\x00\x02\x00"))
    put(t, "bmp24_3x2.bmp", bmp24(3, 2, rgb))
    put(t, "bmp8_topdown_5x3.bmp", bmp8(5, 3))
    put(t, "bmp32_bitfields_2x2.bmp", bmp32_bitfields(2, 2))
    put(t, "tga24_3x2.tga", tga(3, 2))
    put(t, "tga32_rle_4x2.tga", tga(4, 2, rle=True, bits=32))
    put(t, "ppm_p6_2x2.ppm", b"P6\n# comment\n2 2\n255\n" + bytes(range(0, 240, 20)))
    put(t, "pgm_p5_3x1.pgm", b"P5 3 1 255 \x00\x80\xff")
    put(t, "psd_raw_2x2.psd", psd(2, 2))
    put(t, "psd_rle_rgb_3x2.psd", psd(3, 2, channels=3, rle=True))
    # An ordinary RGBA PSD: stb_image 2.27's un-premultiply step has float→uchar UB on it (docs/fuzzing.md).
    put_regression(t, "stb-psd-rgba-unpremultiply-float-cast-ub.psd", psd(3, 2, channels=4, rle=True))
    put(t, "hdr_flat_2x2.hdr", hdr(2, 2))
    put(t, "hdr_rle_8x2.hdr", hdr_rle(8, 2))


def main():
    make_safetensors()
    make_npy()
    make_dataset()
    make_text("wordpiece")
    make_text("clip_bpe")
    make_json()
    make_tokenizer_files()
    make_images()
    return 0


if __name__ == "__main__":
    sys.exit(main())
