// A progress indicator on stderr for long loops: on a terminal a bar redrawn in place (at most ~10 times a
// second), otherwise (logs, CI) one line at 25, 50, 75 and 100 %. Both show the rate and the time left.
//
//   Progress progress("encode posters", posters.size(), options.show_progress);
//   for (...) { ...; progress.advance(); }
//   progress.finish();
//
// advance() may be called from several threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <mutex>
#include <string>

namespace clipmatch {

class Progress {
 public:
  enum class Style { Auto, Bar, Lines, Silent };

  /// `enabled == false` makes every call a no-op, so callers need no branches.
  Progress(std::string label, std::size_t total, bool enabled = true);
  /// For tests and special sinks: an explicit stream and style (Auto looks at whether `out` is a terminal).
  Progress(std::string label, std::size_t total, std::FILE* out, Style style);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::size_t count = 1);
  /// Draws the final state and ends the line; further calls do nothing.
  void finish();

  std::size_t done() const { return done_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  void draw(std::size_t done, bool final_draw);

  std::string label_;
  std::size_t total_;
  std::FILE* out_;
  Style style_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  std::atomic<std::size_t> done_{0};
  std::mutex mutex_;
  int next_quarter_ = 1;  ///< Lines style: the next 25 % mark to report
  bool finished_ = false;
};

}  // namespace clipmatch
