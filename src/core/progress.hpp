// Progress of long loops, for people and for host programs.
//
// For people: when enabled, a bar redrawn in place on a terminal (at most ~10 times a second), otherwise one
// line at 25, 50, 75 and 100 % sent to the log sink (clipmatch/log.hpp). Both show the rate and the time left.
// For host programs: the ProgressCallback of the public call that is running on this thread (installed with a
// ProgressScope) hears every advance, whatever `enabled` says, and may cancel by returning false: advance()
// then throws Error(ErrorKind::Cancelled). The callback runs only on the thread that created the Progress;
// advance() from other threads (pool workers) throws once the loop has been cancelled.
//
//   ProgressScope scope(options.progress);                    // in the public entry point
//   Progress progress("encode posters", posters.size(), options.verbose);
//   for (...) { ...; progress.advance(); }
//   progress.finish();
#pragma once

#include <clipmatch/progress.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace clipmatch {

/// Makes `callback` (may be empty) the progress observer of this thread while it lives; scopes nest.
class ProgressScope {
 public:
  explicit ProgressScope(const ProgressCallback& callback);
  ~ProgressScope();
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;

  /// The observer of the calling thread, or null.
  static const ProgressCallback* current();

 private:
  const ProgressCallback* previous_;
};

class Progress {
 public:
  enum class Style { Auto, Bar, Lines, Silent };

  /// `enabled == false` prints nothing; the thread's progress observer still hears every advance unless
  /// `observed` is false (a bar for people only, beside an observed count of the same work).
  Progress(std::string label, std::size_t total, bool enabled = true, bool observed = true);
  /// For tests and special sinks: an explicit stream and style (Auto looks at whether `out` is a terminal).
  Progress(std::string label, std::size_t total, std::FILE* out, Style style);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Counts `count` more units done; throws Error(ErrorKind::Cancelled) when the observer asks to stop.
  void advance(std::size_t count = 1);
  /// Draws the final state and ends the line; further calls do nothing.
  void finish();

  std::size_t done() const { return done_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  void draw(std::size_t done, bool final_draw);
  void notify(std::size_t done);

  std::string label_;
  std::size_t total_;
  std::FILE* out_;  ///< null: lines go to the log sink
  Style style_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  std::atomic<std::size_t> done_{0};
  std::mutex mutex_;
  int next_quarter_ = 1;  ///< Lines style: the next 25 % mark to report
  bool finished_ = false;
  const ProgressCallback* observer_;
  std::thread::id owner_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace clipmatch
