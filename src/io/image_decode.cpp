// Decoding with stb_image: header check against the pixel limit first, then decode to RGB or RGBA, then
// alpha handling. stb_image's failure reason is thread-local in this build (v2.27), so parallel decoding
// reports the right reason for each file.
#include <clipmatch/image.hpp>

#include "core/fail.hpp"

#include <stb/stb_image.h>

#include <algorithm>
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

  PixelView view;
  view.data = pixels_ptr.get();
  view.width = static_cast<std::size_t>(width);
  view.height = static_cast<std::size_t>(height);
  view.channels = static_cast<std::size_t>(wanted);
  view.stride = view.width * view.channels;
  return image_from_pixels(view, options);
}

// Decoded files and caller-given pixels meet here, so a poster gives the same RGB whichever way it came.
Image image_from_pixels(const PixelView& pixels, const DecodeOptions& options) {
  if (pixels.data == nullptr) fail(ErrorKind::InvalidArgument, "pixels: data is NULL");
  if (pixels.channels != 3 && pixels.channels != 4)
    fail(ErrorKind::InvalidArgument, "pixels: channels must be 3 (RGB) or 4 (RGBA), got {}", pixels.channels);
  if (pixels.width == 0 || pixels.height == 0)
    fail(ErrorKind::InvalidArgument, "pixels: image has no pixels ({}x{})", pixels.width, pixels.height);
  constexpr std::size_t kMaxSide = 1u << 20;
  if (pixels.width > kMaxSide || pixels.height > kMaxSide ||
      static_cast<double>(pixels.width) * static_cast<double>(pixels.height) > static_cast<double>(options.max_pixels))
    fail(ErrorKind::Format, "pixels: image is {}x{}, more than the limit of {} pixels", pixels.width, pixels.height,
         options.max_pixels);
  const std::size_t row_bytes = pixels.width * pixels.channels;
  if (pixels.stride < row_bytes)
    fail(ErrorKind::InvalidArgument, "pixels: stride {} is shorter than a row of {} pixels × {} channels = {} bytes",
         pixels.stride, pixels.width, pixels.channels, row_bytes);

  Image image;
  image.width = static_cast<int>(pixels.width);
  image.height = static_cast<int>(pixels.height);
  image.rgb.resize(pixels.width * pixels.height * 3);
  std::uint8_t* dst = image.rgb.data();
  const bool composite = options.alpha == AlphaMode::CompositeOnWhite;
  for (std::size_t y = 0; y < pixels.height; ++y) {
    const std::uint8_t* src = pixels.data + y * pixels.stride;
    if (pixels.channels == 3) {
      std::copy(src, src + row_bytes, dst);
      dst += row_bytes;
      continue;
    }
    for (std::size_t x = 0; x < pixels.width; ++x, src += 4, dst += 3) {
      for (int c = 0; c < 3; ++c) dst[c] = composite ? over_white(src[c], src[3]) : src[c];
    }
  }
  return image;
}

Image decode_image_file(const std::string& path, const DecodeOptions& options) {
  const std::vector<std::uint8_t> bytes = read_whole_file(path);
  return decode_image_memory(bytes.data(), bytes.size(), path, options);
}

}  // namespace clipmatch
