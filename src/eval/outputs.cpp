#include "eval/outputs.hpp"

#include "core/fail.hpp"

namespace clipmatch::eval {

HeatmapGeometry write_heatmap_png(const std::filesystem::path& path, const torch::Tensor& posters,
                                  const torch::Tensor& intros, const std::vector<std::string>& titles,
                                  DistanceKind kind, std::size_t count) {
  if (count == 0) fail(ErrorKind::InvalidArgument, "heatmap {}: the block must have at least one movie", path.string());
  std::vector<std::int64_t> indices;
  const auto n = static_cast<std::size_t>(posters.defined() && posters.dim() == 2 ? posters.size(0) : 0);
  for (std::size_t i = 0; i < std::min(count, n); ++i) indices.push_back(static_cast<std::int64_t>(i));
  if (indices.empty()) fail(ErrorKind::InvalidArgument, "heatmap {}: no movies to draw", path.string());
  return write_distance_heatmap(path, posters, intros, titles, std::move(indices), kind);
}

void write_topk_csv(const std::filesystem::path& path, const torch::Tensor& posters, const torch::Tensor& intros,
                    const std::vector<std::string>& titles, const std::vector<std::string>& poster_text,
                    std::int64_t k) {
  write_topk_csv(path, build_topk_report(posters, intros, k), titles, poster_text);
}

}  // namespace clipmatch::eval
