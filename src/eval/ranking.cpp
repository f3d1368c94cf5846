#include "eval/ranking.hpp"

#include "core/fail.hpp"

namespace clipmatch::eval {

namespace {

// Puts each row's selection in canonical order: similarity descending, equal similarities by ascending index.
std::pair<torch::Tensor, torch::Tensor> canonical_order(const torch::Tensor& values, const torch::Tensor& indices) {
  const auto by_index = std::get<1>(torch::sort(indices, /*stable=*/true, /*dim=*/1, /*descending=*/false));
  const torch::Tensor idx = indices.gather(1, by_index);
  const torch::Tensor val = values.gather(1, by_index);
  const auto by_value = std::get<1>(torch::sort(val, /*stable=*/true, /*dim=*/1, /*descending=*/true));
  return {val.gather(1, by_value), idx.gather(1, by_value)};
}

}  // namespace

Nearest topk_nearest(const torch::Tensor& queries, const torch::Tensor& keys, std::int64_t k,
                     std::int64_t chunk_rows, DistanceKind kind) {
  check_embeddings(queries, keys, /*same_count=*/false, "query", "key");
  if (k < 1 || k > keys.size(0)) {
    fail(ErrorKind::InvalidArgument, "top-k: k = {} must lie in [1, {}] (the number of keys)", k, keys.size(0));
  }
  Nearest out{torch::empty({queries.size(0), k}, torch::kInt64), torch::empty({queries.size(0), k}, torch::kFloat32)};
  for_each_similarity_chunk(queries, keys, chunk_rows, [&](std::int64_t begin, const torch::Tensor& sim) {
    auto [values, indices] = sim.topk(k, /*dim=*/1, /*largest=*/true, /*sorted=*/true);
    // torch::topk picks arbitrarily among values tied with the k-th; where such a tie straddles the cut, the
    // row is redone with a stable full sort so the lower indices win. Such rows are rare (duplicates).
    const torch::Tensor kth = values.narrow(1, k - 1, 1);
    const torch::Tensor straddles = (sim >= kth).sum(1) > k;
    const torch::Tensor rows = straddles.nonzero().squeeze(1);
    if (rows.numel() > 0) {
      const auto [sorted_values, sorted_indices] =
          torch::sort(sim.index_select(0, rows), /*stable=*/true, /*dim=*/1, /*descending=*/true);
      values.index_copy_(0, rows, sorted_values.narrow(1, 0, k));
      indices.index_copy_(0, rows, sorted_indices.narrow(1, 0, k));
    }
    auto [ordered_values, ordered_indices] = canonical_order(values, indices);
    const std::int64_t end = begin + sim.size(0);
    out.indices.slice(0, begin, end).copy_(ordered_indices);
    out.distances.slice(0, begin, end).copy_(similarity_to_distance(ordered_values, kind));
  });
  return out;
}

std::vector<std::int64_t> true_match_ranks(const torch::Tensor& queries, const torch::Tensor& keys,
                                           std::int64_t chunk_rows) {
  check_embeddings(queries, keys, /*same_count=*/true, "query", "key");
  std::vector<std::int64_t> ranks;
  ranks.reserve(static_cast<std::size_t>(queries.size(0)));
  const auto int_options = torch::TensorOptions().dtype(torch::kInt64).device(queries.device());
  const torch::Tensor columns = torch::arange(keys.size(0), int_options).unsqueeze(0);
  for_each_similarity_chunk(queries, keys, chunk_rows, [&](std::int64_t begin, const torch::Tensor& sim) {
    const torch::Tensor rows = torch::arange(begin, begin + sim.size(0), int_options).unsqueeze(1);
    const torch::Tensor own = sim.gather(1, rows);
    const torch::Tensor better = (sim > own).sum(1);
    const torch::Tensor tied_before = ((sim == own) & (columns < rows)).sum(1);
    const torch::Tensor rank = (better + tied_before + 1).to(torch::kCPU, torch::kInt64).contiguous();
    const auto* data = rank.data_ptr<std::int64_t>();
    ranks.insert(ranks.end(), data, data + rank.numel());
  });
  return ranks;
}

MatchRanks match_ranks(const torch::Tensor& posters, const torch::Tensor& intros, std::int64_t chunk_rows) {
  check_embeddings(posters, intros, /*same_count=*/true, "poster", "intro");
  return {true_match_ranks(posters, intros, chunk_rows), true_match_ranks(intros, posters, chunk_rows)};
}

}  // namespace clipmatch::eval
