#include "eval/colormap.hpp"

#include <algorithm>
#include <cmath>

namespace clipmatch::eval {

namespace {

std::array<Rgb, 256> build_viridis() {
  // Horner coefficients per channel, lowest degree first.
  static constexpr double kCoefficients[3][7] = {
      {0.2777273272234177, 0.1050930431085774, -0.3308618287255563, -4.634230498983486, 6.228269936347081,
       4.776384997670288, -5.435455855934631},
      {0.005407344544966578, 1.404613529898575, 0.214847559468213, -5.799100973351585, 14.17993336680509,
       -13.74514537774601, 4.645852612178535},
      {0.3340998053353061, 1.384590162594685, 0.09509516302823659, -19.33244095627987, 56.69055260068105,
       -65.35303263337234, 26.3124352495832},
  };
  std::array<Rgb, 256> table{};
  for (int i = 0; i < 256; ++i) {
    const double t = i / 255.0;
    for (int channel = 0; channel < 3; ++channel) {
      double value = 0;
      for (int degree = 6; degree >= 0; --degree) value = value * t + kCoefficients[channel][degree];
      table[static_cast<std::size_t>(i)][static_cast<std::size_t>(channel)] =
          static_cast<std::uint8_t>(std::lround(std::clamp(value, 0.0, 1.0) * 255.0));
    }
  }
  return table;
}

}  // namespace

const std::array<Rgb, 256>& viridis_table() {
  static const std::array<Rgb, 256> table = build_viridis();
  return table;
}

Rgb viridis(double t) {
  if (std::isnan(t)) return {128, 128, 128};
  const auto index = static_cast<std::size_t>(std::lround(std::clamp(t, 0.0, 1.0) * 255.0));
  return viridis_table()[index];
}

}  // namespace clipmatch::eval
