// The report files of an evaluation, each from the poster/intro embeddings: metrics.json, distance.npy,
// heatmap.png and topk.csv. One include for callers; each writer lives in its own file.
#pragma once

#include "eval/distance_npy.hpp"
#include "eval/heatmap.hpp"
#include "eval/metrics_json.hpp"
#include "eval/topk_report.hpp"

namespace clipmatch::eval {

/// heatmap.png of the first min(count, N) movies (rows: their posters, columns: their intros, labelled with
/// `titles`, which may be empty for row numbers).
HeatmapGeometry write_heatmap_png(const std::filesystem::path& path, const torch::Tensor& posters,
                                  const torch::Tensor& intros, const std::vector<std::string>& titles,
                                  DistanceKind kind, std::size_t count);

/// topk.csv straight from the embeddings: build_topk_report(posters, intros, k) then write_topk_csv.
void write_topk_csv(const std::filesystem::path& path, const torch::Tensor& posters, const torch::Tensor& intros,
                    const std::vector<std::string>& titles, const std::vector<std::string>& poster_text = {},
                    std::int64_t k = 5);

}  // namespace clipmatch::eval
