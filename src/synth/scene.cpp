#include "synth/scene.hpp"

namespace clipmatch::synth {

Rgb nominal_rgb(Colour colour) {
  switch (colour) {
    case Colour::Red: return {210, 35, 40};
    case Colour::Orange: return {240, 140, 20};
    case Colour::Yellow: return {245, 220, 40};
    case Colour::Green: return {40, 160, 60};
    case Colour::Blue: return {35, 80, 205};
    case Colour::Purple: return {130, 50, 170};
    case Colour::Pink: return {245, 150, 190};
    case Colour::White: return {245, 245, 240};
    case Colour::Black: return {20, 20, 25};
    case Colour::Brown: return {120, 75, 35};
  }
  return {0, 0, 0};
}

namespace {

Colour random_colour_except(Rng& rng, std::initializer_list<Colour> taken) {
  for (;;) {
    const auto colour = static_cast<Colour>(rng.below(kColourCount));
    bool free = true;
    for (Colour t : taken) free = free && t != colour;
    if (free) return colour;
  }
}

}  // namespace

Scene sample_scene(Rng& rng) {
  Scene scene;
  scene.background_style = static_cast<BackgroundStyle>(rng.below(kBackgroundStyleCount));
  scene.background = static_cast<Colour>(rng.below(kColourCount));
  scene.stripes_vertical = rng.chance(0.5);
  scene.stripe_count = rng.between(4, 9);
  scene.kind = static_cast<ShapeKind>(rng.below(kShapeKindCount));
  scene.colour = random_colour_except(rng, {scene.background});
  scene.count = rng.between(1, 4);
  scene.position = static_cast<Position>(rng.below(kPositionCount));
  scene.size = rng.uniform(0.8, 1.15);
  if (rng.chance(0.35)) {
    ShapeKind kind;
    do {
      kind = static_cast<ShapeKind>(rng.below(kShapeKindCount));
    } while (kind == scene.kind);
    scene.extra = Scene::Extra{kind, random_colour_except(rng, {scene.background, scene.colour})};
  }
  for (int& t : scene.tint) t = rng.between(-14, 14);
  return scene;
}

}  // namespace clipmatch::synth
