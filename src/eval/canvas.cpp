#include "eval/canvas.hpp"

#include "core/fail.hpp"

#include <algorithm>
#include <cmath>

// stb_easy_font is header-only with static functions, some of which this file does not call.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <stb/stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#include <stb/stb_image_write.h>

namespace clipmatch::eval {

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
  if (width <= 0 || height <= 0 || width > 32768 || height > 32768) {
    fail(ErrorKind::InvalidArgument, "image size {}x{} is out of range", width, height);
  }
  rgb_.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
  for (std::size_t i = 0; i < rgb_.size(); i += 3) std::copy(background.begin(), background.end(), rgb_.begin() + i);
}

Rgb Canvas::pixel(int x, int y) const {
  const std::size_t at = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) + static_cast<std::size_t>(x)) * 3;
  return {rgb_[at], rgb_[at + 1], rgb_[at + 2]};
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb colour) {
  const int x0 = std::max(0, x), y0 = std::max(0, y);
  const int x1 = std::min(width_, x + w), y1 = std::min(height_, y + h);
  for (int row = y0; row < y1; ++row) {
    for (int col = x0; col < x1; ++col) {
      const std::size_t at = (static_cast<std::size_t>(row) * static_cast<std::size_t>(width_) + static_cast<std::size_t>(col)) * 3;
      std::copy(colour.begin(), colour.end(), rgb_.begin() + static_cast<std::ptrdiff_t>(at));
    }
  }
}

void Canvas::draw_text(int x, int y, const std::string& text, Rgb colour, bool upward) {
  std::string ascii = printable_label(text, text.size());
  if (ascii.empty()) return;
  struct Vertex {
    float x, y, z;
    unsigned char rgba[4];
  };
  static_assert(sizeof(Vertex) == 16, "stb_easy_font writes 16-byte vertices");
  std::vector<Vertex> vertices(ascii.size() * 64);  // the header's guidance: ~270 bytes per character
  const int quads = stb_easy_font_print(0, 0, ascii.data(), nullptr, vertices.data(),
                                        static_cast<int>(vertices.size() * sizeof(Vertex)));
  for (int q = 0; q < quads; ++q) {
    // Every quad is an axis-aligned rectangle: corners 0 and 2 are opposite.
    const Vertex& a = vertices[static_cast<std::size_t>(q) * 4];
    const Vertex& c = vertices[static_cast<std::size_t>(q) * 4 + 2];
    const int qx0 = static_cast<int>(std::lround(std::min(a.x, c.x))), qx1 = static_cast<int>(std::lround(std::max(a.x, c.x)));
    const int qy0 = static_cast<int>(std::lround(std::min(a.y, c.y))), qy1 = static_cast<int>(std::lround(std::max(a.y, c.y)));
    if (upward) {
      // (u, v) in text space → (x + v, y − u): the baseline runs up the image.
      fill_rect(x + qy0, y - qx1, qy1 - qy0, qx1 - qx0, colour);
    } else {
      fill_rect(x + qx0, y + qy0, qx1 - qx0, qy1 - qy0, colour);
    }
  }
}

int Canvas::text_width(const std::string& text) {
  std::string ascii = printable_label(text, text.size());
  return ascii.empty() ? 0 : stb_easy_font_width(ascii.data());
}

std::vector<unsigned char> Canvas::encode_png() const {
  std::vector<unsigned char> png;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<unsigned char>*>(context);
    const auto* bytes = static_cast<const unsigned char*>(data);
    out->insert(out->end(), bytes, bytes + size);
  };
  if (stbi_write_png_to_func(append, &png, width_, height_, 3, rgb_.data(), width_ * 3) == 0) {
    fail(ErrorKind::Internal, "PNG encoding of a {}x{} image failed", width_, height_);
  }
  return png;
}

std::string printable_label(const std::string& text, std::size_t max_chars) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x80) {
      // One '?' per UTF-8 character, not per byte.
      if ((byte & 0xC0) != 0x80) out += '?';
      continue;
    }
    out += (byte >= 32 && byte < 127) ? static_cast<char>(byte) : ' ';
  }
  if (out.size() > max_chars) out = max_chars >= 3 ? out.substr(0, max_chars - 3) + "..." : out.substr(0, max_chars);
  return out;
}

}  // namespace clipmatch::eval
