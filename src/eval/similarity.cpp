#include "eval/similarity.hpp"

#include "core/fail.hpp"

#include <fmt/ranges.h>

namespace clipmatch::eval {

void check_embeddings(const torch::Tensor& queries, const torch::Tensor& keys, bool same_count,
                      const char* queries_name, const char* keys_name) {
  for (const auto& [tensor, name] : {std::pair{&queries, queries_name}, std::pair{&keys, keys_name}}) {
    if (!tensor->defined()) fail(ErrorKind::InvalidArgument, "{} embeddings: tensor is undefined", name);
    if (tensor->dim() != 2 || !tensor->is_floating_point()) {
      fail(ErrorKind::InvalidArgument, "{} embeddings: expected a 2-D floating tensor [N, D], got {} of shape {}",
           name, std::string(c10::toString(tensor->scalar_type())), fmt::join(tensor->sizes(), "x"));
    }
  }
  if (queries.size(1) != keys.size(1)) {
    fail(ErrorKind::InvalidArgument, "{} embeddings have width {} but {} embeddings have width {}", queries_name,
         queries.size(1), keys_name, keys.size(1));
  }
  if (same_count && queries.size(0) != keys.size(0)) {
    fail(ErrorKind::InvalidArgument, "{} embeddings have {} rows but {} embeddings have {}; movie i must be row i "
         "of both", queries_name, queries.size(0), keys_name, keys.size(0));
  }
  if (queries.device() != keys.device()) {
    fail(ErrorKind::InvalidArgument, "{} embeddings are on {} but {} embeddings are on {}", queries_name,
         queries.device().str(), keys_name, keys.device().str());
  }
  // A NaN compares false with everything, which would silently hand it rank 1; refuse it instead.
  for (const auto& [tensor, name] : {std::pair{&queries, queries_name}, std::pair{&keys, keys_name}}) {
    if (tensor->numel() > 0 && !torch::isfinite(*tensor).all().item<bool>()) {
      fail(ErrorKind::InvalidArgument, "{} embeddings contain NaN or infinite values", name);
    }
  }
}

torch::Tensor similarity_to_distance(const torch::Tensor& similarity, DistanceKind kind) {
  return kind == DistanceKind::OneMinusCosine ? 1.0 - similarity : -similarity;
}

double similarity_to_distance(double similarity, DistanceKind kind) {
  return kind == DistanceKind::OneMinusCosine ? 1.0 - similarity : -similarity;
}

void for_each_similarity_chunk(const torch::Tensor& queries, const torch::Tensor& keys, std::int64_t chunk_rows,
                               const std::function<void(std::int64_t, const torch::Tensor&)>& fn) {
  if (chunk_rows <= 0) fail(ErrorKind::InvalidArgument, "chunk_rows must be positive, got {}", chunk_rows);
  torch::NoGradGuard no_grad;
  const torch::Tensor keys_t = keys.to(torch::kFloat32).t();
  const std::int64_t n = queries.size(0);
  for (std::int64_t begin = 0; begin < n; begin += chunk_rows) {
    const std::int64_t end = std::min(n, begin + chunk_rows);
    const torch::Tensor block = queries.slice(0, begin, end).to(torch::kFloat32).matmul(keys_t);
    fn(begin, block);
  }
}

}  // namespace clipmatch::eval
