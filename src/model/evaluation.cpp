// Model::evaluate and the public distance_matrix: embeddings of the whole dataset, split metrics, and the
// report files (metrics.json, distance.npy, posters.npy, intros.npy, heatmap.png, topk.csv).
#include "model/model_state.hpp"
#include "model/batching.hpp"
#include "model/tower_feed.hpp"
#include "model/text_channel.hpp"
#include "ocr/poster_reader.hpp"

#include "core/fail.hpp"
#include "core/precision.hpp"
#include "core/progress.hpp"
#include "io/atomic_file.hpp"
#include "eval/distance.hpp"
#include "eval/outputs.hpp"
#include "eval/splits.hpp"
#include "io/npy.hpp"

#include <filesystem>

namespace clipmatch {

EvaluationReport Model::evaluate(const Dataset& data, const std::string& out_dir, const EvalOptions& outputs) const {
  if (data.movies.empty()) fail(ErrorKind::InvalidArgument, "evaluate: the dataset {} has no movies", data.root);
  std::vector<std::string> posters, intros, titles;
  for (const auto& movie : data.movies) {
    posters.push_back(movie.poster);
    intros.push_back(movie.intro);
    titles.push_back(movie.title.empty() ? fmt::format("row {}", movie.row) : movie.title);
  }
  if (outputs.ocr.enabled) {  // before any encoding time is spent
    ocr::validate(outputs.ocr);
    std::string why;
    if (!ocr_available(outputs.ocr, &why)) fail(ErrorKind::Unsupported, "evaluate with OCR: {}", why);
  }
  ProgressScope progress_scope(outputs.progress);
  torch::NoGradGuard no_grad;
  auto& m = *impl_;
  PrecisionScope precision(outputs.precision, m.device.is_cuda());
  m.require_ready("evaluating");
  // What training left unchanged (a whole frozen encoder, or the lower part of a top-K tuned one) comes from
  // the feature cache; a fully tuned encoder is encoded afresh, so its one-off features never enter the cache.
  cache::CacheStats stats;
  const model::StageCache cache{outputs.cache_dir, outputs.verbose, &stats};
  const bool cached = !outputs.cache_dir.empty();
  const auto& image = m.image_tuned;
  const auto& text = m.text_tuned;
  const bool image_cached =
      cached && model::feed_stage(image.top, m.net->image_encoder->num_blocks()) != model::FeedStage::Raw;
  const bool text_cached =
      cached && model::feed_stage(text.top, m.net->text_encoder->num_blocks()) != model::FeedStage::Raw;
  model::EvalPass pass(*m.net);
  const auto image_features = image_cached
                                  ? model::ImageFeed(m, posters, image.top, cache, image.lower_key).all_features(m, true)
                                  : m.image_features(posters, m.encode_batch_size());
  const auto text_features = text_cached
                                 ? model::TextFeed(m, intros, text.top, cache, text.lower_key).all_features(m, true)
                                 : m.text_features(intros, m.encode_batch_size());
  const auto visual_p = m.embed_image_features(image_features);
  const auto visual_t = m.embed_text_features(text_features);
  const std::vector<std::int64_t> train(data.train.begin(), data.train.end());

  EvaluationReport report;
  // With the text channel every score below is cos + w·bm25: the channel joins the embeddings as columns.
  auto p = visual_p, t = visual_t;
  std::vector<std::string> poster_text;
  if (outputs.ocr.enabled) {
    OcrOptions reading = outputs.ocr;
    if (reading.cache_dir.empty()) reading.cache_dir = outputs.cache_dir;
    ocr::ReadStats read_stats;
    const auto channel = model::build_text_channel(posters, intros, reading, outputs.verbose, &read_stats);
    report.fusion_weight = reading.fusion_weight >= 0 ? reading.fusion_weight
                           : m.fusion_weight >= 0     ? m.fusion_weight
                                                      : default_fusion_weight;
    const auto fused = model::fuse(p, t, channel.vectors, report.fusion_weight);
    p = fused.posters;
    t = fused.intros;
    report.ocr_cache_hits = read_stats.cache_hits;
    report.posters_read = read_stats.posters_read;
    report.ocr_seconds = read_stats.seconds_reading;
    report.poster_text = channel.poster_text;
    for (const auto& text : channel.poster_text) poster_text.push_back(text.text());
  }
  report.n = data.movies.size();
  report.distance = outputs.distance;
  report.splits = eval::evaluate_splits(p, t, train);
  report.cache_hits = stats.hits;
  report.cache_misses = stats.misses;
  if (out_dir.empty()) return report;

  io::create_directories(out_dir, "evaluation output folder");
  const std::filesystem::path dir(out_dir);
  eval::write_metrics_json((dir / "metrics.json").string(), report.n, report.distance, report.splits);
  if (outputs.embeddings_npy) {
    // The visual embeddings: the text channel's columns belong to this dataset's vocabulary, not to the model.
    io::write_npy((dir / "posters.npy").string(), visual_p.to(torch::kCPU));
    io::write_npy((dir / "intros.npy").string(), visual_t.to(torch::kCPU));
  }
  if (outputs.distance_npy) eval::write_distance_npy((dir / "distance.npy").string(), p, t, outputs.distance);
  if (outputs.heatmap_png) {
    eval::write_heatmap_png((dir / "heatmap.png").string(), p, t, titles, outputs.distance, outputs.heatmap_size);
  }
  if (outputs.topk_csv) eval::write_topk_csv((dir / "topk.csv").string(), p, t, titles, poster_text);
  return report;
}

Matrix distance_matrix(const Embeddings& posters, const Embeddings& intros, DistanceKind kind) {
  return model::to_matrix(eval::distance_matrix(model::to_tensor(posters), model::to_tensor(intros), kind));
}

SplitMetricsMap match_metrics(const Embeddings& posters, const Embeddings& intros,
                              const std::vector<std::size_t>& train_rows) {
  if (posters.rows() != intros.rows() || posters.cols() != intros.cols()) {
    fail(ErrorKind::InvalidArgument, "match_metrics: posters are {}×{} but intros {}×{}; row i of each must be one movie",
         posters.rows(), posters.cols(), intros.rows(), intros.cols());
  }
  if (posters.rows() == 0) fail(ErrorKind::InvalidArgument, "match_metrics: no rows");
  torch::NoGradGuard no_grad;
  return eval::evaluate_splits(model::to_tensor(posters), model::to_tensor(intros),
                               {train_rows.begin(), train_rows.end()});
}

}  // namespace clipmatch
