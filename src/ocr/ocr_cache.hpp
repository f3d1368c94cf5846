// A persistent cache of poster readings: one JSON-lines file per set of reading settings, one line per poster
// ({"key": content hash of the image file, "words": [[text, confidence], …]}). A second run with the same
// settings reads no poster again; a changed poster misses only its own entry. Lines that do not parse (a
// damaged file) are dropped with one warning and read again.
#pragma once

#include "cache/content_hash.hpp"

#include <clipmatch/ocr.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>

namespace clipmatch::ocr {

class OcrCache {
 public:
  /// `dir` empty = in memory only. `settings` (reading_settings()) names the file.
  OcrCache(std::filesystem::path dir, const std::string& settings);

  std::optional<PosterText> find(const cache::ContentKey& key) const;
  void insert(const cache::ContentKey& key, PosterText text);
  /// Rewrites the file atomically when entries were added (nothing when the cache is in memory only).
  void save();

  std::filesystem::path file() const { return file_; }

 private:
  void load();

  std::filesystem::path file_;
  std::unordered_map<cache::ContentKey, PosterText, cache::ContentKeyHash> entries_;
  bool dirty_ = false;
};

}  // namespace clipmatch::ocr
