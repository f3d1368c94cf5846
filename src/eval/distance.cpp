#include "eval/distance.hpp"

namespace clipmatch::eval {

void for_each_distance_chunk(const torch::Tensor& posters, const torch::Tensor& intros, DistanceKind kind,
                             std::int64_t chunk_rows,
                             const std::function<void(std::int64_t, const torch::Tensor&)>& fn) {
  check_embeddings(posters, intros, /*same_count=*/false, "poster", "intro");
  for_each_similarity_chunk(posters, intros, chunk_rows, [&](std::int64_t begin, const torch::Tensor& similarity) {
    fn(begin, similarity_to_distance(similarity, kind).to(torch::kCPU).contiguous());
  });
}

torch::Tensor distance_matrix(const torch::Tensor& posters, const torch::Tensor& intros, DistanceKind kind,
                              std::int64_t chunk_rows) {
  check_embeddings(posters, intros, /*same_count=*/false, "poster", "intro");
  torch::Tensor result = torch::empty({posters.size(0), intros.size(0)}, torch::kFloat32);
  for_each_distance_chunk(posters, intros, kind, chunk_rows, [&](std::int64_t begin, const torch::Tensor& chunk) {
    result.slice(0, begin, begin + chunk.size(0)).copy_(chunk);
  });
  return result;
}

}  // namespace clipmatch::eval
