// Helpers shared by the test files: locating ../shared (or the folder an environment variable names) and
// skipping cleanly when it is absent, and scratch folders.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>

namespace clipmatch::test {

namespace fs = std::filesystem;

/// The shared reference folder: $CLIPMATCH_SHARED, else the path configured at build time (../shared).
inline fs::path shared_root() {
  if (const char* env = std::getenv("CLIPMATCH_SHARED")) return env;
  return CLIPMATCH_DEFAULT_SHARED_DIR;
}

/// `$env_var` if set, else shared_root()/relative. Returns nullopt when the path does not exist.
inline std::optional<fs::path> shared_path(const std::string& relative, const char* env_var = nullptr) {
  fs::path path = shared_root() / relative;
  if (env_var != nullptr) {
    if (const char* env = std::getenv(env_var)) path = env;
  }
  if (!fs::exists(path)) return std::nullopt;
  return path;
}

/// The whole content of a file as bytes ("" when it cannot be read).
inline std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Replaces a file's content with `bytes`.
inline void write_all(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// How many entries (files and folders) `dir` holds, not recursing.
inline std::size_t entries_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

/// A fresh, empty scratch folder under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("clipmatch-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

}  // namespace clipmatch::test

/// Skips the rest of the test case (with a visible message) when `opt_path` is empty.
#define CLIPMATCH_REQUIRE_SHARED(opt_path, what)                                            \
  do {                                                                                      \
    if (!(opt_path)) {                                                                      \
      WARN("skipped: " << (what) << " not found (set CLIPMATCH_SHARED or provide ../shared)"); \
      return;                                                                               \
    }                                                                                       \
  } while (0)
