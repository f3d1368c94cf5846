#include "eval/heatmap.hpp"

#include "core/fail.hpp"
#include "eval/canvas.hpp"
#include "eval/distance.hpp"
#include "io/atomic_file.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace clipmatch::eval {

namespace {

constexpr int kMargin = 8;
constexpr int kLabelGap = 4;
constexpr int kBarGap = 16;
constexpr int kBarWidth = 16;
constexpr int kGlyphHeight = 9;  // cap height plus descender of stb_easy_font, for centring in a cell
constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kBlack{0, 0, 0};

std::vector<std::string> labels_or_numbers(const std::vector<std::string>& labels, std::int64_t count,
                                           std::size_t max_chars, const char* axis) {
  if (!labels.empty() && static_cast<std::int64_t>(labels.size()) != count) {
    fail(ErrorKind::InvalidArgument, "heatmap: {} {} labels for {} {}s", labels.size(), axis, count, axis);
  }
  std::vector<std::string> out;
  for (std::int64_t i = 0; i < count; ++i) {
    out.push_back(printable_label(labels.empty() ? std::to_string(i) : labels[static_cast<std::size_t>(i)], max_chars));
  }
  return out;
}

int widest(const std::vector<std::string>& texts) {
  int width = 0;
  for (const auto& text : texts) width = std::max(width, Canvas::text_width(text));
  return width;
}

}  // namespace

HeatmapGeometry write_heatmap_png(const std::filesystem::path& path, const torch::Tensor& block,
                                  const std::vector<std::string>& row_labels,
                                  const std::vector<std::string>& column_labels, const HeatmapOptions& options) {
  if (!block.defined() || block.dim() != 2 || block.size(0) < 1 || block.size(1) < 1 || block.size(0) > 1024 ||
      block.size(1) > 1024) {
    fail(ErrorKind::InvalidArgument, "heatmap {}: expected a 2-D block of 1 to 1024 rows and columns", path.string());
  }
  const torch::Tensor values = block.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const auto v = values.accessor<double, 2>();
  const int rows = static_cast<int>(values.size(0)), cols = static_cast<int>(values.size(1));

  HeatmapGeometry g;
  g.min = std::numeric_limits<double>::infinity();
  g.max = -std::numeric_limits<double>::infinity();
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      if (std::isfinite(v[r][c])) g.min = std::min(g.min, v[r][c]), g.max = std::max(g.max, v[r][c]);
    }
  }
  if (!std::isfinite(g.min)) g.min = g.max = 0;

  const auto row_text = labels_or_numbers(row_labels, rows, options.max_label_chars, "row");
  const auto col_text = labels_or_numbers(column_labels, cols, options.max_label_chars, "column");
  const std::string max_text = fmt::format("{:.4g}", g.max), min_text = fmt::format("{:.4g}", g.min);

  g.cell = options.cell_px > 0 ? options.cell_px : std::clamp(768 / std::max(rows, cols), 12, 48);
  const int title_height = options.title.empty() ? 0 : Canvas::kLineHeight + kLabelGap;
  g.grid_x = kMargin + widest(row_text) + kLabelGap;
  g.grid_y = kMargin + title_height + widest(col_text) + kLabelGap;
  const int grid_w = cols * g.cell, grid_h = rows * g.cell;
  const int bar_x = g.grid_x + grid_w + kBarGap;
  const int bar_h = std::max(grid_h, 3 * Canvas::kLineHeight);
  g.width = bar_x + kBarWidth + kLabelGap + std::max(Canvas::text_width(max_text), Canvas::text_width(min_text)) + kMargin;
  g.width = std::max(g.width, kMargin + Canvas::text_width(options.title) + kMargin);
  g.height = g.grid_y + bar_h + kMargin;

  Canvas canvas(g.width, g.height, kWhite);
  if (!options.title.empty()) canvas.draw_text(kMargin, kMargin, options.title, kBlack);
  const double range = g.max - g.min;
  auto scaled = [&](double value) {
    if (!std::isfinite(value)) return std::numeric_limits<double>::quiet_NaN();
    return range > 0 ? (value - g.min) / range : 0.0;
  };
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      canvas.fill_rect(g.grid_x + c * g.cell, g.grid_y + r * g.cell, g.cell, g.cell, viridis(scaled(v[r][c])));
    }
  }
  const int centring = (g.cell - kGlyphHeight) / 2;
  for (int r = 0; r < rows; ++r) {
    const auto& text = row_text[static_cast<std::size_t>(r)];
    canvas.draw_text(g.grid_x - kLabelGap - Canvas::text_width(text), g.grid_y + r * g.cell + centring, text, kBlack);
  }
  for (int c = 0; c < cols; ++c) {
    canvas.draw_text(g.grid_x + c * g.cell + centring, g.grid_y - kLabelGap, col_text[static_cast<std::size_t>(c)],
                     kBlack, /*upward=*/true);
  }
  for (int y = 0; y < bar_h; ++y) {
    const double t = bar_h > 1 ? 1.0 - static_cast<double>(y) / (bar_h - 1) : 1.0;
    canvas.fill_rect(bar_x, g.grid_y + y, kBarWidth, 1, viridis(t));
  }
  const int label_x = bar_x + kBarWidth + kLabelGap;
  canvas.draw_text(label_x, g.grid_y, max_text, kBlack);
  canvas.draw_text(label_x, g.grid_y + bar_h - Canvas::kLineHeight, min_text, kBlack);

  const std::vector<unsigned char> png = canvas.encode_png();
  io::write_bytes_atomically(path, png.data(), png.size());
  return g;
}

HeatmapGeometry write_distance_heatmap(const std::filesystem::path& path, const torch::Tensor& posters,
                                       const torch::Tensor& intros, const std::vector<std::string>& titles,
                                       std::vector<std::int64_t> indices, DistanceKind kind, HeatmapOptions options) {
  check_embeddings(posters, intros, /*same_count=*/true, "poster", "intro");
  const std::int64_t n = posters.size(0);
  if (!titles.empty() && static_cast<std::int64_t>(titles.size()) != n) {
    fail(ErrorKind::InvalidArgument, "heatmap {}: {} titles for {} movies", path.string(), titles.size(), n);
  }
  if (indices.empty()) {
    for (std::int64_t i = 0; i < std::min<std::int64_t>(64, n); ++i) indices.push_back(i);
  }
  std::vector<std::string> labels;
  for (const std::int64_t i : indices) {
    if (i < 0 || i >= n) fail(ErrorKind::InvalidArgument, "heatmap {}: movie index {} is outside [0, {})", path.string(), i, n);
    labels.push_back(titles.empty() ? std::to_string(i) : titles[static_cast<std::size_t>(i)]);
  }
  const torch::Tensor index = torch::tensor(indices, torch::kInt64).to(posters.device());
  const torch::Tensor block =
      distance_matrix(posters.index_select(0, index), intros.index_select(0, index), kind, kDefaultChunkRows);
  if (options.title.empty()) {
    options.title = fmt::format("distance {} - rows: posters, columns: intros ({} movies)", distance_name(kind),
                                indices.size());
  }
  return write_heatmap_png(path, block, labels, labels, options);
}

}  // namespace clipmatch::eval
