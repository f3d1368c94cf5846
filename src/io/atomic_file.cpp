#include "io/atomic_file.hpp"

#include "core/fail.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace clipmatch::io {
namespace fs = std::filesystem;

namespace {

// pid + a process-wide counter keeps concurrent writers (threads or processes) from sharing a temp name.
fs::path temporary_sibling(const fs::path& path) {
  static std::atomic<unsigned long> counter{0};
  const std::string name = fmt::format(".{}.tmp.{}.{}", path.filename().string(), static_cast<long>(::getpid()),
                                       counter.fetch_add(1));
  return path.parent_path() / name;
}

// std::ofstream has no portable fsync; any descriptor of the same file flushes its data to disk.
void sync_to_disk(const fs::path& file, const fs::path& reported_path) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    fail(ErrorKind::Io, "{}: cannot flush to disk: {}", reported_path.string(), std::strerror(err));
  }
  ::close(fd);
}

// Makes the rename itself durable; best effort, since some file systems refuse fsync on folders.
void sync_folder(const fs::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

/// Fault injection for the kill-and-resume tests: CLIPMATCH_FAULT_SLOW_WRITES_MS=N holds every atomic write for
/// N ms after its content is written and before it is renamed into place, so a test can SIGKILL a process while
/// a checkpoint is being written. Unset (always, outside those tests) it costs one getenv per process.
void pause_for_fault_injection() {
  static const long pause_ms = [] {
    const char* value = std::getenv("CLIPMATCH_FAULT_SLOW_WRITES_MS");
    return value != nullptr ? std::strtol(value, nullptr, 10) : 0L;
  }();
  if (pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
}

}  // namespace

void write_file_atomically(const fs::path& path, const std::function<void(std::ostream&)>& writer) {
  if (path.empty() || !path.has_filename()) fail(ErrorKind::InvalidArgument, "'{}': not a file path", path.string());
  const fs::path temp = temporary_sibling(path);
  try {
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      if (!out) {
        const int err = errno;
        fail(ErrorKind::Io, "{}: cannot create a temporary file in its folder: {}", path.string(),
             std::strerror(err));
      }
      writer(out);
      out.flush();
      pause_for_fault_injection();
      if (!out) fail(ErrorKind::Io, "{}: write failed (disk full?)", path.string());
      out.close();
      if (out.fail()) fail(ErrorKind::Io, "{}: closing the temporary file failed", path.string());
    }
    sync_to_disk(temp, path);
    std::error_code ec;
    fs::rename(temp, path, ec);
    if (ec) fail(ErrorKind::Io, "{}: cannot rename the temporary file into place: {}", path.string(), ec.message());
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
  sync_folder(path.parent_path());
}

void write_bytes_atomically(const fs::path& path, const void* data, std::size_t size) {
  write_file_atomically(path, [&](std::ostream& out) {
    if (size > 0) out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  });
}

void create_directories(const std::filesystem::path& folder, const char* what) {
  if (folder.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec || !std::filesystem::is_directory(folder)) {
    fail(ErrorKind::Io, "{} {} cannot be created: {}", what, folder.string(),
         ec ? ec.message() : std::string("a file of that name is in the way"));
  }
}

std::size_t remove_stale_temporaries(const std::filesystem::path& folder) {
  std::error_code ec;
  std::size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    // ".<name>.tmp.<pid>.<n>", as temporary_sibling() names them.
    const std::string name = entry.path().filename().string();
    const auto mark = name.rfind(".tmp.");
    if (name.empty() || name[0] != '.' || mark == std::string::npos) continue;
    const long pid = std::strtol(name.c_str() + mark + 5, nullptr, 10);
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // its writer may still be at work
    std::error_code ignored;
    removed += fs::remove(entry.path(), ignored) ? 1 : 0;
  }
  return removed;
}

}  // namespace clipmatch::io
