// Draws a Scene into an RGB image: flat colours, shapes antialiased by 4×4 supersampling, no text.
#pragma once

#include "synth/scene.hpp"

#include <cstdint>
#include <vector>

namespace clipmatch::synth {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  ///< row-major, 3 bytes per pixel
};

RgbImage rasterize(const Scene& scene, int width, int height);

}  // namespace clipmatch::synth
