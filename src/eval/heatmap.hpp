// heatmap.png: a block of the distance matrix in viridis, with row/column labels and a colour-scale bar.
#pragma once

#include "eval/similarity.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace clipmatch::eval {

struct HeatmapOptions {
  std::string title;                  ///< one line above the grid; empty: none
  std::size_t max_label_chars = 28;   ///< longer labels end in "..."
  int cell_px = 0;                    ///< pixels per cell; 0: 768 / max(rows, cols), clamped to [12, 48]
};

/// Where things landed in the written image (for callers and tests that look at pixels).
struct HeatmapGeometry {
  int width = 0, height = 0;   ///< image size
  int grid_x = 0, grid_y = 0;  ///< top-left pixel of cell (0, 0)
  int cell = 0;                ///< cell size in pixels
  double min = 0, max = 0;     ///< the values mapped to the two ends of the colour scale
};

/// Renders `block` (2-D, any float dtype, any device; at most 1024 × 1024) with the smallest value dark
/// purple and the largest yellow, and writes it atomically as a PNG. Labels may be empty (then row/column
/// numbers are shown) or must match the block's rows/columns. Non-finite cells are grey and ignored by the
/// scale. Throws clipmatch::Error on bad shapes or I/O failure.
HeatmapGeometry write_heatmap_png(const std::filesystem::path& path, const torch::Tensor& block,
                                  const std::vector<std::string>& row_labels,
                                  const std::vector<std::string>& column_labels, const HeatmapOptions& options = {});

/// The distance heatmap of chosen movies: rows are their posters, columns their intros, labelled with their
/// titles (or their row numbers when `titles` is empty; otherwise titles[i] names movie i). `indices` empty:
/// the first min(64, N) movies. The default title names the orientation and the distance.
HeatmapGeometry write_distance_heatmap(const std::filesystem::path& path, const torch::Tensor& posters,
                                       const torch::Tensor& intros, const std::vector<std::string>& titles,
                                       std::vector<std::int64_t> indices = {},
                                       DistanceKind kind = DistanceKind::OneMinusCosine, HeatmapOptions options = {});

}  // namespace clipmatch::eval
