// The poster × intro distance matrix, whole or streamed in row chunks.
#pragma once

#include "eval/similarity.hpp"

namespace clipmatch::eval {

/// Distance of every poster (row) to every intro (column): float32 on the CPU, [posters.size(0), intros.size(0)].
/// Computed in `chunk_rows` row chunks on the embeddings' device; only the result lives on the host.
torch::Tensor distance_matrix(const torch::Tensor& posters, const torch::Tensor& intros,
                              DistanceKind kind = DistanceKind::OneMinusCosine,
                              std::int64_t chunk_rows = kDefaultChunkRows);

/// Streams the same matrix: fn(row_begin, chunk) with chunk a contiguous float32 CPU tensor
/// [rows_in_chunk, intros.size(0)], rows in order, so a writer never holds N × N.
void for_each_distance_chunk(const torch::Tensor& posters, const torch::Tensor& intros, DistanceKind kind,
                             std::int64_t chunk_rows,
                             const std::function<void(std::int64_t, const torch::Tensor&)>& fn);

}  // namespace clipmatch::eval
