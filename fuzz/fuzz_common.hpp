// Shared helpers of the libFuzzer targets in fuzz/ (see docs/fuzzing.md).
//
// The contract every target follows: the library's documented way to refuse bad input is a thrown
// clipmatch::Error, so that is a normal outcome. Anything else is a finding and aborts the run so that
// libFuzzer records the input: another exception type escaping the library (std::out_of_range,
// nlohmann::json::exception, std::bad_alloc...), a clipmatch::Error of kind Internal (which the library
// documents as "a bug"), a broken invariant checked by the target (FUZZ_CHECK), a crash, a sanitizer report
// or a hang.
#pragma once

#include <clipmatch/error.hpp>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>

#include <cxxabi.h>

namespace fuzz {

[[noreturn]] inline void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "\n==fuzz== FINDING: %s\n==fuzz== %s\n", what, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

/// An invariant of the parsed result; a violation is a finding.
#define FUZZ_CHECK(condition, detail)                                                                     \
  do {                                                                                                    \
    if (!(condition)) ::fuzz::finding("invariant violated: " #condition, std::string(__FILE__ ":") +      \
                                                                              std::to_string(__LINE__) + \
                                                                              ": " + (detail));           \
  } while (false)

/// Whether the invariant `id` is listed in $CLIPMATCH_FUZZ_SKIP_CHECKS (comma-separated): tools/fuzz.sh lists the
/// ids of fuzz/known-checks.txt there while fuzzing, so that a known, not yet fixed violation does not stop the
/// search; --regressions checks everything.
inline bool check_skipped(const char* id) {
  static const std::string skipped = [] {
    const char* value = std::getenv("CLIPMATCH_FUZZ_SKIP_CHECKS");
    return "," + std::string(value ? value : "") + ",";
  }();
  return skipped.find("," + std::string(id) + ",") != std::string::npos;
}

/// FUZZ_CHECK with an id (a short kebab-case name) so that a known violation can be skipped while fuzzing.
#define FUZZ_CHECK_ID(id, condition, detail)                                    \
  do {                                                                          \
    if (!::fuzz::check_skipped(id)) FUZZ_CHECK(condition, "[" id "] " + std::string(detail)); \
  } while (false)

inline std::string current_exception_type() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type == nullptr) return "<unknown>";
  int status = 0;
  char* demangled = abi::__cxa_demangle(type->name(), nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : type->name();
  std::free(demangled);
  return name;
}

/// Whether an Error of kind Internal is tolerated (CLIPMATCH_FUZZ_ALLOW_INTERNAL=1); by default it is a finding.
inline bool internal_errors_allowed() {
  static const bool allowed = [] {
    const char* value = std::getenv("CLIPMATCH_FUZZ_ALLOW_INTERNAL");
    return value != nullptr && value[0] == '1';
  }();
  return allowed;
}

/// CLIPMATCH_FUZZ_VERBOSE=1 prints each stage's outcome (to check what seeds reach; too slow for fuzzing).
inline bool verbose() {
  static const bool on = [] {
    const char* value = std::getenv("CLIPMATCH_FUZZ_VERBOSE");
    return value != nullptr && value[0] == '1';
  }();
  return on;
}

/// Runs `body`; returns true when it completed, false when it threw a clipmatch::Error (a normal refusal).
/// Any other outcome aborts with a description of what escaped.
template <typename Body>
bool guarded(const char* stage, Body&& body) {
  try {
    body();
    if (verbose()) std::fprintf(stderr, "==fuzz== %s: ok\n", stage);
    return true;
  } catch (const clipmatch::Error& e) {
    if (verbose()) std::fprintf(stderr, "==fuzz== %s: clipmatch::Error: %s\n", stage, e.what());
    if (e.kind() == clipmatch::ErrorKind::Internal && !internal_errors_allowed()) {
      finding("clipmatch::Error of kind Internal (documented as a bug)", std::string(stage) + ": " + e.what());
    }
    return false;
  } catch (const std::exception& e) {
    finding("exception other than clipmatch::Error escaped the library",
            std::string(stage) + ": " + current_exception_type() + ": " + e.what());
  } catch (...) {
    finding("non-std exception escaped the library", std::string(stage) + ": " + current_exception_type());
  }
}

/// An in-memory file (memfd) whose content is replaced on each run; path() names it for APIs that only open
/// files ("/proc/self/fd/N": a regular file, so stat/mmap/ifstream behave as for a file on disk).
class MemFile {
 public:
  explicit MemFile(const char* name) {
    fd_ = ::memfd_create(name, MFD_CLOEXEC);
    if (fd_ < 0) finding("harness setup", std::string("memfd_create failed: ") + std::strerror(errno));
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  ~MemFile() { ::close(fd_); }

  void assign(const void* data, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0) finding("harness setup", std::string("ftruncate failed: ") + std::strerror(errno));
    const auto* bytes = static_cast<const char*>(data);
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(fd_, bytes + done, size - done, static_cast<off_t>(done));
      if (n <= 0) finding("harness setup", std::string("pwrite failed: ") + std::strerror(errno));
      done += static_cast<std::size_t>(n);
    }
  }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

/// A private scratch folder for targets that must hand the library real files: clipmatch-fuzz-PID under
/// $CLIPMATCH_FUZZ_SCRATCH when set (tools/fuzz.sh sets it), else under /dev/shm when writable (no disk I/O,
/// fsync is free), else under the system temporary folder. Removed at a normal exit (a crashing run leaves
/// it behind; tools/fuzz.sh removes its whole $CLIPMATCH_FUZZ_SCRATCH).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path base = "/dev/shm";
    if (::access(base.c_str(), W_OK) != 0) base = fs::temp_directory_path(ec);
    const char* chosen = std::getenv("CLIPMATCH_FUZZ_SCRATCH");
    if (chosen != nullptr && chosen[0] != '\0') base = chosen;
    const fs::path made = base / ("clipmatch-fuzz-" + std::to_string(::getpid()));
    fs::remove_all(made, ec);
    fs::create_directories(made, ec);
    if (ec) finding("harness setup", "cannot create scratch folder " + made.string() + ": " + ec.message());
    static const std::string to_remove = made.string();
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(to_remove, ignored);
    });
    return made;
  }();
  return dir;
}

/// Writes `bytes` to `path` (plain stdio; harness plumbing, not code under test).
inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) finding("harness setup", "cannot write " + path.string());
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size()) {
    std::fclose(file);
    finding("harness setup", "short write to " + path.string());
  }
  std::fclose(file);
}

}  // namespace fuzz
