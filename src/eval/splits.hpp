// Metrics of the whole matrix and of its train and held-out blocks.
#pragma once

#include "eval/similarity.hpp"

#include <vector>

namespace clipmatch::eval {

/// "all": every movie against every movie; "train": train rows against train columns; "heldout": the other
/// movies against each other. Each block keeps the movies' original order, so ties still go to the lower
/// original index. A split with no movies is left out of the map.
/// Throws clipmatch::Error if a train index is out of range or repeated.
SplitMetricsMap evaluate_splits(const torch::Tensor& posters, const torch::Tensor& intros,
                                const std::vector<std::int64_t>& train_indices,
                                std::int64_t chunk_rows = kDefaultChunkRows);

/// Metrics of one square block (movie i = row i = column i).
SplitMetrics evaluate_block(const torch::Tensor& posters, const torch::Tensor& intros,
                            std::int64_t chunk_rows = kDefaultChunkRows);

}  // namespace clipmatch::eval
