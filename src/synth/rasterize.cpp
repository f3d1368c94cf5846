#include "synth/rasterize.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace clipmatch::synth {

namespace {

struct Colourf {
  double r, g, b;
};

Colourf to_float(Rgb c) { return {double(c[0]), double(c[1]), double(c[2])}; }
Colourf mix(Colourf a, Colourf b, double t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

struct Point {
  double x, y;
};

/// Crossing-number test; polygons here are small (3 or 10 vertices).
bool inside_polygon(const std::vector<Point>& polygon, double x, double y) {
  bool inside = false;
  for (std::size_t i = 0, j = polygon.size() - 1; i < polygon.size(); j = i++) {
    const Point& a = polygon[i];
    const Point& b = polygon[j];
    if ((a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

/// A five-pointed star pointing up, inner radius 0.42; the vertices are literal so that no libm difference
/// can change a pixel.
std::vector<Point> five_pointed_star() {
  constexpr double c18 = 0.9510565162951535, s18 = 0.3090169943749474;
  constexpr double c54 = 0.5877852522924731, s54 = 0.8090169943749475;
  constexpr double r = 0.42;
  return {{0, -1},          {c54 * r, -s54 * r}, {c18, -s18},        {c18 * r, s18 * r}, {c54, s54},
          {0, r},           {-c54, s54},         {-c18 * r, s18 * r}, {-c18, -s18},       {-c54 * r, -s54 * r}};
}

/// Whether the point (u, v), in units of the shape's radius around its centre (v grows downwards), is inside.
bool inside_shape(ShapeKind kind, double u, double v) {
  static const std::vector<Point> triangle = {{0.0, -1.0}, {0.92, 0.62}, {-0.92, 0.62}};
  static const std::vector<Point> star = five_pointed_star();
  const double au = std::abs(u), av = std::abs(v);
  switch (kind) {
    case ShapeKind::Circle: return u * u + v * v <= 1.0;
    case ShapeKind::Ring: {
      const double r2 = u * u + v * v;
      return r2 <= 1.0 && r2 >= 0.52 * 0.52;
    }
    case ShapeKind::Square: return std::max(au, av) <= 0.8;
    case ShapeKind::Diamond: return au + av <= 1.0;
    case ShapeKind::Cross: return (au <= 0.3 && av <= 1.0) || (av <= 0.3 && au <= 1.0);
    case ShapeKind::Triangle: return inside_polygon(triangle, u, v + 0.19);  // centred on its bounding box
    case ShapeKind::Star: return inside_polygon(star, u, v + 0.1);
  }
  return false;
}

struct Placed {
  ShapeKind kind;
  Colourf colour;
  double cx, cy, radius;
};

/// Centres and radius of the group: a row for top/bottom/centre, a column for left/right, a 2×2 grid for
/// four shapes in the centre.
std::vector<Placed> place_group(const Scene& scene, double w, double h) {
  double x0 = 0, y0 = 0, x1 = w, y1 = h;
  bool column = false;
  switch (scene.position) {
    case Position::Top: y1 = 0.42 * h; break;
    case Position::Bottom: y0 = 0.58 * h; break;
    case Position::Left: x1 = 0.45 * w; y0 = 0.08 * h; y1 = 0.92 * h; column = true; break;
    case Position::Right: x0 = 0.55 * w; y0 = 0.08 * h; y1 = 0.92 * h; column = true; break;
    case Position::Center: x0 = 0.08 * w; x1 = 0.92 * w; y0 = 0.25 * h; y1 = 0.75 * h; break;
  }
  int columns = column ? 1 : scene.count;
  int rows = column ? scene.count : 1;
  if (scene.position == Position::Center && scene.count == 4) columns = rows = 2;
  const double cell_w = (x1 - x0) / columns, cell_h = (y1 - y0) / rows;
  const double radius = 0.5 * std::min(cell_w, cell_h) * 0.82 * scene.size;
  std::vector<Placed> placed;
  const Colourf colour = to_float(nominal_rgb(scene.colour));
  for (int i = 0; i < scene.count; ++i) {
    const int cx = i % columns, cy = i / columns;
    placed.push_back({scene.kind, colour, x0 + (cx + 0.5) * cell_w, y0 + (cy + 0.5) * cell_h, radius});
  }
  return placed;
}

/// The extra shape sits opposite the group, small.
Placed place_extra(const Scene& scene, double w, double h) {
  double cx = 0.5 * w, cy = 0.5 * h;
  switch (scene.position) {
    case Position::Top: cy = 0.8 * h; break;
    case Position::Bottom: cy = 0.2 * h; break;
    case Position::Left: cx = 0.78 * w; break;
    case Position::Right: cx = 0.22 * w; break;
    case Position::Center: cy = 0.89 * h; break;
  }
  return {scene.extra->kind, to_float(nominal_rgb(scene.extra->colour)), cx, cy, 0.09 * std::min(w, h) * 1.2};
}

Colourf background_at(const Scene& scene, int x, int y, int width, int height) {
  const Colourf base = to_float(nominal_rgb(scene.background));
  const bool dark = scene.background == Colour::Black || scene.background == Colour::Brown;
  switch (scene.background_style) {
    case BackgroundStyle::Plain: return base;
    case BackgroundStyle::Fading: {
      // Dark colours fade towards grey, the others towards black.
      const Colourf end = dark ? Colourf{110, 110, 110} : Colourf{base.r * 0.3, base.g * 0.3, base.b * 0.3};
      return mix(base, end, double(y) / std::max(1, height - 1));
    }
    case BackgroundStyle::Striped: {
      const int along = scene.stripes_vertical ? x : y;
      const int length = scene.stripes_vertical ? width : height;
      const int band = along * scene.stripe_count / std::max(1, length);
      if (band % 2 == 0) return base;
      const bool light = scene.background == Colour::White || scene.background == Colour::Yellow;
      return mix(base, light ? Colourf{0, 0, 0} : Colourf{255, 255, 255}, light ? 0.25 : 0.4);
    }
  }
  return base;
}

}  // namespace

RgbImage rasterize(const Scene& scene, int width, int height) {
  constexpr int kSamples = 4;  // per axis
  RgbImage image{width, height, std::vector<std::uint8_t>(std::size_t(width) * height * 3)};
  std::vector<Colourf> canvas(std::size_t(width) * height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) canvas[std::size_t(y) * width + x] = background_at(scene, x, y, width, height);
  }

  std::vector<Placed> shapes = place_group(scene, width, height);
  if (scene.extra) shapes.push_back(place_extra(scene, width, height));
  for (const Placed& shape : shapes) {
    const int xa = std::max(0, int(std::floor(shape.cx - shape.radius)) - 1);
    const int xb = std::min(width - 1, int(std::ceil(shape.cx + shape.radius)) + 1);
    const int ya = std::max(0, int(std::floor(shape.cy - shape.radius)) - 1);
    const int yb = std::min(height - 1, int(std::ceil(shape.cy + shape.radius)) + 1);
    for (int y = ya; y <= yb; ++y) {
      for (int x = xa; x <= xb; ++x) {
        int hits = 0;
        for (int sy = 0; sy < kSamples; ++sy) {
          for (int sx = 0; sx < kSamples; ++sx) {
            const double px = x + (sx + 0.5) / kSamples, py = y + (sy + 0.5) / kSamples;
            hits += inside_shape(shape.kind, (px - shape.cx) / shape.radius, (py - shape.cy) / shape.radius);
          }
        }
        if (hits == 0) continue;
        Colourf& pixel = canvas[std::size_t(y) * width + x];
        pixel = mix(pixel, shape.colour, double(hits) / (kSamples * kSamples));
      }
    }
  }

  for (std::size_t i = 0; i < canvas.size(); ++i) {
    const double channels[3] = {canvas[i].r, canvas[i].g, canvas[i].b};
    for (int c = 0; c < 3; ++c) {
      const double value = std::round(channels[c] + scene.tint[c]);
      image.pixels[i * 3 + c] = static_cast<std::uint8_t>(std::clamp(value, 0.0, 255.0));
    }
  }
  return image;
}

}  // namespace clipmatch::synth
