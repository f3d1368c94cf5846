#include "ocr/ocr_cache.hpp"

#include "core/fail.hpp"
#include "io/atomic_file.hpp"

#include <clipmatch/log.hpp>

#include <nlohmann/json.hpp>

#include <fstream>

namespace clipmatch::ocr {

OcrCache::OcrCache(std::filesystem::path dir, const std::string& settings) {
  if (dir.empty()) return;
  file_ = dir / ("ocr-" + cache::hash_text(settings).hex() + ".jsonl");
  load();
}

void OcrCache::load() {
  std::ifstream in(file_, std::ios::binary);
  if (!in) return;
  std::string line;
  std::size_t number = 0, dropped = 0, first_bad = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      const auto json = nlohmann::json::parse(line);
      const auto hex = json.at("key").get<std::string>();
      if (hex.size() != 32) throw std::invalid_argument("key");
      cache::ContentKey key{std::stoull(hex.substr(0, 16), nullptr, 16), std::stoull(hex.substr(16), nullptr, 16)};
      PosterText text;
      for (const auto& word : json.at("words")) {
        text.words.push_back({word.at(0).get<std::string>(), word.at(1).get<float>()});
      }
      entries_[key] = std::move(text);
    } catch (const std::exception&) {
      if (dropped++ == 0) first_bad = number;
    }
  }
  if (dropped > 0) {
    log_message(LogLevel::Warning, fmt::format("OCR cache {}: {} damaged line(s) dropped (first: line {}); those "
                                               "posters are read again", file_.string(), dropped, first_bad));
    dirty_ = true;
  }
}

std::optional<PosterText> OcrCache::find(const cache::ContentKey& key) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void OcrCache::insert(const cache::ContentKey& key, PosterText text) {
  entries_[key] = std::move(text);
  dirty_ = true;
}

void OcrCache::save() {
  if (file_.empty() || !dirty_) return;
  io::create_directories(file_.parent_path(), "OCR cache folder");
  io::write_file_atomically(file_, [&](std::ostream& out) {
    for (const auto& [key, text] : entries_) {
      nlohmann::json words = nlohmann::json::array();
      for (const auto& word : text.words) words.push_back({word.text, word.confidence});
      // Tesseract may return bytes that are not UTF-8 in rare cases; replace them rather than fail the save.
      out << nlohmann::json{{"key", key.hex()}, {"words", words}}.dump(-1, ' ', false,
                                                                        nlohmann::json::error_handler_t::replace)
          << '\n';
    }
  });
  dirty_ = false;
}

}  // namespace clipmatch::ocr
