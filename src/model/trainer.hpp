// One training run of a model: the loop Model::train runs, on one process or as one rank of a distributed
// run (the two share every line; a distributed rank differs only in which rows it encodes, the gathered
// embeddings, the summed gradients and who writes).
//
// Each tower feeds its head from the stage its split depth selects (model/tower_feed.hpp): cached features of
// a frozen encoder, the cached output of the frozen lower part under top-K unfreezing, or decoded inputs when
// the whole encoder trains. Evaluated epochs are scored on held-out mean R@1 (train when there is no held-out
// set); the best is checkpointed and restored at the end. After every epoch the resume state is written, so an
// interrupted run continues exactly (model/resume_state.hpp).
#pragma once

#include "core/progress.hpp"
#include "dist/process_group.hpp"
#include "model/model_state.hpp"
#include "model/resume_state.hpp"
#include "model/tower_feed.hpp"
#include "cache/feature_cache.hpp"
#include "train/optim.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace clipmatch::model {

class Trainer {
 public:
  /// Validates `options` and, for a distributed run, joins the group (so a bad option or a missing rank fails
  /// before anything is read or written). `model`, `data` and `options` must outlive the Trainer.
  Trainer(Model::Impl& model, const Dataset& data, const TrainOptions& options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Trains for options.epochs (or until early stopping) and leaves the best epoch's weights in the model, in
  /// eval mode. Whatever stops it early (a cancel, an error) leaves a usable model: the best epoch reached, else
  /// the weights it started from.
  TrainReport run();

 private:
  using TensorMap = std::map<std::string, torch::Tensor>;

  // Set-up, in the order run() calls them.
  void read_resume_state();
  void ensure_vocabulary();
  void set_up_freezing();
  void build_feeds();
  void fill_cache_in_shares(const std::filesystem::path& dir);
  void build_optimizer();
  void restore_resumed_progress();

  // The loop.
  /// Trains one epoch; returns the mean loss of its steps.
  double train_epoch(int epoch);
  /// This rank's share of the global batch `rows`, embedded, gathered from every rank, and its loss.
  torch::Tensor batch_loss(const torch::Tensor& rows);
  /// Evaluates (rank 0), appends the epoch's line to epochs.jsonl and keeps the best epoch.
  void finish_epoch(EpochLog& log, bool evaluate_now);
  void save_resume_state(int epoch);
  std::pair<torch::Tensor, torch::Tensor> embed_all();
  void set_training_modes();

  Model::Impl& m_;
  const Dataset& data_;
  const TrainOptions& options_;
  std::unique_ptr<dist::Group> group_;  ///< set in a distributed run
  bool writer_ = true;                  ///< this process writes run_dir and evaluates (rank 0)

  std::vector<std::int64_t> train_rows_;
  std::vector<std::string> posters_, intros_;
  std::filesystem::path resume_path_, log_path_;
  std::optional<ResumeState> resumed_;
  nlohmann::json fingerprint_;  ///< run_fingerprint of this run (options, model configuration, data)

  std::int64_t image_top_ = 0, text_top_ = 0;  ///< trainable top units of each encoder
  cache::CacheStats cache_stats_;
  std::optional<StageCache> cache_;
  std::optional<ImageFeed> image_feed_;
  std::optional<TextFeed> text_feed_;
  bool encoders_run_ = false;  ///< some encoder computes in the loop (not only cached features)
  torch::Tensor genres_;       ///< multi-positive loss: the dataset's genre matrix on the device

  std::vector<torch::Tensor> per_row_params_;     ///< heads and unfrozen encoder weights
  std::vector<torch::Tensor> shared_params_;      ///< temperature (and SigLIP bias)
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::optional<train::WarmupCosineSchedule> cosine_;
  std::optional<train::ReduceLROnPlateau> plateau_;

  std::int64_t batch_size_ = 0, local_batch_ = 0, steps_per_epoch_ = 0, total_steps_ = 0;
  torch::Tensor train_index_;

  TrainReport report_;
  TensorMap best_state_;
  double best_score_ = -1;
  int epochs_without_improvement_ = 0;
  std::int64_t step_ = 0;
  int first_epoch_ = 1;
  bool finished_ = false;
  std::ofstream log_file_;
  std::optional<Progress> run_steps_;  ///< stage "train": the run's steps, for the caller's progress observer
};

}  // namespace clipmatch::model
