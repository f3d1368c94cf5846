// Chunked cosine similarity of two embedding sets: the one primitive every eval routine is built on, so that
// an N × N matrix never has to exist at once (N = 50,000 would be 10 GB of float32).
#pragma once

#include <clipmatch/metrics.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <functional>

namespace clipmatch::eval {

/// Rows per chunk when the caller does not say: 2048 × 50,000 float32 is 400 MB, comfortable on a GPU.
inline constexpr std::int64_t kDefaultChunkRows = 2048;

/// Throws clipmatch::Error unless both are finite 2-D floating tensors with the same width on one device;
/// with `same_count` they must also have the same number of rows (movie i in both).
void check_embeddings(const torch::Tensor& queries, const torch::Tensor& keys, bool same_count,
                      const char* queries_name, const char* keys_name);

/// Maps cosine similarity to the distance `kind` (elementwise, any device).
torch::Tensor similarity_to_distance(const torch::Tensor& similarity, DistanceKind kind);
double similarity_to_distance(double similarity, DistanceKind kind);

/// Calls fn(row_begin, similarity) for consecutive row chunks of queries · keysᵀ, in float32 on the
/// embeddings' device. `similarity` is [rows_in_chunk, keys.size(0)] and only valid during the call.
void for_each_similarity_chunk(const torch::Tensor& queries, const torch::Tensor& keys, std::int64_t chunk_rows,
                               const std::function<void(std::int64_t, const torch::Tensor&)>& fn);

}  // namespace clipmatch::eval
