// What a synthetic poster shows, as discrete attributes the intro can name and the rasterizer can draw.
#pragma once

#include "synth/random.hpp"

#include <array>
#include <cstdint>
#include <optional>

namespace clipmatch::synth {

enum class Colour { Red, Orange, Yellow, Green, Blue, Purple, Pink, White, Black, Brown };
constexpr int kColourCount = 10;

enum class ShapeKind { Circle, Square, Triangle, Star, Ring, Cross, Diamond };
constexpr int kShapeKindCount = 7;

enum class Position { Top, Bottom, Left, Right, Center };
constexpr int kPositionCount = 5;

enum class BackgroundStyle { Plain, Fading, Striped };
constexpr int kBackgroundStyleCount = 3;

using Rgb = std::array<std::uint8_t, 3>;

/// The nominal sRGB value of a named colour.
Rgb nominal_rgb(Colour colour);

struct Scene {
  BackgroundStyle background_style = BackgroundStyle::Plain;
  Colour background = Colour::Blue;
  bool stripes_vertical = false;   ///< Striped only; not mentioned in intros
  int stripe_count = 6;            ///< Striped only
  ShapeKind kind = ShapeKind::Circle;
  Colour colour = Colour::Red;
  int count = 1;                   ///< 1–4 identical shapes
  Position position = Position::Center;
  double size = 1.0;               ///< relative shape size, jittered around 1
  struct Extra {
    ShapeKind kind;
    Colour colour;
  };
  std::optional<Extra> extra;      ///< one small shape of another kind and colour, opposite the group
  std::array<int, 3> tint{};       ///< small per-poster RGB offsets so equal scenes are not equal images
};

/// Draws a scene with every attribute independent except that shape, extra and background colours differ.
Scene sample_scene(Rng& rng);

}  // namespace clipmatch::synth
