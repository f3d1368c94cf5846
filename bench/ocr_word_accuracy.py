#!/usr/bin/env python3
"""OCR word accuracy on hand-checked posters.

    clipmatch encode --posters DIR --ocr --out OUT    # DIR holds <movie_id>.jpg of the listed posters
    python3 bench/ocr_word_accuracy.py OUT.ocr.jsonl [bench/ocr_hand_titles.tsv]

A printed title word counts as read when the same word (lower-cased, punctuation dropped) is among the words
OCR kept for that poster. Prints one line per poster and the totals: word accuracy (read / printed) and the
share of posters with at least one title word read.
"""
import json
import pathlib
import re
import sys


def normalise(word):
    return re.sub(r"[^\w]", "", word.lower())


def main():
    jsonl = pathlib.Path(sys.argv[1])
    titles = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else pathlib.Path(__file__).with_name("ocr_hand_titles.tsv"))
    read = {}
    for line in jsonl.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        read[pathlib.Path(entry["file"]).stem] = {normalise(w) for w, _ in entry["words"]}
    printed_total = found_total = posters_hit = posters = 0
    for line in titles.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        movie_id, words = line.split("\t")
        if movie_id not in read:
            sys.exit(f"{jsonl}: no reading of poster {movie_id}")
        printed = [normalise(w) for w in words.split()]
        found = [w for w in printed if w in read[movie_id]]
        printed_total += len(printed)
        found_total += len(found)
        posters += 1
        posters_hit += bool(found)
        print(f"{movie_id:>5}  {len(found)}/{len(printed)}  printed: {words}  |  read: {' '.join(sorted(read[movie_id]))}")
    print(f"word accuracy {found_total}/{printed_total} = {found_total / printed_total:.3f}; "
          f"posters with a title word read {posters_hit}/{posters} = {posters_hit / posters:.3f}")


if __name__ == "__main__":
    main()
