// Model::train: the contrastive loop (model::Trainer, trainer.hpp), and around it, when the poster-text channel
// is on, the learning of its fusion weight.
//
// The weight cannot be learned on the rows the heads trained on: the visual match memorises them (train R@1
// near 1.0 on ml100k), so any weight on the text would look useless there. A calibration slice of the
// training rows is therefore held back from the heads; after training, w is chosen on that slice, whose
// visual scores behave like held-out ones.
#include "model/model_state.hpp"
#include "model/encoder_stages.hpp"
#include "model/text_channel.hpp"

#include "core/fail.hpp"
#include "core/precision.hpp"
#include "core/progress.hpp"
#include "ocr/poster_reader.hpp"

#include <clipmatch/log.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

namespace clipmatch {

namespace {

/// A seeded `fraction` of the training rows (at least 2 when any are taken), ascending.
std::vector<std::size_t> calibration_slice(const std::vector<std::size_t>& train, double fraction, std::uint64_t seed) {
  auto count = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(train.size())));
  count = std::min(train.size(), std::max<std::size_t>(count, 2));
  std::vector<std::size_t> rows = train;
  std::mt19937_64 generator(seed ^ 0x6f63722d63616c69ULL);  // "ocr-cali": a stream apart from the shuffles
  std::shuffle(rows.begin(), rows.end(), generator);
  rows.resize(count);
  std::sort(rows.begin(), rows.end());
  return rows;
}

}  // namespace

TrainReport Model::train(const Dataset& data, const TrainOptions& options) {
  if (!options.ocr.enabled) return model::train_contrastive(*impl_, data, options);
  if (options.distributed.enabled()) {
    fail(ErrorKind::Unsupported, "train: the poster-text channel (ocr) cannot be learned in a distributed run yet; "
         "train on one process, or evaluate with --ocr after training");
  }

  const auto& ocr = options.ocr;
  model::validate_train_options(options);  // before minutes of reading posters
  ocr::validate(ocr);
  const bool learned = ocr.fusion_weight < 0;
  if (learned && !(ocr.calibration_fraction > 0 && ocr.calibration_fraction < 1)) {
    fail(ErrorKind::InvalidArgument, "train: ocr.calibration_fraction must be in (0, 1), got {}",
         ocr.calibration_fraction);
  }
  std::string why;
  if (!ocr_available(ocr, &why)) fail(ErrorKind::Unsupported, "train --ocr: {}", why);

  ProgressScope progress_scope(options.progress);
  auto& m = *impl_;
  OcrOptions reading = ocr;
  if (reading.cache_dir.empty() && options.use_cache) reading.cache_dir = model::training_cache_dir(options).string();
  std::vector<std::string> posters, intros;
  for (const auto& movie : data.movies) {
    posters.push_back(movie.poster);
    intros.push_back(movie.intro);
  }
  // Posters are read first: a poster Tesseract cannot take stops the run before any training time is spent.
  ocr::ReadStats read_stats;
  if (!learned) {
    // Only the readings are needed here (they fill the OCR cache evaluation reads); no BM25 vectors.
    ocr::read_posters(posters, reading, options.verbose, &read_stats);
    auto report = model::train_contrastive(m, data, options);
    m.fusion_weight = ocr.fusion_weight;
    m.save((std::filesystem::path(options.run_dir) / "model.safetensors").string());
    report.fusion_weight = m.fusion_weight;
    report.ocr_cache_hits = read_stats.cache_hits;
    report.posters_read = read_stats.posters_read;
    return report;
  }

  const auto channel = model::build_text_channel(posters, intros, reading, options.verbose, &read_stats);
  const auto train_rows = data.train.empty() ? [&] {
    std::vector<std::size_t> all(data.movies.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    return all;
  }() : data.train;
  const auto calibration = calibration_slice(train_rows, ocr.calibration_fraction, options.seed);
  if (train_rows.size() - calibration.size() < 2) {
    fail(ErrorKind::InvalidArgument, "train --ocr: {} training rows leave fewer than 2 after the calibration slice of {}",
         train_rows.size(), calibration.size());
  }
  Dataset heads_data = data;
  heads_data.train.clear();
  std::set_difference(train_rows.begin(), train_rows.end(), calibration.begin(), calibration.end(),
                      std::back_inserter(heads_data.train));
  auto report = model::train_contrastive(m, heads_data, options);

  // The slice's embeddings with the trained heads, then w by search over the slice.
  std::vector<std::string> slice_posters, slice_intros;
  for (const auto row : calibration) {
    slice_posters.push_back(posters[row]);
    slice_intros.push_back(intros[row]);
  }
  EncodeOptions encoding;
  encoding.precision = options.precision;
  const auto p = model::to_tensor(encode_posters(slice_posters, encoding));
  const auto t = model::to_tensor(encode_intros(slice_intros, encoding));
  std::vector<model::FusionTrial> trials;
  m.fusion_weight = model::learn_fusion_weight(p, t, model::select_rows(channel.vectors, calibration), &trials);
  if (options.verbose) {
    std::string curve;
    for (const auto& trial : trials) curve += fmt::format(" {}:{:.3f}", trial.weight, trial.mean_r1);
    log_message(LogLevel::Info, fmt::format("text channel: fusion weight {} learned on {} calibration rows "
                                            "(w:mean R@1 —{})", m.fusion_weight, calibration.size(), curve));
  }
  m.save((std::filesystem::path(options.run_dir) / "model.safetensors").string());
  report.fusion_weight = m.fusion_weight;
  report.calibration_rows = calibration;
  report.ocr_cache_hits = read_stats.cache_hits;
  report.posters_read = read_stats.posters_read;
  return report;
}

}  // namespace clipmatch
