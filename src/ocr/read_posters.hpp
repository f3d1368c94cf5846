// Reading many posters: cache look-up by content, Tesseract on worker threads (one engine each) for the misses,
// progress and cancelling, the new readings saved even when the loop stops early.
#pragma once

#include <clipmatch/ocr.hpp>

#include <string>
#include <vector>

namespace clipmatch::ocr {

struct ReadStats {
  std::size_t cache_hits = 0;
  std::size_t posters_read = 0;
  double seconds_reading = 0;  ///< wall time of the Tesseract loop (0 when everything came from the cache)
};

/// read_poster_text() without its ProgressScope (the caller's public entry point installs one): stage
/// "read posters"; `verbose` draws the bar for people. Words below options.min_confidence are dropped.
std::vector<PosterText> read_posters(const std::vector<std::string>& image_paths, const OcrOptions& options,
                                     bool verbose, ReadStats* stats = nullptr);

}  // namespace clipmatch::ocr
