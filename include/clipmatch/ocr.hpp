// clipmatch — reading the text printed on posters (OCR), for the poster-text channel.
//
// Posters print their title, names and a tagline; a synopsis often shares rare words with them. With the
// channel on (TrainOptions::ocr / EvalOptions::ocr with `enabled`), every poster is read with Tesseract, its
// words are scored against the intros lexically (BM25 over lower-cased, lightly stemmed words, stop words
// dropped), and that score is added to the visual cosine with a fusion weight:
//
//     similarity(poster i, intro j) = cos(p_i, t_j) + w · bm25(ocr words of poster i, intro j)
//
// The distance matrix, metrics, heatmap and topk.csv of an evaluation then use the fused similarity
// (distance = 1 − similarity, or −similarity). w is learned by train() on a calibration slice of the training
// rows that the heads do not train on (OcrOptions::calibration_fraction), stored in the checkpoint and used by
// evaluate(); OcrOptions::fusion_weight ≥ 0 fixes it instead.
//
// OCR results are cached by poster content and OCR settings (OcrOptions::cache_dir), so a second run reads
// no poster again. Tesseract runs on worker threads, one engine per thread.
#pragma once

#include <clipmatch/export.h>
#include <clipmatch/progress.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace clipmatch {

/// One word Tesseract read: its UTF-8 text and Tesseract's confidence, 0–100.
struct OcrWord {
  std::string text;
  float confidence = 0;
};

/// The words read on one poster, each once (the most confident reading of a word across passes), in reading
/// order of the pass that found them first.
struct PosterText {
  std::vector<OcrWord> words;
  /// The words joined by spaces.
  CLIPMATCH_API std::string text() const;
};

/// How posters are read and how the text channel joins the visual match. The defaults are the settings
/// measured best on ml100k-tmdb (docs/results.md).
struct OcrOptions {
  /// Turns the channel on in TrainOptions / EvalOptions (read_poster_text ignores it).
  bool enabled = false;
  /// Posters shorter than this are upscaled (bicubic, aspect kept) before reading: Tesseract wants glyphs
  /// ~20 px tall, and most small posters print their title smaller than that.
  int min_height = 552;
  /// Tesseract page-segmentation modes, one pass each over the whole poster (11 = sparse text, 6 = one block,
  /// 3 = automatic layout).
  std::vector<int> page_modes{11, 6};
  /// A further pass on the top and the bottom band of the poster (each `band_fraction` of its height), where
  /// titles and credits sit.
  bool title_bands = true;
  double band_fraction = 0.4;
  /// How Tesseract binarises the page: 0 = global Otsu (its default), 1 = Leptonica's adaptive (tiled) Otsu,
  /// 2 = Sauvola (local contrast; for text over photographs).
  int binarization = 0;
  /// Words Tesseract is less sure of than this (0–100) are dropped.
  float min_confidence = 50;
  /// Tesseract language and its data folder (empty: TESSDATA_PREFIX or Tesseract's built-in default).
  std::string language = "eng";
  std::string tessdata_dir;
  /// OCR results cache folder; empty = no cache. train()/evaluate() default it to their feature cache folder.
  std::string cache_dir;
  /// OCR threads (each with its own engine); 0 = one per core.
  std::size_t threads = 0;
  /// Stem the words of posters and intros alike (plural and -ing/-ed endings) before matching them.
  bool stemming = true;
  /// Fusion weight w of the text channel; negative = learned by train() (and, in evaluate(), the weight the
  /// model learned, or default_fusion_weight when it learned none).
  double fusion_weight = -1;
  /// Share of the training rows held back from training the heads, on which train() learns w.
  double calibration_fraction = 0.2;
  bool verbose = false;  ///< progress lines while reading (read_poster_text only; train/evaluate use theirs)
};

/// The fusion weight evaluate() uses when neither the options nor the model give one.
inline constexpr double default_fusion_weight = 5;

/// Whether this build of clipmatch can read posters (it was built with Tesseract) and the language data of
/// `options` is installed; when not, `why` (if given) says what is missing.
CLIPMATCH_API bool ocr_available(const OcrOptions& options = {}, std::string* why = nullptr);

/// Reads the text of poster image files, one PosterText per path, in order. Throws clipmatch::Error naming
/// the file for an unreadable or corrupt image, Unsupported when OCR is unavailable, Cancelled when
/// `progress` (stage "read posters") returns false — results read so far stay in the cache.
CLIPMATCH_API std::vector<PosterText> read_poster_text(const std::vector<std::string>& image_paths,
                                                       const OcrOptions& options = {},
                                                       const ProgressCallback& progress = {});

}  // namespace clipmatch
