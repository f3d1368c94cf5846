#include <clipmatch/error.hpp>

#include "io/atomic_file.hpp"
#include "test_support.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

using clipmatch::test::entries_in;
using clipmatch::test::read_all;
using clipmatch::test::TempDir;
using clipmatch::test::write_all;
namespace fs = std::filesystem;
namespace io = clipmatch::io;


TEST_CASE("atomic_file: writes and replaces", "[atomic_file]") {
  TempDir dir;
  const fs::path path = dir / "out.txt";
  io::write_file_atomically(path, [](std::ostream& out) { out << "first"; });
  CHECK(read_all(path) == "first");
  io::write_file_atomically(path, [](std::ostream& out) { out << "second, longer"; });
  CHECK(read_all(path) == "second, longer");
  const std::string binary("a\0b\xff", 4);
  io::write_bytes_atomically(path, binary.data(), binary.size());
  CHECK(read_all(path) == binary);
  io::write_bytes_atomically(path, nullptr, 0);
  CHECK(fs::file_size(path) == 0);
  CHECK(entries_in(dir.path()) == 1);
}

TEST_CASE("atomic_file: a failing writer leaves the old file and no temporary", "[atomic_file]") {
  TempDir dir;
  const fs::path path = dir / "keep.txt";
  io::write_file_atomically(path, [](std::ostream& out) { out << "original"; });
  CHECK_THROWS_WITH(io::write_file_atomically(path,
                                              [](std::ostream& out) {
                                                out << "partial";
                                                throw std::runtime_error("writer broke");
                                              }),
                    "writer broke");
  CHECK(read_all(path) == "original");
  CHECK(entries_in(dir.path()) == 1);
}

TEST_CASE("atomic_file: errors name the path", "[atomic_file]") {
  TempDir dir;
  const fs::path missing = dir / "no_such_folder" / "x.bin";
  try {
    io::write_bytes_atomically(missing, "x", 1);
    FAIL("expected an error");
  } catch (const clipmatch::Error& e) {
    CHECK(e.kind() == clipmatch::ErrorKind::Io);
    CHECK_THAT(e.what(), Catch::Contains(missing.string()));
  }
  CHECK_THROWS_AS(io::write_bytes_atomically(dir.path() / "", "x", 1), clipmatch::Error);
}

TEST_CASE("atomic_file: concurrent writers never interleave", "[atomic_file]") {
  TempDir dir;
  const fs::path path = dir / "race.bin";
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string content(100000, static_cast<char>('a' + t));
      for (int i = 0; i < 5; ++i) io::write_bytes_atomically(path, content.data(), content.size());
    });
  }
  for (auto& thread : threads) thread.join();
  const std::string result = read_all(path);
  REQUIRE(result.size() == 100000);
  CHECK(result.find_first_not_of(result[0]) == std::string::npos);
  CHECK(entries_in(dir.path()) == 1);
}
