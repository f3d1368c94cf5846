// Decoding with stb_image: header check against the pixel limit first, then decode to RGB or RGBA, then
// alpha handling. stb_image's failure reason is thread-local in this build (v2.27), so parallel decoding
// reports the right reason for each file.
#include <clipmatch/image.hpp>

#include "core/fail.hpp"

#include <fmt/format.h>

#include <stb/stb_image.h>

#include <algorithm>
#include <cctype>
#include <string_view>
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

/// The container format by its signature, for messages: stb_image reports the reason of the last decoder it
/// tried, which for a damaged JPEG is a PNG decoder's complaint.
const char* format_of(const std::uint8_t* data, std::size_t size) {
  auto starts = [&](std::initializer_list<std::uint8_t> magic) {
    return size >= magic.size() && std::equal(magic.begin(), magic.end(), data);
  };
  if (starts({0xFF, 0xD8, 0xFF})) return "JPEG";
  if (starts({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})) return "PNG";
  if (starts({'G', 'I', 'F', '8'})) return "GIF";
  if (starts({'B', 'M'})) return "BMP";
  return nullptr;
}

bool is_format(const std::uint8_t* data, std::size_t size, std::string_view format) {
  const char* found = format_of(data, size);
  return found != nullptr && format == found;
}

/// Why decoding failed: the damaged format when its signature is known, else stb_image's reason.
std::string failure_reason(const std::uint8_t* data, std::size_t size) {
  if (const char* format = format_of(data, size)) return fmt::format("a corrupt or truncated {} file", format);
  return fmt::format("not a supported image format: {}", stbi_failure_reason());
}

/// Inputs that stb_image 2.27 (Debian's) mishandles, refused before it sees them (found by fuzz/fuzz_image):
/// a JPEG Huffman table of more than 256 codes (writes past its tables), a 16-bit PNM (reads past its
/// buffer), and the PSD / HDR / PIC decoders (undefined float conversions), which posters never need.
void refuse_what_stb_mishandles(const std::uint8_t* data, std::size_t size, const std::string& name) {
  auto starts = [&](std::string_view magic) {
    return size >= magic.size() && std::equal(magic.begin(), magic.end(), reinterpret_cast<const char*>(data));
  };
  if (starts("8BPS") || starts("#?RADIANCE") || starts("#?RGBE") || starts("\x53\x80\xF6\x34"))
    fail(ErrorKind::Format, "{}: PSD, HDR and PIC images are not supported (use JPEG, PNG, BMP, GIF, TGA or PNM)", name);
  if (size >= 2 && data[0] == 'P' && (data[1] == '5' || data[1] == '6')) {
    // PNM header: magic, width, height, maxval as whitespace-separated decimals ('#' comments to end of line).
    std::size_t at = 2;
    long fields[3] = {0, 0, 0};
    for (long& field : fields) {
      while (at < size && (std::isspace(data[at]) || data[at] == '#')) {
        if (data[at] == '#') while (at < size && data[at] != '\n') ++at;
        else ++at;
      }
      while (at < size && std::isdigit(data[at]) && field < 1'000'000) field = field * 10 + (data[at++] - '0');
    }
    if (fields[2] > 255) fail(ErrorKind::Format, "{}: 16-bit PNM images are not supported (maxval {})", name, fields[2]);
  }
  if (is_format(data, size, "JPEG")) {
    // Walk the markers (also those between the scans of a progressive JPEG) and check every DHT table.
    for (std::size_t at = 2; at + 4 <= size;) {
      if (data[at] != 0xFF) {  // entropy-coded data: skip to the next marker
        ++at;
        continue;
      }
      const std::uint8_t marker = data[at + 1];
      if (marker == 0x00 || marker == 0xFF || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
        ++at;
        continue;
      }
      if (marker == 0xD9) break;
      const std::size_t length = (std::size_t{data[at + 2]} << 8) | data[at + 3];
      if (marker == 0xC4) {
        // stb reads a truncated table as zeros past the end, and counts them as it does.
        for (std::size_t table = at + 4; table < std::min(size, at + 2 + length);) {
          std::size_t codes = 0;
          for (std::size_t i = 1; i <= 16; ++i) codes += table + i < size ? data[table + i] : 0;
          if (codes > 256) fail(ErrorKind::Format, "{}: corrupt JPEG (a Huffman table of {} codes)", name, codes);
          table += 17 + codes;
        }
      }
      at += 2 + length;
    }
  }
}

/// A PNG's size from its IHDR chunk: stb_image refuses to even report dimensions it considers too large, which
/// would hide that a file is a decompression bomb behind "unknown image type".
bool png_header_size(const std::uint8_t* data, std::size_t size, std::uint64_t& width, std::uint64_t& height) {
  if (size < 24 || !is_format(data, size, "PNG")) return false;
  auto be32 = [&](std::size_t at) {  // < 2^32 each, so their product fits in 64 bits
    return (std::uint64_t{data[at]} << 24) | (std::uint64_t{data[at + 1]} << 16) | (std::uint64_t{data[at + 2]} << 8) |
           std::uint64_t{data[at + 3]};
  };
  width = be32(16);
  height = be32(20);
  return true;
}

}  // namespace

Image decode_image_memory(const std::uint8_t* data, std::size_t size, const std::string& name,
                          const DecodeOptions& options) {
  if (size == 0) fail(ErrorKind::Format, "{}: empty image file", name);
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    fail(ErrorKind::Format, "{}: image file of {} bytes is too large to decode", name, size);
  const int length = static_cast<int>(size);

  refuse_what_stb_mishandles(data, size, name);
  std::uint64_t png_width = 0, png_height = 0;
  if (png_header_size(data, size, png_width, png_height) &&
      png_width * png_height > static_cast<std::uint64_t>(std::max<std::int64_t>(0, options.max_pixels)))
    fail(ErrorKind::Format, "{}: image is {}x{} = {} pixels, more than the limit of {} (decompression bomb?)", name,
         png_width, png_height, png_width * png_height, options.max_pixels);
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(data, length, &width, &height, &channels))
    fail(ErrorKind::Format, "{}: not a readable image ({})", name, failure_reason(data, size));
  if (height < 0 && is_format(data, size, "BMP"))
    height = -height;  // a top-down BMP: stb_image 2.27 reports its height negated
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
  if (!pixels_ptr) fail(ErrorKind::Format, "{}: cannot decode image ({})", name, failure_reason(data, size));
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
