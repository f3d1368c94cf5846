// Decoding with stb_image: header check against the pixel limit first, then decode to RGB or RGBA, then
// alpha handling. stb_image's failure reason is thread-local in this build (v2.27), so parallel decoding
// reports the right reason for each file.
#include <clipmatch/image.hpp>

#include "core/fail.hpp"

#include <stb/stb_image.h>

#include <fstream>
#include <iterator>
#include <limits>
#include <memory>

namespace clipmatch {
namespace {

struct StbiFree {
  void operator()(unsigned char* pixels) const { stbi_image_free(pixels); }
};

std::vector<std::uint8_t> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "{}: cannot open image file", path);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(ErrorKind::Io, "{}: read error", path);
  return bytes;
}

// a·c + (1−a)·255 with exact rounding in integers: (a·c + (255−a)·255 + 127) / 255.
std::uint8_t over_white(std::uint8_t colour, std::uint8_t alpha) {
  const int value = alpha * colour + (255 - alpha) * 255;
  return static_cast<std::uint8_t>((value + 127) / 255);
}

}  // namespace

Image decode_image_memory(const std::uint8_t* data, std::size_t size, const std::string& name,
                          const DecodeOptions& options) {
  if (size == 0) fail(ErrorKind::Format, "{}: empty image file", name);
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    fail(ErrorKind::Format, "{}: image file of {} bytes is too large to decode", name, size);
  const int length = static_cast<int>(size);

  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(data, length, &width, &height, &channels))
    fail(ErrorKind::Format, "{}: not a readable image ({})", name, stbi_failure_reason());
  const std::int64_t pixels = static_cast<std::int64_t>(width) * height;
  if (width <= 0 || height <= 0) fail(ErrorKind::Format, "{}: image has no pixels ({}x{})", name, width, height);
  if (pixels > options.max_pixels)
    fail(ErrorKind::Format, "{}: image is {}x{} = {} pixels, more than the limit of {} (decompression bomb?)", name,
         width, height, pixels, options.max_pixels);

  const bool has_alpha = channels == 2 || channels == 4;
  const int wanted = has_alpha ? 4 : 3;
  int decoded_w = 0, decoded_h = 0, file_channels = 0;
  std::unique_ptr<unsigned char, StbiFree> pixels_ptr(
      stbi_load_from_memory(data, length, &decoded_w, &decoded_h, &file_channels, wanted));
  if (!pixels_ptr) fail(ErrorKind::Format, "{}: cannot decode image ({})", name, stbi_failure_reason());
  if (decoded_w != width || decoded_h != height)
    fail(ErrorKind::Format, "{}: header says {}x{} but decoded {}x{}", name, width, height, decoded_w, decoded_h);

  Image image;
  image.width = width;
  image.height = height;
  const std::size_t count = static_cast<std::size_t>(pixels);
  const unsigned char* src = pixels_ptr.get();
  if (!has_alpha) {
    image.rgb.assign(src, src + count * 3);
    return image;
  }
  image.rgb.resize(count * 3);
  std::uint8_t* dst = image.rgb.data();
  const bool composite = options.alpha == AlphaMode::CompositeOnWhite;
  for (std::size_t i = 0; i < count; ++i, src += 4, dst += 3) {
    for (int c = 0; c < 3; ++c) dst[c] = composite ? over_white(src[c], src[3]) : src[c];
  }
  return image;
}

Image decode_image_file(const std::string& path, const DecodeOptions& options) {
  const std::vector<std::uint8_t> bytes = read_whole_file(path);
  return decode_image_memory(bytes.data(), bytes.size(), path, options);
}

}  // namespace clipmatch
