// Public .npy helpers over the internal npy reader/writer.
#include "io/npy.hpp"

#include "core/fail.hpp"

#include <clipmatch/array_io.hpp>

#include <algorithm>

namespace clipmatch {

void save_npy(const std::string& path, const Matrix& matrix) {
  io::write_npy(path, matrix.data(), {static_cast<std::int64_t>(matrix.rows()), static_cast<std::int64_t>(matrix.cols())});
}

Matrix load_npy(const std::string& path) {
  const auto array = io::read_npy(path);
  if (array.type != io::NpyType::Float32 || array.shape.size() != 2) {
    fail(ErrorKind::Format, "{}: expected a 2-D float32 array", path);
  }
  Matrix out(array.shape[0], array.shape[1]);
  std::copy(array.f32.begin(), array.f32.end(), out.data());
  return out;
}

}  // namespace clipmatch
