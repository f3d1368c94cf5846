// Optimiser set-up and learning-rate control for fine-tuning: AdamW with per-group rates (heads vs unfrozen
// encoder blocks), a per-step warm-up + cosine schedule, a ReduceLROnPlateau controller, and global-norm
// gradient clipping. The schedule and the plateau controller are independent; use one or the other per run.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace clipmatch::train {

/// One AdamW parameter group.
struct ParamGroupSpec {
  std::string name;                    ///< for logs and errors ("heads", "image_blocks", ...)
  std::vector<torch::Tensor> params;   ///< tensors that do not require grad are dropped
  double lr = 1e-3;
  double weight_decay = 1e-2;
};

struct AdamWSettings {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

/// AdamW over the given groups, in order (group i of the optimiser is the i-th non-empty spec; the names of
/// the kept groups are written to `kept_names` when given). Throws clipmatch::Error when no group has a
/// trainable parameter, a tensor appears in two groups, or an lr / weight decay is negative.
std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<ParamGroupSpec>& groups,
                                                const AdamWSettings& settings = {},
                                                std::vector<std::string>* kept_names = nullptr);

/// Current learning rate of every parameter group.
std::vector<double> learning_rates(const torch::optim::Optimizer& optimizer);
/// Sets every group's learning rate (one value per group); throws clipmatch::Error on a count mismatch.
void set_learning_rates(torch::optim::Optimizer& optimizer, const std::vector<double>& lrs);

/// Linear warm-up then cosine decay, as a factor of each group's base lr, stepped per optimiser step:
///   step s < warmup:  factor = (s + 1) / warmup
///   otherwise:        p = min(1, (s − warmup) / max(1, total − warmup)),
///                     factor = min_ratio + (1 − min_ratio) · (1 + cos(π p)) / 2
/// so step 0 trains at base/warmup, step `warmup` at the full base lr, and steps ≥ total at base · min_ratio.
class WarmupCosineSchedule {
 public:
  /// Base lrs are read from the optimiser's groups now. Throws clipmatch::Error on total_steps < 1,
  /// warmup_steps < 0 or min_ratio outside [0, 1].
  WarmupCosineSchedule(torch::optim::Optimizer& optimizer, std::int64_t warmup_steps, std::int64_t total_steps,
                       double min_ratio = 0.0);

  double factor(std::int64_t step) const;
  /// Sets every group's lr for the given step (call before optimizer.step()).
  void apply(std::int64_t step);
  const std::vector<double>& base_lrs() const { return base_lrs_; }

 private:
  torch::optim::Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::int64_t warmup_steps_;
  std::int64_t total_steps_;
  double min_ratio_;
};

/// PyTorch's ReduceLROnPlateau (threshold_mode "rel"): after `patience` evaluations without improvement,
/// multiplies every group's lr by `factor` (not below min_lr), then waits `cooldown` evaluations before
/// counting again.
class ReduceLROnPlateau {
 public:
  enum class Mode { Min, Max };  ///< Min for a loss, Max for a metric such as R@1
  struct Options {
    Mode mode = Mode::Max;
    double factor = 0.1;
    std::int64_t patience = 10;
    double threshold = 1e-4;  ///< relative: an improvement must beat best · (1 ± threshold)
    std::int64_t cooldown = 0;
    double min_lr = 0.0;
    double eps = 1e-8;  ///< a reduction smaller than this is skipped
  };

  /// Throws clipmatch::Error unless 0 < factor < 1, patience ≥ 0, cooldown ≥ 0, threshold ≥ 0, min_lr ≥ 0.
  ReduceLROnPlateau(torch::optim::Optimizer& optimizer, Options options);

  /// Feeds one evaluation; returns true when it lowered the learning rates. Throws on a non-finite value.
  bool step(double value);

  double best() const { return best_; }
  std::int64_t bad_epochs() const { return bad_epochs_; }
  std::int64_t reductions() const { return reductions_; }

  /// Everything step() remembers, for resuming an interrupted run.
  struct State {
    double best = 0;
    std::int64_t bad_epochs = 0, cooldown_left = 0, reductions = 0;
  };
  State state() const { return {best_, bad_epochs_, cooldown_left_, reductions_}; }
  void restore(const State& state) {
    best_ = state.best;
    bad_epochs_ = state.bad_epochs;
    cooldown_left_ = state.cooldown_left;
    reductions_ = state.reductions;
  }

 private:
  bool is_better(double value) const;

  torch::optim::Optimizer& optimizer_;
  Options options_;
  double best_;
  std::int64_t bad_epochs_ = 0;
  std::int64_t cooldown_left_ = 0;
  std::int64_t reductions_ = 0;
};

/// Scales the gradients of `params` so their global L2 norm is at most max_norm (tensors without a gradient
/// are skipped); returns the norm before clipping. Throws clipmatch::Error when that norm is not finite.
double clip_gradients(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace clipmatch::train
