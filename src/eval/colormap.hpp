// The viridis colour map as a 256-entry RGB table.
#pragma once

#include <array>
#include <cstdint>

namespace clipmatch::eval {

using Rgb = std::array<std::uint8_t, 3>;

/// Viridis (dark purple → teal → yellow, perceptually uniform and legible in grey and to colour-blind
/// readers), tabulated from a degree-6 polynomial fit whose channels stay within 0.02 of matplotlib's table.
const std::array<Rgb, 256>& viridis_table();

/// t in [0, 1] (clamped) → colour; NaN → mid grey.
Rgb viridis(double t);

}  // namespace clipmatch::eval
