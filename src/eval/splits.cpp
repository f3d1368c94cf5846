#include "eval/splits.hpp"

#include <clipmatch/names.hpp>

#include "core/fail.hpp"
#include "eval/ranking.hpp"

#include <algorithm>
#include <numeric>

namespace clipmatch {

const char* distance_name(DistanceKind kind) { return to_name(kind); }

RetrievalMetrics summarize_ranks(const std::vector<std::int64_t>& ranks) {
  if (ranks.empty()) fail(ErrorKind::InvalidArgument, "retrieval metrics: no ranks to summarise");
  const auto below = std::find_if(ranks.begin(), ranks.end(), [](std::int64_t r) { return r < 1; });
  if (below != ranks.end()) {
    fail(ErrorKind::InvalidArgument, "retrieval metrics: rank {} at query {} is below 1", *below,
         below - ranks.begin());
  }
  const auto n = static_cast<double>(ranks.size());
  auto recall_at = [&](std::int64_t k) {
    return static_cast<double>(std::count_if(ranks.begin(), ranks.end(), [k](std::int64_t r) { return r <= k; })) / n;
  };
  std::vector<std::int64_t> sorted = ranks;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t mid = sorted.size() / 2;
  const double median = sorted.size() % 2 == 1 ? static_cast<double>(sorted[mid])
                                               : 0.5 * static_cast<double>(sorted[mid - 1] + sorted[mid]);
  const double mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / n;
  return {recall_at(1), recall_at(5), recall_at(10), median, mean};
}

SplitMetrics split_metrics(const std::vector<std::int64_t>& poster_to_intro_ranks,
                           const std::vector<std::int64_t>& intro_to_poster_ranks) {
  if (poster_to_intro_ranks.size() != intro_to_poster_ranks.size()) {
    fail(ErrorKind::InvalidArgument, "split metrics: {} poster ranks but {} intro ranks",
         poster_to_intro_ranks.size(), intro_to_poster_ranks.size());
  }
  SplitMetrics m;
  m.n = poster_to_intro_ranks.size();
  m.poster_to_intro = summarize_ranks(poster_to_intro_ranks);
  m.intro_to_poster = summarize_ranks(intro_to_poster_ranks);
  m.acc_dim1 = m.poster_to_intro.r1;
  m.acc_dim0 = m.intro_to_poster.r1;
  return m;
}

namespace eval {

SplitMetrics evaluate_block(const torch::Tensor& posters, const torch::Tensor& intros, std::int64_t chunk_rows) {
  const MatchRanks ranks = match_ranks(posters, intros, chunk_rows);
  return split_metrics(ranks.poster_to_intro, ranks.intro_to_poster);
}

SplitMetricsMap evaluate_splits(const torch::Tensor& posters, const torch::Tensor& intros,
                                const std::vector<std::int64_t>& train_indices, std::int64_t chunk_rows) {
  check_embeddings(posters, intros, /*same_count=*/true, "poster", "intro");
  const std::int64_t n = posters.size(0);
  std::vector<char> in_train(static_cast<std::size_t>(n), 0);
  for (std::size_t i = 0; i < train_indices.size(); ++i) {
    const std::int64_t index = train_indices[i];
    if (index < 0 || index >= n) {
      fail(ErrorKind::InvalidArgument, "train index {} (entry {}) is outside [0, {})", index, i, n);
    }
    if (in_train[static_cast<std::size_t>(index)]) {
      fail(ErrorKind::InvalidArgument, "train index {} (entry {}) is repeated", index, i);
    }
    in_train[static_cast<std::size_t>(index)] = 1;
  }
  std::vector<std::int64_t> train, heldout;
  for (std::int64_t i = 0; i < n; ++i) (in_train[static_cast<std::size_t>(i)] ? train : heldout).push_back(i);

  SplitMetricsMap result;
  if (n > 0) result["all"] = evaluate_block(posters, intros, chunk_rows);
  auto add_block = [&](const char* name, const std::vector<std::int64_t>& members) {
    if (members.empty()) return;
    const torch::Tensor index = torch::tensor(members, torch::kInt64).to(posters.device());
    result[name] = evaluate_block(posters.index_select(0, index), intros.index_select(0, index), chunk_rows);
  };
  add_block("train", train);
  add_block("heldout", heldout);
  return result;
}

}  // namespace eval
}  // namespace clipmatch
