// PNG/JPEG encoding to memory through stb_image_write's callback interface.
#include <clipmatch/image.hpp>

#include "core/fail.hpp"

#include <stb/stb_image_write.h>

namespace clipmatch {
namespace {

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(context);
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

void check_encodable(const Image& image, const char* format) {
  if (image.width <= 0 || image.height <= 0)
    fail(ErrorKind::InvalidArgument, "encode {}: image is empty ({}x{})", format, image.width, image.height);
  if (image.rgb.size() != static_cast<std::size_t>(image.width) * image.height * 3)
    fail(ErrorKind::InvalidArgument, "encode {}: image of {}x{} holds {} bytes, expected {}", format, image.width,
         image.height, image.rgb.size(), static_cast<std::size_t>(image.width) * image.height * 3);
}

}  // namespace

std::vector<std::uint8_t> encode_png(const Image& image) {
  check_encodable(image, "PNG");
  std::vector<std::uint8_t> out;
  if (!stbi_write_png_to_func(append_bytes, &out, image.width, image.height, 3, image.rgb.data(), image.width * 3))
    fail(ErrorKind::Internal, "encode PNG: stb_image_write failed for a {}x{} image", image.width, image.height);
  return out;
}

std::vector<std::uint8_t> encode_jpeg(const Image& image, int quality) {
  check_encodable(image, "JPEG");
  if (quality < 1 || quality > 100) fail(ErrorKind::InvalidArgument, "encode JPEG: quality {} is not in [1, 100]", quality);
  std::vector<std::uint8_t> out;
  if (!stbi_write_jpg_to_func(append_bytes, &out, image.width, image.height, 3, image.rgb.data(), quality))
    fail(ErrorKind::Internal, "encode JPEG: stb_image_write failed for a {}x{} image", image.width, image.height);
  return out;
}

}  // namespace clipmatch
