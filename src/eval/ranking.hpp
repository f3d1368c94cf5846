// Nearest neighbours and ranks of the true match, computed chunk by chunk so no N × N matrix is materialised.
//
// Both work on the float32 cosine similarity (higher = nearer). Every DistanceKind is a decreasing function of
// it, so ranking by similarity is ranking by distance, and no tie is created or lost by the 1 − cos rounding.
// Ties are exact ties of the computed similarities and go to the lower index.
#pragma once

#include "eval/similarity.hpp"

#include <vector>

namespace clipmatch::eval {

/// The k nearest keys of each query, nearest first, ties to the lower key index.
struct Nearest {
  torch::Tensor indices;    ///< int64 CPU [queries, k]
  torch::Tensor distances;  ///< float32 CPU [queries, k], in the requested DistanceKind
};

/// Throws clipmatch::Error unless 1 ≤ k ≤ keys.size(0).
Nearest topk_nearest(const torch::Tensor& queries, const torch::Tensor& keys, std::int64_t k,
                     std::int64_t chunk_rows = kDefaultChunkRows, DistanceKind kind = DistanceKind::OneMinusCosine);

/// For each query i, the 1-based rank of key i among all keys:
///   rank_i = 1 + #{j : s(i,j) > s(i,i)} + #{j < i : s(i,j) == s(i,i)}.
/// queries and keys must have the same number of rows.
std::vector<std::int64_t> true_match_ranks(const torch::Tensor& queries, const torch::Tensor& keys,
                                           std::int64_t chunk_rows = kDefaultChunkRows);

/// Ranks in both directions of the poster (row) × intro (column) matrix.
struct MatchRanks {
  std::vector<std::int64_t> poster_to_intro;  ///< per poster row: rank of its own intro among all intros
  std::vector<std::int64_t> intro_to_poster;  ///< per intro column: rank of its own poster among all posters
};

MatchRanks match_ranks(const torch::Tensor& posters, const torch::Tensor& intros,
                       std::int64_t chunk_rows = kDefaultChunkRows);

}  // namespace clipmatch::eval
