#!/usr/bin/python3
"""Writes the bad-and-unusual-inputs corpus: one dataset folder per case.

    make_cases.py OUT_DIR [--clipmatch BINARY | --base DATASET_DIR]

Every case folder is a copy of one small synthetic dataset (12 movies, 32x48 posters) with one change, plus

  case.json  {"name", "expect": "accept"|"refuse", "names": [...], "train_args": {...}, "what": "..."}
  cases.txt  (in OUT_DIR) the case names, one per line, for the C runner.
  case.txt   the same for C: "expect=accept|refuse", one "name=..." line per entry of "names", one
             "KEY=VALUE" line per train argument (batch_size, epochs, learning_rate, device).

"names" are the substrings a refusal's message must contain (the file, row or field a user needs to find the
culprit). "train_args" override the runners' defaults (epochs 1, batch size 8, device cpu).

The base dataset comes from `--base DIR` (copied), else from `clipmatch synthesize-dataset` (`--clipmatch BINARY`,
default $CLIPMATCH_BINARY or the repository's build/clipmatch), else from the Python module's
clipmatch.synthesize_dataset. Needs Pillow (python3-pil) and NumPy.
"""

import argparse
import csv
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

N_MOVIES = 12          # rows in the base dataset
POSTER_W, POSTER_H = 32, 48
VICTIM = 2             # zero-based data row whose poster / intro a case changes (physical line 4 of movies.csv)
VICTIM_LINE = VICTIM + 2


# --- base dataset ------------------------------------------------------------------------------------------


