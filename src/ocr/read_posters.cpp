#include "ocr/read_posters.hpp"

#include "core/fail.hpp"
#include "core/progress.hpp"
#include "core/thread_pool.hpp"
#include "ocr/ocr_cache.hpp"
#include "ocr/poster_reader.hpp"

#include <chrono>
#include <mutex>
#include <thread>

namespace clipmatch::ocr {

namespace {

/// Engines for the threads of one loop: taken by a thread for one poster, then given back. Starting an engine
/// costs ~0.1 s (loading the LSTM model), so each is reused.
class EnginePool {
 public:
  explicit EnginePool(const OcrOptions& options) : options_(options) {}

  std::unique_ptr<TesseractReader> take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto engine = std::move(idle_.back());
        idle_.pop_back();
        return engine;
      }
    }
    return std::make_unique<TesseractReader>(options_.language, options_.tessdata_dir, options_.binarization);
  }
  void give_back(std::unique_ptr<TesseractReader> engine) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(engine));
  }

 private:
  const OcrOptions& options_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<TesseractReader>> idle_;
};

}  // namespace

std::vector<PosterText> read_posters(const std::vector<std::string>& paths, const OcrOptions& options, bool verbose,
                                     ReadStats* stats) {
  validate(options);
  std::vector<cache::ContentKey> keys(paths.size());
  ThreadPool::shared().parallel_for(paths.size(), [&](std::size_t i) { keys[i] = cache::hash_file(paths[i]); });

  OcrCache cache(options.cache_dir, reading_settings(options));
  std::vector<PosterText> raw(paths.size());
  std::vector<std::size_t> missing;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (auto found = cache.find(keys[i])) {
      raw[i] = std::move(*found);
    } else {
      missing.push_back(i);
    }
  }
  ReadStats local;
  local.cache_hits = paths.size() - missing.size();
  if (!missing.empty()) {
    EnginePool engines(options);
    engines.give_back(engines.take());  // fails here, clearly, when Tesseract or its language data is missing
    const auto start = std::chrono::steady_clock::now();
    std::vector<char> done(missing.size(), 0);
    Progress progress("read posters", missing.size(), verbose);
    auto read_one = [&](std::size_t j) {
      const auto i = missing[j];
      const auto image = decode_image_file(paths[i]);
      auto engine = engines.take();
      raw[i] = read_poster(image, options, *engine);
      engines.give_back(std::move(engine));
      done[j] = 1;
      progress.advance();
    };
    try {
      if (options.threads == 1) {
        for (std::size_t j = 0; j < missing.size(); ++j) read_one(j);
      } else if (options.threads == 0) {
        ThreadPool::shared().parallel_for(missing.size(), read_one);
      } else {
        ThreadPool pool(options.threads - 1);
        pool.parallel_for(missing.size(), read_one);
      }
    } catch (...) {
      // What was read before the stop (a cancel, a corrupt poster) is kept for the next run.
      for (std::size_t j = 0; j < missing.size(); ++j)
        if (done[j]) cache.insert(keys[missing[j]], raw[missing[j]]);
      cache.save();
      throw;
    }
    progress.finish();
    for (const auto i : missing) cache.insert(keys[i], raw[i]);
    cache.save();
    local.posters_read = missing.size();
    local.seconds_reading = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  if (stats) *stats = local;
  std::vector<PosterText> out;
  out.reserve(raw.size());
  for (const auto& text : raw) out.push_back(confident_words(text, options.min_confidence));
  return out;
}

}  // namespace clipmatch::ocr

namespace clipmatch {

std::string PosterText::text() const {
  std::string joined;
  for (const auto& word : words) {
    if (!joined.empty()) joined += ' ';
    joined += word.text;
  }
  return joined;
}

bool ocr_available(const OcrOptions& options, std::string* why) {
  try {
    ocr::TesseractReader reader(options.language, options.tessdata_dir);
    return true;
  } catch (const Error& e) {
    if (why) *why = e.what();
    return false;
  }
}

std::vector<PosterText> read_poster_text(const std::vector<std::string>& image_paths, const OcrOptions& options,
                                         const ProgressCallback& progress) {
  ProgressScope scope(progress);
  return ocr::read_posters(image_paths, options, options.verbose);
}

}  // namespace clipmatch
