#include <clipmatch/error.hpp>

#include "io/npy.hpp"
#include "test_support.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

using clipmatch::test::read_all;
using clipmatch::test::TempDir;
using clipmatch::test::write_all;
namespace fs = std::filesystem;
namespace io = clipmatch::io;

namespace {

std::string npy_with_header(const std::string& dict, std::size_t data_bytes) {
  std::string header = dict;
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xFF));
  out.push_back(static_cast<char>(header.size() >> 8));
  return out + header + std::string(data_bytes, '\0');
}

bool python_numpy_available() {
  return fs::exists("/usr/bin/python3") && std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

}  // namespace

TEST_CASE("npy: float32 and int64 round-trip with numpy's header layout", "[npy]") {
  TempDir dir;
  const std::vector<float> values = {1.0f, -2.5f, 3.25f, 0.0f, 1e-30f, 7.0f};
  io::write_npy(dir / "f.npy", values.data(), {2, 3});
  const std::string bytes = read_all(dir / "f.npy");
  REQUIRE(bytes.size() >= 10);
  const std::size_t header_length = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
  CHECK((10 + header_length) % 64 == 0);
  CHECK(bytes[10 + header_length - 1] == '\n');
  CHECK(bytes.substr(10, header_length).rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0) == 0);
  CHECK(bytes.size() == 10 + header_length + 24);

  const io::NpyArray f = io::read_npy(dir / "f.npy");
  CHECK(f.type == io::NpyType::Float32);
  CHECK(f.shape == std::vector<std::int64_t>{2, 3});
  CHECK(f.f32 == values);
  CHECK(f.i64.empty());

  const std::vector<std::int64_t> ids = {5, -1, 1LL << 40};
  io::write_npy(dir / "i.npy", ids.data(), {3});
  CHECK(read_all(dir / "i.npy").find("'shape': (3,), }") != std::string::npos);
  const io::NpyArray i = io::read_npy(dir / "i.npy");
  CHECK(i.type == io::NpyType::Int64);
  CHECK(i.shape == std::vector<std::int64_t>{3});
  CHECK(i.i64 == ids);

  io::write_npy(dir / "empty.npy", static_cast<const float*>(nullptr), {0, 4});
  CHECK(io::read_npy(dir / "empty.npy").shape == std::vector<std::int64_t>{0, 4});
}

TEST_CASE("npy: torch tensors in and out", "[npy][torch]") {
  TempDir dir;
  const torch::Tensor x = torch::randn({4, 5}).t();  // non-contiguous on purpose
  io::write_npy(dir / "x.npy", x);
  CHECK(torch::equal(io::read_npy_tensor(dir / "x.npy"), x.contiguous()));
  const torch::Tensor ids = torch::arange(10, torch::kInt64);
  io::write_npy(dir / "ids.npy", ids);
  CHECK(torch::equal(io::read_npy_tensor(dir / "ids.npy"), ids));
  CHECK_THROWS_WITH(io::write_npy(dir / "h.npy", torch::zeros({2}, torch::kFloat16)),
                    Catch::Contains("h.npy") && Catch::Contains("float32 or int64"));
}

TEST_CASE("npy: malformed files give clear errors", "[npy]") {
  TempDir dir;
  const fs::path path = dir / "bad.npy";
  auto error_of = [&](const std::string& bytes) -> std::string {
    write_all(path, bytes);
    try {
      io::read_npy(path);
    } catch (const clipmatch::Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(error_of(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8)) == "(no error)");
  CHECK_THAT(error_of("hello world, not numpy"), Catch::Contains("bad.npy") && Catch::Contains("magic"));
  CHECK_THAT(error_of(npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16)),
             Catch::Contains("unsupported .npy dtype '<f8'"));
  CHECK_THAT(error_of(npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16)),
             Catch::Contains("Fortran"));
  CHECK_THAT(error_of(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8)),
             Catch::Contains("needs 12 data bytes but the file holds 8"));
  CHECK_THAT(error_of(npy_with_header("{'descr': '<f4', 'shape': (2,), }", 8)), Catch::Contains("needs 'descr'"));
  CHECK_THAT(error_of(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 8)),
             Catch::Contains("malformed .npy header"));
  CHECK_THAT(error_of(npy_with_header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", 8)),
             Catch::Contains("True or False"));
  std::string truncated = npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
  truncated[8] = '\xff';
  truncated[9] = '\x7f';
  CHECK_THAT(error_of(truncated), Catch::Contains("runs past the end"));
  CHECK_THAT(error_of(std::string("\x93NUMPY\x09\x00\x00\x00", 10)), Catch::Contains("version 9"));
  CHECK_THROWS_WITH(io::read_npy(dir / "missing.npy"), Catch::Contains("missing.npy"));
}

TEST_CASE("npy: numpy reads what we write and we read what numpy writes", "[npy][python]") {
  if (!python_numpy_available()) {
    WARN("skipped: /usr/bin/python3 with numpy not available");
    return;
  }
  TempDir dir;
  const std::vector<float> values = {0.5f, -1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  io::write_npy(dir / "ours.npy", values.data(), {3, 2});
  const std::vector<std::int64_t> ids = {9, 8, 7};
  io::write_npy(dir / "ids.npy", ids.data(), {3});
  const std::string check = "/usr/bin/python3 -c \"import numpy as n, sys; d=sys.argv[1]; "
                            "a=n.load(d+'/ours.npy'); b=n.load(d+'/ids.npy'); "
                            "assert a.dtype==n.float32 and a.shape==(3,2) and a[2,1]==5.0 and a[0,0]==0.5; "
                            "assert b.dtype==n.int64 and b.tolist()==[9,8,7]; "
                            "n.save(d+'/theirs.npy', n.arange(12, dtype=n.float32).reshape(3,4)*0.5); "
                            "n.save(d+'/theirs_i.npy', n.array([[1,2],[3,4]], dtype=n.int64))\" " +
                            dir.path().string();
  REQUIRE(std::system(check.c_str()) == 0);
  const io::NpyArray theirs = io::read_npy(dir / "theirs.npy");
  CHECK(theirs.shape == std::vector<std::int64_t>{3, 4});
  CHECK(theirs.f32[11] == 5.5f);
  const io::NpyArray theirs_i = io::read_npy(dir / "theirs_i.npy");
  CHECK(theirs_i.i64 == std::vector<std::int64_t>{1, 2, 3, 4});
}
