// A small RGB raster with filled rectangles and stb_easy_font text, encoded to PNG by stb_image_write.
#pragma once

#include "eval/colormap.hpp"

#include <string>
#include <vector>

namespace clipmatch::eval {

class Canvas {
 public:
  Canvas(int width, int height, Rgb background);

  int width() const { return width_; }
  int height() const { return height_; }
  Rgb pixel(int x, int y) const;

  /// Fills [x, x + w) × [y, y + h), clipped to the canvas.
  void fill_rect(int x, int y, int w, int h, Rgb colour);

  /// Draws `text` with its top-left corner at (x, y), reading left to right; with `upward` it is turned
  /// 90° anticlockwise and (x, y) is its bottom-left corner, so it reads bottom to top.
  void draw_text(int x, int y, const std::string& text, Rgb colour, bool upward = false);

  /// Advance width in pixels of `text` as draw_text renders it.
  static int text_width(const std::string& text);
  /// Height of one line of text in pixels (glyphs with descenders included).
  static constexpr int kLineHeight = 12;

  /// PNG bytes of the canvas.
  std::vector<unsigned char> encode_png() const;

 private:
  int width_;
  int height_;
  std::vector<unsigned char> rgb_;
};

/// `text` with bytes outside printable ASCII (UTF-8 included) replaced by '?', cut to at most `max_chars`
/// characters (the last three then "...").
std::string printable_label(const std::string& text, std::size_t max_chars);

}  // namespace clipmatch::eval
