// The process-wide log sink (clipmatch/log.hpp). Two locks on purpose: `sink_mutex` only guards swapping the
// callback, `call_mutex` serialises the calls. A host callback that takes its own lock (Python's GIL) while a
// message is being delivered therefore never blocks a thread that merely installs a new sink.
#include <clipmatch/log.hpp>

#include <cstdio>
#include <memory>
#include <mutex>

namespace clipmatch {

namespace {

std::mutex sink_mutex;
std::recursive_mutex call_mutex;  // recursive: a callback may itself log
std::shared_ptr<const LogCallback> sink;

std::shared_ptr<const LogCallback> current_sink() {
  std::lock_guard<std::mutex> lock(sink_mutex);
  return sink;
}

}  // namespace

void set_log_callback(LogCallback callback) {
  auto next = callback ? std::make_shared<const LogCallback>(std::move(callback)) : nullptr;
  std::lock_guard<std::mutex> lock(sink_mutex);
  sink = std::move(next);
}

bool has_custom_log_sink() { return current_sink() != nullptr; }

void log_message(LogLevel level, const std::string& message) {
  const auto callback = current_sink();
  std::lock_guard<std::recursive_mutex> lock(call_mutex);
  if (callback) {
    (*callback)(level, message);
    return;
  }
  std::fwrite(message.data(), 1, message.size(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace clipmatch
