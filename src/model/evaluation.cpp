// Model::evaluate and the public distance_matrix: embeddings of the whole dataset, split metrics, and the
// report files (metrics.json, distance.npy, posters.npy, intros.npy, heatmap.png, topk.csv).
#include "model/encoder_stages.hpp"
#include "model/model_state.hpp"

#include "core/fail.hpp"
#include "eval/distance.hpp"
#include "eval/outputs.hpp"
#include "eval/splits.hpp"
#include "io/npy.hpp"

#include <filesystem>

namespace clipmatch {

namespace {

torch::Tensor to_tensor(const Embeddings& matrix) {
  return torch::from_blob(const_cast<float*>(matrix.data()), {matrix.rows(), matrix.cols()}, torch::kFloat32).clone();
}

}  // namespace

EvaluationReport Model::evaluate(const Dataset& data, const std::string& out_dir, const EvalOptions& outputs) const {
  if (data.movies.empty()) fail(ErrorKind::InvalidArgument, "evaluate: the dataset {} has no movies", data.root);
  std::vector<std::string> posters, intros, titles;
  for (const auto& movie : data.movies) {
    posters.push_back(movie.poster);
    intros.push_back(movie.intro);
    titles.push_back(movie.title.empty() ? fmt::format("row {}", movie.row) : movie.title);
  }
  torch::NoGradGuard no_grad;
  auto& m = *impl_;
  m.require_ready("evaluating");
  // Encoders that training left unchanged give the features the training run cached; tuned ones are encoded
  // afresh, which also keeps their one-off features out of the cache.
  train::CacheStats stats;
  const model::StageCache cache{outputs.cache_dir, outputs.verbose, &stats};
  const bool cached = !outputs.cache_dir.empty();
  const auto image_features = cached && !m.image_encoder_tuned
                                  ? model::cached_image_stage(m, posters, 0, cache).to(m.device)
                                  : m.image_features(posters, 64);
  const auto text_features = cached && !m.text_encoder_tuned
                                 ? model::cached_text_stage(m, intros, 0, cache).values.to(m.device)
                                 : m.text_features(intros, 64);
  const auto p = m.embed_image_features(image_features);
  const auto t = m.embed_text_features(text_features);
  const std::vector<std::int64_t> train(data.train.begin(), data.train.end());

  EvaluationReport report;
  report.n = data.movies.size();
  report.distance = outputs.distance;
  report.splits = eval::evaluate_splits(p, t, train);
  report.cache_hits = stats.hits;
  report.cache_misses = stats.misses;
  if (out_dir.empty()) return report;

  std::filesystem::create_directories(out_dir);
  const std::filesystem::path dir(out_dir);
  eval::write_metrics_json((dir / "metrics.json").string(), report.n, report.distance, report.splits);
  if (outputs.embeddings_npy) {
    io::write_npy((dir / "posters.npy").string(), p.to(torch::kCPU));
    io::write_npy((dir / "intros.npy").string(), t.to(torch::kCPU));
  }
  if (outputs.distance_npy) eval::write_distance_npy((dir / "distance.npy").string(), p, t, outputs.distance);
  if (outputs.heatmap_png) {
    eval::write_heatmap_png((dir / "heatmap.png").string(), p, t, titles, outputs.distance, outputs.heatmap_size);
  }
  if (outputs.topk_csv) eval::write_topk_csv((dir / "topk.csv").string(), p, t, titles);
  return report;
}

Matrix distance_matrix(const Embeddings& posters, const Embeddings& intros, DistanceKind kind) {
  return model::to_matrix(eval::distance_matrix(to_tensor(posters), to_tensor(intros), kind));
}

}  // namespace clipmatch
