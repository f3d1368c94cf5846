// metrics.json: the split metrics of one evaluation, in the layout the course reports use.
#pragma once

#include <clipmatch/metrics.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace clipmatch::eval {

/// {"n": N, "distance": "1-cos", "splits": {"all": {"n", "acc_dim0", "acc_dim1",
///   "poster_to_intro": {"r1", "r5", "r10", "median_rank", "mean_rank"}, "intro_to_poster": {...}}, "train": ...}}
/// Splits appear in the order all, train, heldout, then any others.
/// One split's object as it appears in metrics.json (also used for the per-epoch training log).
nlohmann::ordered_json split_json(const SplitMetrics& metrics);
/// The inverse of split_json; throws clipmatch::Error (Format) naming `where` and the missing field.
SplitMetrics split_from_json(const nlohmann::json& json, const std::string& where);

nlohmann::ordered_json metrics_to_json(std::size_t n, DistanceKind kind, const SplitMetricsMap& splits);

/// Writes metrics_to_json(...) atomically, indented by 2. Throws clipmatch::Error (Io) naming `path`.
void write_metrics_json(const std::filesystem::path& path, std::size_t n, DistanceKind kind,
                        const SplitMetricsMap& splits);

}  // namespace clipmatch::eval