def synthesize_base(folder, binary=None):
    if binary:
        subprocess.run([binary, "synthesize-dataset", "--out", folder, "--n", str(N_MOVIES), "--seed", "1",
                        "--size", "%dx%d" % (POSTER_W, POSTER_H)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return
    import clipmatch  # noqa: E402  (only when no binary is available)
    clipmatch.synthesize_dataset(folder, N_MOVIES, 1, width=POSTER_W, height=POSTER_H)


def read_rows(folder):
    with open(os.path.join(folder, "movies.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_rows(folder, header, rows, lineterminator="\n", bom=False):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=lineterminator)
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    if bom:
        data = b"\xef\xbb\xbf" + data
    with open(os.path.join(folder, "movies.csv"), "wb") as f:
        f.write(data)


def poster_of(folder, row):
    header, rows = read_rows(folder)
    return rows[row][header.index("poster")]


def set_poster(folder, row, rel):
    header, rows = read_rows(folder)
    old = rows[row][header.index("poster")]
    rows[row][header.index("poster")] = rel
    write_rows(folder, header, rows)
    old_path = os.path.join(folder, old)
    if old != rel and os.path.isfile(old_path):
        os.remove(old_path)


def source_image(folder, row=VICTIM):
    with Image.open(os.path.join(folder, poster_of(folder, row))) as im:
        return im.convert("RGB")


# --- image writers -----------------------------------------------------------------------------------------


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16_rgb(rgb8, path):
    """A 16-bit-per-channel RGB PNG (colour type 2, bit depth 16); Pillow cannot write these itself."""
    a = np.asarray(rgb8, dtype=np.uint16) * 257
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(data)


def jpeg_with_size(path, width, height):
    """Rewrites the frame header (SOF0..SOF2) of a JPEG so that it claims width x height."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError("not a marker at %d" % i)
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", data, i + 5, height, width)
            with open(path, "wb") as f:
                f.write(data)
            return
        i += 2 + length
    raise ValueError("no SOF marker in " + path)


# --- the cases ---------------------------------------------------------------------------------------------
# Each function changes the copied dataset folder `d` and returns (expect, names, train_args, what).

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def replace_victim_image(d, save, ext):
    img = source_image(d)
    rel = "posters/unusual%s" % ext
    save(img, os.path.join(d, rel))
    set_poster(d, VICTIM, rel)
    return rel


@case
def accept_cmyk_jpeg(d):
    replace_victim_image(d, lambda im, p: im.convert("CMYK").save(p, "JPEG", quality=90), ".jpg")
    return "accept", [], {}, "a poster saved as a CMYK JPEG (Adobe APP14 marker, 4 components)"


@case
def accept_grayscale_jpeg(d):
    replace_victim_image(d, lambda im, p: im.convert("L").save(p, "JPEG", quality=90), ".jpg")
    return "accept", [], {}, "a one-channel (grayscale) JPEG poster"


@case
def accept_progressive_jpeg(d):
    replace_victim_image(d, lambda im, p: im.save(p, "JPEG", quality=90, progressive=True), ".jpg")
    return "accept", [], {}, "a progressive JPEG poster"


@case
def accept_png_16bit_rgb(d):
    replace_victim_image(d, write_png16_rgb, ".png")
    return "accept", [], {}, "a 16-bit-per-channel RGB PNG poster"


@case
def accept_png_16bit_gray(d):
    def save(im, p):
        g = (np.asarray(im.convert("L"), dtype=np.uint16) * 257)
        Image.fromarray(g.astype(np.uint16), mode="I;16").save(p, "PNG")
    replace_victim_image(d, save, ".png")
    return "accept", [], {}, "a 16-bit grayscale PNG poster"


@case
def accept_png_alpha(d):
    def save(im, p):
        rgba = im.convert("RGBA")
        a = np.asarray(rgba).copy()
        a[:, : a.shape[1] // 2, 3] = 0  # left half fully transparent
        a[:, a.shape[1] // 2:, 3] = 128
        Image.fromarray(a, "RGBA").save(p, "PNG")
    replace_victim_image(d, save, ".png")
    return "accept", [], {}, "an RGBA PNG poster with transparent and half-transparent pixels"


@case
def accept_png_palette(d):
    replace_victim_image(d, lambda im, p: im.convert("P", palette=Image.ADAPTIVE, colors=16).save(p, "PNG"), ".png")
    return "accept", [], {}, "a palette (indexed colour) PNG poster"


@case
def accept_one_pixel_jpeg(d):
    replace_victim_image(d, lambda im, p: im.resize((1, 1)).save(p, "JPEG", quality=90), ".jpg")
    return "accept", [], {}, "a 1x1 JPEG poster"


@case
def accept_one_pixel_png(d):
    replace_victim_image(d, lambda im, p: im.resize((1, 1)).save(p, "PNG"), ".png")
    return "accept", [], {}, "a 1x1 PNG poster"


@case
def accept_extreme_aspect(d):
    replace_victim_image(d, lambda im, p: im.resize((400, 2)).save(p, "PNG"), ".png")
    return "accept", [], {}, "a 400x2 poster (extreme aspect ratio)"


@case
def accept_uppercase_extension(d):
    # a JPEG named .PNG: the decoder must go by content, not by the name
    replace_victim_image(d, lambda im, p: im.save(p, "JPEG", quality=90), ".PNG")
    return "accept", [], {}, "a JPEG file named .PNG (decoded by content)"


@case
def accept_bom_crlf_csv(d):
    header, rows = read_rows(d)
    write_rows(d, header, rows, lineterminator="\r\n", bom=True)
    with open(os.path.join(d, "train.txt"), "rb") as f:
        train = f.read()
    with open(os.path.join(d, "train.txt"), "wb") as f:
        f.write(train.replace(b"\n", b"\r\n"))
    return "accept", [], {}, "movies.csv with a UTF-8 BOM and CRLF line ends (train.txt with CRLF too)"


@case
def accept_quoted_multiline_intro(d):
    header, rows = read_rows(d)
    i = header.index("intro")
    rows[VICTIM][i] = 'A "quoted" intro, with commas,\nand a line break.\r\nAnd unicode: ünïcödé — 映画 🎬'
    write_rows(d, header, rows)
    return "accept", [], {}, "an intro with quotes, commas, embedded CR/LF line breaks and non-ASCII UTF-8"


@case
def accept_columns_reordered_extra(d):
    header, rows = read_rows(d)
    order = [header.index(c) for c in ("intro", "poster", "title")]
    new_header = ["intro", "extra", "poster", "title"]
    new_rows = [[r[order[0]], "ignored", r[order[1]], r[order[2]]] for r in rows]
    write_rows(d, new_header, new_rows)
    return "accept", [], {}, "only intro/poster/title, in another order, plus an unknown column"


@case
def accept_train_whitespace(d):
    with open(os.path.join(d, "train.txt")) as f:
        idx = [l.strip() for l in f if l.strip()]
    with open(os.path.join(d, "train.txt"), "w") as f:
        f.write("\n" + "\n\n".join("  %s\t" % i for i in idx) + "\n\n")
    return "accept", [], {}, "train.txt with blank lines and surrounding whitespace (documented as allowed)"


@case
def accept_no_train_txt(d):
    os.remove(os.path.join(d, "train.txt"))
    return "accept", [], {}, "no train.txt: every movie held out"


@case
def accept_batch_larger_than_dataset(d):
    return "accept", [], {"batch_size": 1000}, "batch size larger than the dataset"


# include/clipmatch/dataset.hpp does not say what a repeated train.txt index does; the library refuses it
# ("train.txt: line 8: row index 0 is listed twice (first on line 1)"), so the corpus encodes a refusal.
@case
def refuse_train_duplicate_index(d):
    n = train_lines(d)
    with open(os.path.join(d, "train.txt"), "a") as f:
        f.write("0\n")
    return "refuse", ["train.txt", "line %d" % (n + 1)], {}, "train.txt lists row 0 twice"


@case
def refuse_poster_is_folder(d):
    rel = poster_of(d, VICTIM)
    os.remove(os.path.join(d, rel))
    os.makedirs(os.path.join(d, rel))
    return "refuse", [os.path.basename(rel), "line %d" % VICTIM_LINE], {}, "the poster path is a folder"


@case
def refuse_missing_poster(d):
    rel = poster_of(d, VICTIM)
    os.remove(os.path.join(d, rel))
    return "refuse", [os.path.basename(rel), "line %d" % VICTIM_LINE], {}, "the poster file does not exist"


@case
def refuse_empty_poster_file(d):
    rel = poster_of(d, VICTIM)
    open(os.path.join(d, rel), "wb").close()
    return "refuse", [os.path.basename(rel)], {}, "the poster file is empty (0 bytes)"


@case
def refuse_missing_movies_csv(d):
    os.remove(os.path.join(d, "movies.csv"))
    return "refuse", ["movies.csv"], {}, "no movies.csv in the folder"


@case
def refuse_missing_intro_column(d):
    header, rows = read_rows(d)
    header[header.index("intro")] = "synopsis"
    write_rows(d, header, rows)
    return "refuse", ["movies.csv", "intro"], {}, "the header has no `intro` column"


@case
def refuse_missing_poster_column(d):
    header, rows = read_rows(d)
    header[header.index("poster")] = "image"
    write_rows(d, header, rows)
    return "refuse", ["movies.csv", "poster"], {}, "the header has no `poster` column"


@case
def refuse_empty_dataset(d):
    header, _ = read_rows(d)
    write_rows(d, header, [])
    os.remove(os.path.join(d, "train.txt"))
    return "refuse", ["movies.csv"], {}, "movies.csv has the header only (no train.txt)"


@case
def refuse_empty_csv_file(d):
    open(os.path.join(d, "movies.csv"), "wb").close()
    os.remove(os.path.join(d, "train.txt"))
    return "refuse", ["movies.csv"], {}, "movies.csv is an empty file (not even a header)"


@case
def refuse_empty_intro(d):
    header, rows = read_rows(d)
    rows[VICTIM][header.index("intro")] = ""
    write_rows(d, header, rows)
    return "refuse", ["movies.csv", "line %d" % VICTIM_LINE, "intro"], {}, \
        "data row %d (line %d) has an empty intro" % (VICTIM, VICTIM_LINE)


@case
def refuse_ragged_row(d):
    header, rows = read_rows(d)
    rows[VICTIM] = rows[VICTIM][:-2]
    write_rows(d, header, rows)
    return "refuse", ["movies.csv", "line %d" % VICTIM_LINE], {}, \
        "data row %d (line %d) has too few fields" % (VICTIM, VICTIM_LINE)


@case
def refuse_bad_year(d):
    header, rows = read_rows(d)
    rows[VICTIM][header.index("year")] = "nineteen"
    write_rows(d, header, rows)
    return "refuse", ["movies.csv", "line %d" % VICTIM_LINE, "year"], {}, \
        "data row %d (line %d) has a non-integer year" % (VICTIM, VICTIM_LINE)


@case
def refuse_unterminated_quote(d):
    header, rows = read_rows(d)
    write_rows(d, header, rows)
    with open(os.path.join(d, "movies.csv"), "ab") as f:
        f.write(b'99,Open Quote,2000,Drama,posters/000001.jpg,"this intro never ends\n')
    line = N_MOVIES + 2
    return "refuse", ["movies.csv", "line %d" % line], {}, "the last record opens a quote it never closes"


def train_lines(d):
    with open(os.path.join(d, "train.txt")) as f:
        return sum(1 for _ in f)


def append_train_line(d, text):
    """Appends one line to train.txt; returns its (1-based) line number."""
    n = train_lines(d)
    with open(os.path.join(d, "train.txt"), "a") as f:
        f.write(text + "\n")
    return n + 1


@case
def refuse_train_index_out_of_range(d):
    line = append_train_line(d, str(N_MOVIES))
    return "refuse", ["train.txt", "line %d" % line, str(N_MOVIES)], {}, \
        "train.txt line %d lists row %d of a %d-row movies.csv" % (line, N_MOVIES, N_MOVIES)


@case
def refuse_train_negative_index(d):
    line = append_train_line(d, "-1")
    return "refuse", ["train.txt", "line %d" % line, "-1"], {}, "train.txt line %d lists row -1" % line


@case
def refuse_train_non_numeric(d):
    line = append_train_line(d, "three")
    return "refuse", ["train.txt", "line %d" % line, "three"], {}, "train.txt line %d is 'three'" % line


@case
def refuse_truncated_jpeg(d):
    rel = poster_of(d, VICTIM)
    p = os.path.join(d, rel)
    with open(p, "rb") as f:
        data = f.read()
    with open(p, "wb") as f:
        f.write(data[: len(data) // 3])
    return "refuse", [os.path.basename(rel)], {}, "a JPEG cut after a third of its bytes"


@case
def refuse_huge_jpeg_header(d):
    rel = poster_of(d, VICTIM)
    jpeg_with_size(os.path.join(d, rel), 60000, 60000)
    return "refuse", [os.path.basename(rel)], {}, "a JPEG whose frame header claims 60000x60000"


@case
def refuse_huge_png_header(d):
    rel = "posters/huge.png"
    w = h = 60000
    # a valid-looking IHDR and one tiny IDAT: the decoder must refuse before allocating 60000*60000*3 bytes
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b""))
    with open(os.path.join(d, rel), "wb") as f:
        f.write(data)
    set_poster(d, VICTIM, rel)
    return "refuse", ["huge.png"], {}, "a PNG whose IHDR claims 60000x60000"


@case
def refuse_text_named_jpg(d):
    rel = poster_of(d, VICTIM)
    with open(os.path.join(d, rel), "w") as f:
        f.write("this is not an image, only text in a file named .jpg\n")
    return "refuse", [os.path.basename(rel)], {}, "a text file named .jpg"


@case
def refuse_zero_batch_size(d):
    return "refuse", ["batch_size"], {"batch_size": 0}, "batch size 0"


@case
def refuse_batch_size_one(d):
    return "refuse", ["batch_size"], {"batch_size": 1}, "batch size 1 (a contrastive batch needs two pairs)"


@case
def refuse_negative_epochs(d):
    return "refuse", ["epochs"], {"epochs": -1}, "epochs -1"


@case
def refuse_nan_learning_rate(d):
    return "refuse", ["learning_rate"], {"learning_rate": "nan"}, "learning rate NaN"


@case
def refuse_infinite_learning_rate(d):
    return "refuse", ["learning_rate"], {"learning_rate": "inf"}, "learning rate +infinity"


@case
def refuse_negative_learning_rate(d):
    return "refuse", ["learning_rate"], {"learning_rate": "-0.001"}, "a negative learning rate"


@case
def refuse_device_cuda(d):
    return "refuse", ["cuda"], {"device": "cuda"}, "device cuda on a machine without a usable GPU"


def case_name(fn):
    n = fn.__name__
    for prefix in ("accept_", "refuse_"):
        if n.startswith(prefix):
            return n[len(prefix):]
    return n


def write_case(folder, name, expect, names, train_args, what):
    meta = {"name": name, "expect": expect, "names": names, "train_args": train_args, "what": what}
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(folder, "case.txt"), "w") as f:
        f.write("expect=%s\n" % expect)
        for n in names:
            f.write("name=%s\n" % n)
        for k, v in train_args.items():
            f.write("%s=%s\n" % (k, v))


def make_cases(out_dir, binary=None, base=None):
    """Writes every case under out_dir; returns the list of case names in order."""
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="clipmatch-bad-inputs-") as tmp:
        if base is None:
            base = os.path.join(tmp, "base")
            synthesize_base(base, binary)
        names = []
        for fn in CASES:
            name = case_name(fn)
            folder = os.path.join(out_dir, name)
            if os.path.lexists(folder):
                shutil.rmtree(folder)
            shutil.copytree(base, folder)
            expect, must_name, train_args, what = fn(folder)
            write_case(folder, name, expect, must_name, train_args, what)
            names.append(name)
    with open(os.path.join(out_dir, "cases.txt"), "w") as f:  # the index the C runner reads
        f.write("".join(n + "\n" for n in names))
    return names


def default_binary():
    b = os.environ.get("CLIPMATCH_BINARY") or os.path.join(REPO, "build", "clipmatch")
    return b if os.access(b, os.X_OK) else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--clipmatch", help="clipmatch binary for synthesize-dataset")
    ap.add_argument("--base", help="an existing dataset folder to copy instead of synthesizing one")
    a = ap.parse_args(argv)
    names = make_cases(a.out_dir, a.clipmatch or default_binary(), a.base)
    print("wrote %d cases to %s" % (len(names), os.path.abspath(a.out_dir)))


if __name__ == "__main__":
    sys.exit(main())
