// clipmatch — nearest neighbours without the N×N matrix.
//
// top_k() finds, for every query row, the k catalog rows at the smallest distance (the same distance as
// distance_matrix(); ties go to the lower catalog index, so its first column equals the matrix's argmin).
// It works through the catalog in blocks of at most kTopKQueryBlock × kTopKCatalogBlock similarities, so the
// working memory is bounded whatever the sizes: 10,000 queries against a 1,000,000-row catalog of 128-d rows
// added 96 MiB of peak memory beyond inputs and outputs (a 32 MiB similarity block, BLAS's buffers, the
// k-best lists) and took 45 s on 2 cores (bench/top_k_search.cpp).
#pragma once

#include <clipmatch/export.h>
#include <clipmatch/metrics.hpp>
#include <clipmatch/model.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>

namespace clipmatch {

inline constexpr std::size_t kTopKQueryBlock = 256;
inline constexpr std::size_t kTopKCatalogBlock = 32768;

using IndexMatrix = Eigen::Matrix<std::int64_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct TopK {
  IndexMatrix indices;  ///< [queries, k] catalog rows, nearest first; −1 where the catalog has fewer than k rows
  Matrix distances;     ///< [queries, k] their distances; +infinity where the index is −1
};

/// The k nearest catalog rows of every query (L2-normalised rows of one width).
CLIPMATCH_API TopK top_k(const Embeddings& queries, const Embeddings& catalog, std::size_t k,
                         DistanceKind kind = DistanceKind::OneMinusCosine);

/// The same over caller-owned row-major buffers (no copies): out_indices and out_distances hold
/// n_queries × k elements each. Throws clipmatch::Error (InvalidArgument) for NULL pointers or a zero width.
CLIPMATCH_API void top_k(const float* queries, std::size_t n_queries, const float* catalog, std::size_t n_catalog,
                         std::size_t dim, std::size_t k, DistanceKind kind, std::int64_t* out_indices,
                         float* out_distances);

}  // namespace clipmatch
