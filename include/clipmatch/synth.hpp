// clipmatch — a synthetic poster/synopsis dataset for demos and tests.
//
// Each poster is drawn procedurally (no text is ever drawn): a background (plain, fading or striped, in a
// named colour) with 1–4 identical shapes (circle, square, triangle, star, ring, cross, diamond) of one
// colour placed at the top, bottom, left, right or centre, sometimes with one small extra shape of another
// kind and colour. The intro describes the poster in varied English (templates, synonyms, word orders,
// filler sentences), mentioning the shape kind and 1–3 further attributes (shape colour, count, position,
// background), so a model must learn which image features go with which words. `genres` follow from the
// background; titles are random made-up phrases unrelated to the image.
//
// Output is a dataset folder that load_dataset() reads: movies.csv, train.txt and posters/NNNNNN.jpg.
// The result is byte-identical for the same options on every platform (own integer/real sampling on
// std::mt19937_64; no std distributions).
#pragma once

#include <clipmatch/export.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace clipmatch {

struct SynthOptions {
  std::string out;               ///< dataset folder to create (files in it are replaced)
  std::size_t n = 600;           ///< number of movies
  std::uint64_t seed = 1;        ///< same seed, same options ⇒ same bytes
  int width = 64;                ///< poster width in pixels (portrait 2:3 by default)
  int height = 96;               ///< poster height in pixels
  double train_fraction = 0.6;   ///< share of rows listed in train.txt (rounded to nearest)
  int jpeg_quality = 90;         ///< 1–100
  bool show_progress = false;    ///< progress bar / lines on stderr
};

struct SynthReport {
  std::string folder;             ///< absolute path of the written dataset
  std::size_t movies = 0;
  std::size_t train = 0;          ///< rows in train.txt
  std::size_t distinct_intros = 0;
  std::size_t vocabulary = 0;     ///< distinct lower-cased words over all intros
  double seconds = 0.0;           ///< wall time of the whole generation
};

/// Generates the dataset; throws clipmatch::Error (InvalidArgument for bad options, Io on write failure).
/// The one name of this generator everywhere: `clipmatch synthesize-dataset` (CLI),
/// clipmatch_synthesize_dataset (C), clipmatch.synthesize_dataset (Python).
CLIPMATCH_API SynthReport synthesize_dataset(const SynthOptions& options);

}  // namespace clipmatch
