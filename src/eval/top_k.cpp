// top_k: the k nearest catalog rows of each query, block by block, so no N × M matrix ever exists.
//
// A block of queries is multiplied with a block of catalog rows (one GEMM), each query row of the product is
// scanned into that query's k-best list, and the next catalog block follows. Distances are formed exactly as
// the distance matrix forms them (float32 1 − s or −s) and compared as it ranks (smaller first, ties to the
// lower index), so the first column is the matrix's argmin.
#include <clipmatch/search.hpp>

#include "core/fail.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace clipmatch {

namespace {

struct Candidate {
  float distance;
  std::int64_t index;
};

/// Strictly nearer: smaller distance, or the same distance at a lower index.
bool nearer(const Candidate& a, const Candidate& b) {
  return a.distance < b.distance || (a.distance == b.distance && a.index < b.index);
}

/// The k best candidates seen so far, as a max-heap under `nearer` (the worst on top).
class KBest {
 public:
  explicit KBest(std::size_t k) : k_(k) { heap_.reserve(k); }

  void offer(float distance, std::int64_t index) {
    const Candidate c{distance, index};
    if (heap_.size() < k_) {
      heap_.push_back(c);
      std::push_heap(heap_.begin(), heap_.end(), nearer);
    } else if (nearer(c, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), nearer);
      heap_.back() = c;
      std::push_heap(heap_.begin(), heap_.end(), nearer);
    }
  }

  /// Writes the list nearest first, padding with (−1, +inf) up to k.
  void write(std::int64_t* indices, float* distances) {
    std::sort_heap(heap_.begin(), heap_.end(), nearer);
    for (std::size_t i = 0; i < k_; ++i) {
      const bool real = i < heap_.size();
      indices[i] = real ? heap_[i].index : -1;
      distances[i] = real ? heap_[i].distance : std::numeric_limits<float>::infinity();
    }
  }

 private:
  std::size_t k_;
  std::vector<Candidate> heap_;
};

torch::Tensor rows_of(const float* data, std::size_t begin, std::size_t end, std::size_t dim) {
  return torch::from_blob(const_cast<float*>(data + begin * dim),
                          {static_cast<std::int64_t>(end - begin), static_cast<std::int64_t>(dim)}, torch::kFloat32);
}

void require_finite(const torch::Tensor& block, const char* what, std::size_t first_row) {
  if (torch::isfinite(block).all().item<bool>()) return;
  const auto bad = torch::nonzero(~torch::isfinite(block).all(1)).min().item<std::int64_t>();
  fail(ErrorKind::InvalidArgument, "top_k: {} row {} contains NaN or infinite values", what,
       first_row + static_cast<std::size_t>(bad));
}

}  // namespace

void top_k(const float* queries, std::size_t n_queries, const float* catalog, std::size_t n_catalog, std::size_t dim,
           std::size_t k, DistanceKind kind, std::int64_t* out_indices, float* out_distances) {
  if (n_queries > 0 && queries == nullptr) fail(ErrorKind::InvalidArgument, "top_k: queries is NULL");
  if (n_catalog > 0 && catalog == nullptr) fail(ErrorKind::InvalidArgument, "top_k: catalog is NULL");
  if (dim == 0) fail(ErrorKind::InvalidArgument, "top_k: dim must be positive");
  if (k == 0) fail(ErrorKind::InvalidArgument, "top_k: k must be positive");
  if (n_queries > 0 && (out_indices == nullptr || out_distances == nullptr))
    fail(ErrorKind::InvalidArgument, "top_k: out_indices or out_distances is NULL");
  torch::NoGradGuard no_grad;
  const bool one_minus = kind == DistanceKind::OneMinusCosine;
  for (std::size_t q0 = 0; q0 < n_queries; q0 += kTopKQueryBlock) {
    const std::size_t q1 = std::min(n_queries, q0 + kTopKQueryBlock);
    const auto query_block = rows_of(queries, q0, q1, dim);
    require_finite(query_block, "query", q0);
    std::vector<KBest> best(q1 - q0, KBest(k));
    for (std::size_t c0 = 0; c0 < n_catalog; c0 += kTopKCatalogBlock) {
      const std::size_t c1 = std::min(n_catalog, c0 + kTopKCatalogBlock);
      const auto catalog_block = rows_of(catalog, c0, c1, dim);
      if (q0 == 0) require_finite(catalog_block, "catalog", c0);
      const auto similarity = query_block.matmul(catalog_block.t()).contiguous();
      const float* s = similarity.data_ptr<float>();
      const auto width = static_cast<std::int64_t>(c1 - c0);
      at::parallel_for(0, static_cast<std::int64_t>(q1 - q0), 1, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t q = begin; q < end; ++q) {
          const float* row = s + q * width;
          auto& list = best[static_cast<std::size_t>(q)];
          for (std::int64_t j = 0; j < width; ++j) {
            list.offer(one_minus ? 1.0f - row[j] : -row[j], static_cast<std::int64_t>(c0) + j);
          }
        }
      });
    }
    for (std::size_t q = q0; q < q1; ++q) best[q - q0].write(out_indices + q * k, out_distances + q * k);
  }
}

TopK top_k(const Embeddings& queries, const Embeddings& catalog, std::size_t k, DistanceKind kind) {
  if (queries.cols() != catalog.cols()) {
    fail(ErrorKind::InvalidArgument, "top_k: queries have width {} but the catalog has width {}", queries.cols(),
         catalog.cols());
  }
  TopK out;
  out.indices.resize(queries.rows(), static_cast<Eigen::Index>(k));
  out.distances.resize(queries.rows(), static_cast<Eigen::Index>(k));
  top_k(queries.data(), static_cast<std::size_t>(queries.rows()), catalog.data(), static_cast<std::size_t>(catalog.rows()),
        static_cast<std::size_t>(queries.cols()), k, kind, out.indices.data(), out.distances.data());
  return out;
}

}  // namespace clipmatch
