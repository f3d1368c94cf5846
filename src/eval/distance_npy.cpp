#include "eval/distance_npy.hpp"

#include "core/fail.hpp"
#include "eval/distance.hpp"
#include "io/atomic_file.hpp"

#include <cstring>

namespace clipmatch::eval {

namespace {

// The .npy 1.0 preamble: magic, version, little-endian u16 header length, then a Python dict literal padded
// with spaces and ended by '\n' so that the data starts on a 64-byte boundary.
std::string npy_header(std::int64_t rows, std::int64_t cols) {
  std::string dict = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", rows, cols);
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  if (dict.size() > 65535) fail(ErrorKind::Internal, ".npy header of {} bytes does not fit format 1.0", dict.size());
  std::string header("\x93NUMPY\x01\x00", 8);
  header += static_cast<char>(dict.size() & 0xFF);
  header += static_cast<char>((dict.size() >> 8) & 0xFF);
  return header + dict;
}

}  // namespace

void write_distance_npy(const std::filesystem::path& path, const torch::Tensor& posters, const torch::Tensor& intros,
                        DistanceKind kind, std::int64_t chunk_rows) {
  static_assert(sizeof(float) == 4, "'<f4' needs 4-byte floats");
  const std::uint16_t probe = 1;
  unsigned char first_byte = 0;
  std::memcpy(&first_byte, &probe, 1);
  if (first_byte != 1) fail(ErrorKind::Unsupported, "{}: writing '<f4' .npy needs a little-endian host", path.string());

  check_embeddings(posters, intros, /*same_count=*/false, "poster", "intro");
  io::write_file_atomically(path, [&](std::ostream& out) {
    const std::string header = npy_header(posters.size(0), intros.size(0));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for_each_distance_chunk(posters, intros, kind, chunk_rows, [&](std::int64_t, const torch::Tensor& chunk) {
      out.write(reinterpret_cast<const char*>(chunk.data_ptr<float>()),
                static_cast<std::streamsize>(chunk.numel() * sizeof(float)));
    });
  });
}

}  // namespace clipmatch::eval
