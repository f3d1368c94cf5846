// Model::evaluate and the public distance_matrix: embeddings of the whole dataset, split metrics, and the
// report files (metrics.json, distance.npy, posters.npy, intros.npy, heatmap.png, topk.csv).
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

EvaluationReport Model::evaluate(const Dataset& data, const std::string& out_dir, const EvalOutputs& outputs) const {
  if (data.movies.empty()) fail(ErrorKind::InvalidArgument, "evaluate: the dataset {} has no movies", data.root);
  std::vector<std::string> posters, intros, titles;
  for (const auto& movie : data.movies) {
    posters.push_back(movie.poster);
    intros.push_back(movie.intro);
    titles.push_back(movie.title.empty() ? fmt::format("row {}", movie.row) : movie.title);
  }
  torch::NoGradGuard no_grad;
  const auto p = impl_->embed_image_features(impl_->image_features(posters, 64));
  const auto t = impl_->embed_text_features(impl_->text_features(intros, 64));
  const std::vector<std::int64_t> train(data.train.begin(), data.train.end());

  EvaluationReport report;
  report.n = data.movies.size();
  report.distance = outputs.distance;
  report.splits = eval::evaluate_splits(p, t, train);
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
