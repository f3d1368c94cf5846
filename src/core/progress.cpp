#include "core/progress.hpp"

#include "core/fail.hpp"
#include "core/log_sink.hpp"

#include <fmt/format.h>

#include <algorithm>

#if defined(_WIN32)
#include <io.h>
#define CLIPMATCH_ISATTY(fd) _isatty(fd)
#define CLIPMATCH_FILENO(f) _fileno(f)
#else
#include <unistd.h>
#define CLIPMATCH_ISATTY(fd) isatty(fd)
#define CLIPMATCH_FILENO(f) fileno(f)
#endif

namespace clipmatch {

namespace {

std::string format_duration(double seconds) {
  if (seconds < 0) seconds = 0;
  const auto whole = static_cast<long long>(seconds + 0.5);
  if (whole < 60) return fmt::format("{}s", whole);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, (whole % 3600) / 60);
}

thread_local const ProgressCallback* t_observer = nullptr;

}  // namespace

ProgressScope::ProgressScope(const ProgressCallback& callback) : previous_(t_observer) {
  if (callback) t_observer = &callback;
}

ProgressScope::~ProgressScope() { t_observer = previous_; }

const ProgressCallback* ProgressScope::current() { return t_observer; }

Progress::Progress(std::string label, std::size_t total, bool enabled, bool observed)
    : Progress(std::move(label), total, nullptr, enabled ? Style::Auto : Style::Silent) {
  if (!observed) observer_ = nullptr;
}

Progress::Progress(std::string label, std::size_t total, std::FILE* out, Style style)
    : label_(std::move(label)),
      total_(total),
      out_(out),
      style_(style),
      start_(Clock::now()),
      last_draw_(),
      observer_(ProgressScope::current()),
      owner_(std::this_thread::get_id()) {
  if (style_ == Style::Auto) {
    // A bar redrawn in place only on a terminal that nobody else routes: a host's log sink gets plain lines.
    const bool terminal = out_ != nullptr ? CLIPMATCH_ISATTY(CLIPMATCH_FILENO(out_))
                                          : !has_custom_log_sink() && CLIPMATCH_ISATTY(CLIPMATCH_FILENO(stderr));
    style_ = terminal ? Style::Bar : Style::Lines;
    if (style_ == Style::Bar && out_ == nullptr) out_ = stderr;
  }
}

Progress::~Progress() {
  // An exception may be unwinding: end a half-drawn bar so the error message starts on its own line.
  std::lock_guard<std::mutex> lock(mutex_);
  if (!finished_ && style_ == Style::Bar && out_ != nullptr && last_draw_ != Clock::time_point()) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
}

void Progress::notify(std::size_t done) {
  if (observer_ == nullptr) return;
  if (std::this_thread::get_id() != owner_) {
    if (cancelled_.load()) fail(ErrorKind::Cancelled, "{}: cancelled", label_);
    return;
  }
  if (!(*observer_)(label_, done, total_)) {
    cancelled_ = true;
    fail(ErrorKind::Cancelled, "{}: cancelled by the progress callback at {}/{}", label_, done, total_);
  }
}

void Progress::advance(std::size_t count) {
  const std::size_t done = done_.fetch_add(count) + count;
  notify(done);
  if (style_ == Style::Silent) return;
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;  // another thread is drawing; the next advance will catch up
  if (style_ == Style::Bar) {
    const auto now = Clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    draw(done, false);
  } else if (total_ > 0 && next_quarter_ <= 3 && done * 4 >= total_ * static_cast<std::size_t>(next_quarter_)) {
    draw(done, false);
    while (next_quarter_ <= 3 && done * 4 >= total_ * static_cast<std::size_t>(next_quarter_)) ++next_quarter_;
  }
}

void Progress::finish() {
  if (style_ == Style::Silent) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  draw(done_.load(), true);
}

void Progress::draw(std::size_t done, bool final_draw) {
  last_draw_ = Clock::now();
  const double elapsed = std::chrono::duration<double>(last_draw_ - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const std::size_t shown = total_ > 0 ? std::min(done, total_) : done;
  const double fraction = total_ > 0 ? static_cast<double>(shown) / static_cast<double>(total_) : 1.0;
  const std::string timing =
      final_draw ? fmt::format("{:.1f}/s, took {}", rate, format_duration(elapsed))
                 : fmt::format("{:.1f}/s, ETA {}", rate,
                               rate > 0 ? format_duration(static_cast<double>(total_ - shown) / rate) : "?");
  if (style_ == Style::Bar && out_ != nullptr) {
    constexpr int width = 30;
    const int filled = static_cast<int>(fraction * width);
    fmt::print(out_, "\r{} [{}{}] {}/{} {:3.0f}% {}\x1b[K", label_, std::string(filled, '#'),
               std::string(width - filled, '.'), shown, total_, fraction * 100, timing);
    if (final_draw) std::fputc('\n', out_);
    std::fflush(out_);
  } else if (out_ != nullptr) {
    fmt::print(out_, "{}: {}/{} ({:.0f}%) {}\n", label_, shown, total_, fraction * 100, timing);
    std::fflush(out_);
  } else {
    log_message(LogLevel::Info, fmt::format("{}: {}/{} ({:.0f}%) {}", label_, shown, total_, fraction * 100, timing));
  }
}

}  // namespace clipmatch
