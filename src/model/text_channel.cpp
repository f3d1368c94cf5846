#include "model/text_channel.hpp"

#include "core/fail.hpp"
#include "eval/ranking.hpp"

#include <algorithm>
#include <cmath>

namespace clipmatch::model {

TextChannel build_text_channel(const std::vector<std::string>& posters, const std::vector<std::string>& intros,
                               const OcrOptions& options, bool verbose, ocr::ReadStats* stats) {
  if (posters.size() != intros.size()) {
    fail(ErrorKind::InvalidArgument, "text channel: {} posters but {} intros", posters.size(), intros.size());
  }
  TextChannel channel;
  channel.poster_text = ocr::read_posters(posters, options, verbose, stats);
  std::vector<std::vector<std::string>> terms;
  terms.reserve(posters.size());
  for (const auto& text : channel.poster_text) terms.push_back(text::lexical_terms(text.text(), options.stemming));
  channel.vectors = text::bm25_vectors(terms, intros, options.stemming);
  return channel;
}

FusedEmbeddings fuse(const torch::Tensor& posters, const torch::Tensor& intros, const text::Bm25Vectors& lexical,
                     double weight) {
  if (!(std::isfinite(weight) && weight >= 0)) {
    fail(ErrorKind::InvalidArgument, "text channel: fusion weight must be finite and >= 0, got {}", weight);
  }
  if (lexical.queries.size(0) != posters.size(0) || lexical.documents.size(0) != intros.size(0)) {
    fail(ErrorKind::InvalidArgument, "text channel: {} poster texts for {} posters, {} intro vectors for {} intros",
         lexical.queries.size(0), posters.size(0), lexical.documents.size(0), intros.size(0));
  }
  const auto scale = static_cast<float>(std::sqrt(weight));
  const auto device = posters.device();
  return {torch::cat({posters, lexical.queries.to(device) * scale}, 1),
          torch::cat({intros, lexical.documents.to(device) * scale}, 1)};
}

text::Bm25Vectors select_rows(const text::Bm25Vectors& lexical, const std::vector<std::size_t>& rows) {
  const auto index = torch::tensor(std::vector<std::int64_t>(rows.begin(), rows.end()), torch::kInt64);
  return {lexical.queries.index_select(0, index), lexical.documents.index_select(0, index), lexical.vocabulary};
}

double learn_fusion_weight(const torch::Tensor& posters, const torch::Tensor& intros, const text::Bm25Vectors& lexical,
                           std::vector<FusionTrial>* trials) {
  const auto n = posters.size(0);
  if (n < 2) fail(ErrorKind::InvalidArgument, "text channel: {} calibration rows; need at least 2", n);
  // Geometric-ish steps: the useful range spans from "visual with a lexical tie-break" to "lexical first".
  static const double grid[] = {0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 50};
  std::vector<FusionTrial> all;
  for (const double weight : grid) {
    const auto fused = fuse(posters, intros, lexical, weight);
    const auto ranks = eval::match_ranks(fused.posters, fused.intros);
    double r1 = 0, mrr = 0;
    for (const auto* direction : {&ranks.poster_to_intro, &ranks.intro_to_poster}) {
      for (const auto rank : *direction) {
        r1 += rank == 1;
        mrr += 1.0 / static_cast<double>(rank);
      }
    }
    r1 /= 2.0 * static_cast<double>(n);
    mrr /= 2.0 * static_cast<double>(n);
    all.push_back({weight, mrr, r1});
  }
  if (trials) *trials = all;
  const auto better = [](const FusionTrial& a, const FusionTrial& b) {
    constexpr double eps = 1e-12;
    if (std::abs(a.mean_r1 - b.mean_r1) > eps) return a.mean_r1 > b.mean_r1;
    return a.mean_reciprocal_rank > b.mean_reciprocal_rank + eps;
  };
  const auto best = *std::min_element(all.begin(), all.end(), better);
  // A few calibration rows often leave a plateau of equally good weights; its middle keeps a margin on both
  // sides instead of sitting at the edge where the slice stopped telling weights apart.
  std::vector<double> tied;
  for (const auto& trial : all)
    if (!better(best, trial) && !better(trial, best)) tied.push_back(trial.weight);
  return tied[tied.size() / 2];
}
}  // namespace clipmatch::model
