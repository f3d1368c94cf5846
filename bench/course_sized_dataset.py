#!/usr/bin/env python3
"""Writes a dataset folder the size and shape of the course's job from a smaller real one, for GPU timing.

    course_sized_dataset.py SOURCE_DIR OUT_DIR [N=2938] [--poster-size 182x268] [--intro-join 6]

Rows cycle through SOURCE's movies.csv until there are N. Every row gets its own JPEG file (the source poster
resized to the course's 182×268 and re-encoded), so a run decodes N real files. Each intro is that movie's
intro followed by the next ones (--intro-join in all), which takes every intro past BERT's 128-token limit:
the text encoder then does the same work per intro as bench_hf.py's random 128-token batches. train.txt lists
every other row. Timing data only: cycled rows repeat posters, so accuracies on it mean nothing.
"""
import argparse
import csv
import os

from PIL import Image


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("n", type=int, nargs="?", default=2938)
    parser.add_argument("--poster-size", default="182x268")
    parser.add_argument("--intro-join", type=int, default=6)
    args = parser.parse_args()
    width, height = (int(v) for v in args.poster_size.split("x"))
    with open(os.path.join(args.source, "movies.csv"), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"{args.source}/movies.csv has no rows")
    os.makedirs(os.path.join(args.out, "posters"), exist_ok=True)
    with open(os.path.join(args.out, "movies.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["movie_id", "title", "year", "genres", "poster", "intro"])
        for i in range(args.n):
            src = rows[i % len(rows)]
            poster = f"posters/{i + 1}.jpg"
            with Image.open(os.path.join(args.source, src["poster"])) as image:
                image.convert("RGB").resize((width, height), Image.BICUBIC).save(
                    os.path.join(args.out, poster), quality=90)
            intro = " ".join(rows[(i + j) % len(rows)]["intro"] for j in range(args.intro_join))
            writer.writerow([i + 1, src["title"], src["year"], src["genres"], poster, intro])
    with open(os.path.join(args.out, "train.txt"), "w") as f:
        f.writelines(f"{i}\n" for i in range(0, args.n, 2))  # 0-based data-row indices
    print(f"{args.out}: {args.n} movies, posters {width}x{height}, intros of {args.intro_join} joined")


if __name__ == "__main__":
    main()
