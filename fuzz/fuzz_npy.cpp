// libFuzzer target: the .npy reader (src/io/npy.cpp, io::read_npy) and the public load_npy
// (src/io/array_io.cpp), both of which only take a path: the input is placed in a memfd opened as
// /proc/self/fd/N.
//
// For an accepted array: numel(shape) elements are held in the vector its type says, the other is empty;
// write_npy of the result (to a scratch file) and read_npy again must give the same shape and bytes.
// load_npy must accept exactly the 2-D float32 arrays read_npy accepts, with the same values.
#include <clipmatch/array_io.hpp>

#include "fuzz_common.hpp"
#include "io/npy.hpp"

#include <cstring>

namespace {

using clipmatch::io::NpyArray;
using clipmatch::io::NpyType;

void check_accepted(const NpyArray& array) {
  std::uint64_t numel = 1;
  for (const std::int64_t extent : array.shape) {
    FUZZ_CHECK(extent >= 0, "negative extent accepted");
    numel *= static_cast<std::uint64_t>(extent);
  }
  if (array.type == NpyType::Float32) {
    FUZZ_CHECK(array.f32.size() == numel && array.i64.empty(), "float32 array holds the wrong number of values");
  } else {
    FUZZ_CHECK(array.i64.size() == numel && array.f32.empty(), "int64 array holds the wrong number of values");
  }
  FUZZ_CHECK(static_cast<std::uint64_t>(array.numel()) == numel, "numel() disagrees with the shape");
}

void round_trip(const NpyArray& array) {
  const auto path = fuzz::scratch_dir() / "roundtrip.npy";
  const bool written = fuzz::guarded("write_npy", [&] {
    if (array.type == NpyType::Float32) {
      clipmatch::io::write_npy(path, array.f32.data(), array.shape);
    } else {
      clipmatch::io::write_npy(path, array.i64.data(), array.shape);
    }
  });
  if (!written) return;  // e.g. a rank too high for a version 1.0 header
  NpyArray again;
  try {
    again = clipmatch::io::read_npy(path);
  } catch (const clipmatch::Error& e) {
    fuzz::finding("write_npy wrote a file read_npy rejects", e.what());
  }
  FUZZ_CHECK(again.type == array.type && again.shape == array.shape, "npy round trip changed type or shape");
  FUZZ_CHECK(again.i64 == array.i64, "npy round trip changed int64 values");
  FUZZ_CHECK(again.f32.size() == array.f32.size() &&
                 (array.f32.empty() ||
                  std::memcmp(again.f32.data(), array.f32.data(), array.f32.size() * sizeof(float)) == 0),
             "npy round trip changed float32 bytes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemFile input("fuzz_npy");
  input.assign(data, size);

  NpyArray array;
  const bool read = fuzz::guarded("read_npy", [&] { array = clipmatch::io::read_npy(input.path()); });
  if (read) {
    check_accepted(array);
    round_trip(array);
  }

  const bool is_matrix = read && array.type == NpyType::Float32 && array.shape.size() == 2;
  clipmatch::Matrix matrix;
  const bool loaded = fuzz::guarded("load_npy", [&] { matrix = clipmatch::load_npy(input.path()); });
  FUZZ_CHECK(loaded == is_matrix, loaded ? "load_npy accepted what read_npy refuses as a matrix"
                                         : "load_npy refused a 2-D float32 array read_npy accepts");
  if (loaded) {
    FUZZ_CHECK(matrix.rows() == array.shape[0] && matrix.cols() == array.shape[1], "load_npy changed the shape");
    FUZZ_CHECK(array.f32.empty() ||
                   std::memcmp(matrix.data(), array.f32.data(), array.f32.size() * sizeof(float)) == 0,
               "load_npy changed the values");
  }
  return 0;
}
