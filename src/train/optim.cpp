#include "train/optim.hpp"

#include "core/fail.hpp"
#include "train/adamw.hpp"

#include <fmt/ranges.h>

#include <cmath>
#include <limits>
#include <unordered_set>

namespace clipmatch::train {

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<ParamGroupSpec>& groups,
                                                const AdamWSettings& settings, std::vector<std::string>* kept_names) {
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  std::unordered_set<const void*> seen;
  if (kept_names != nullptr) kept_names->clear();
  for (const ParamGroupSpec& spec : groups) {
    if (spec.lr < 0 || spec.weight_decay < 0) {
      fail(ErrorKind::InvalidArgument, "parameter group '{}': lr {} and weight decay {} must be ≥ 0", spec.name,
           spec.lr, spec.weight_decay);
    }
    std::vector<torch::Tensor> trainable;
    for (const torch::Tensor& p : spec.params) {
      if (!p.defined() || !p.requires_grad()) continue;
      if (!seen.insert(p.unsafeGetTensorImpl()).second) {
        fail(ErrorKind::InvalidArgument, "parameter group '{}': a tensor of shape [{}] is already in another group",
             spec.name, fmt::join(p.sizes(), ", "));
      }
      trainable.push_back(p);
    }
    if (trainable.empty()) continue;
    auto options = std::make_unique<torch::optim::AdamWOptions>(spec.lr);
    options->betas({settings.beta1, settings.beta2}).eps(settings.eps).weight_decay(spec.weight_decay);
    param_groups.emplace_back(std::move(trainable), std::move(options));
    if (kept_names != nullptr) kept_names->push_back(spec.name);
  }
  if (param_groups.empty()) fail(ErrorKind::InvalidArgument, "AdamW: no parameter group has a trainable tensor");
  return std::make_unique<MultiTensorAdamW>(std::move(param_groups));
}

std::vector<double> learning_rates(const torch::optim::Optimizer& optimizer) {
  std::vector<double> lrs;
  for (const auto& group : optimizer.param_groups()) lrs.push_back(group.options().get_lr());
  return lrs;
}

void set_learning_rates(torch::optim::Optimizer& optimizer, const std::vector<double>& lrs) {
  auto& groups = optimizer.param_groups();
  if (groups.size() != lrs.size())
    fail(ErrorKind::InvalidArgument, "{} learning rates for {} parameter groups", lrs.size(), groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(lrs[g]);
}

WarmupCosineSchedule::WarmupCosineSchedule(torch::optim::Optimizer& optimizer, std::int64_t warmup_steps,
                                           std::int64_t total_steps, double min_ratio)
    : optimizer_(optimizer), base_lrs_(learning_rates(optimizer)), warmup_steps_(warmup_steps),
      total_steps_(total_steps), min_ratio_(min_ratio) {
  if (total_steps < 1 || warmup_steps < 0) {
    fail(ErrorKind::InvalidArgument, "warm-up/cosine schedule: need total_steps ≥ 1 and warmup_steps ≥ 0, got {} and {}",
         total_steps, warmup_steps);
  }
  if (!(min_ratio >= 0 && min_ratio <= 1)) {
    fail(ErrorKind::InvalidArgument, "warm-up/cosine schedule: min_ratio {} is outside [0, 1]", min_ratio);
  }
}

double WarmupCosineSchedule::factor(std::int64_t step) const {
  if (step < warmup_steps_) return static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  const double span = static_cast<double>(std::max<std::int64_t>(1, total_steps_ - warmup_steps_));
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps_) / span);
  return min_ratio_ + (1.0 - min_ratio_) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

void WarmupCosineSchedule::apply(std::int64_t step) {
  const double f = factor(step);
  auto& groups = optimizer_.param_groups();
  for (std::size_t i = 0; i < groups.size() && i < base_lrs_.size(); ++i) groups[i].options().set_lr(base_lrs_[i] * f);
}

ReduceLROnPlateau::ReduceLROnPlateau(torch::optim::Optimizer& optimizer, Options options)
    : optimizer_(optimizer), options_(options),
      best_(options.mode == Mode::Max ? -std::numeric_limits<double>::infinity()
                                      : std::numeric_limits<double>::infinity()) {
  if (!(options.factor > 0 && options.factor < 1)) {
    fail(ErrorKind::InvalidArgument, "ReduceLROnPlateau: factor {} must lie in (0, 1)", options.factor);
  }
  if (options.patience < 0 || options.cooldown < 0 || options.threshold < 0 || options.min_lr < 0) {
    fail(ErrorKind::InvalidArgument, "ReduceLROnPlateau: patience, cooldown, threshold and min_lr must be ≥ 0");
  }
}

bool ReduceLROnPlateau::is_better(double value) const {
  if (options_.mode == Mode::Min) return value < best_ * (1.0 - options_.threshold);
  return value > best_ * (1.0 + options_.threshold);
}

bool ReduceLROnPlateau::step(double value) {
  if (!std::isfinite(value)) fail(ErrorKind::InvalidArgument, "ReduceLROnPlateau: monitored value {} is not finite", value);
  if (is_better(value)) {
    best_ = value;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ <= options_.patience) return false;

  bool reduced = false;
  for (auto& group : optimizer_.param_groups()) {
    const double old_lr = group.options().get_lr();
    const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
    if (old_lr - new_lr > options_.eps) {
      group.options().set_lr(new_lr);
      reduced = true;
    }
  }
  cooldown_left_ = options_.cooldown;
  bad_epochs_ = 0;
  if (reduced) ++reductions_;
  return reduced;
}

double clip_gradients(const std::vector<torch::Tensor>& params, double max_norm) {
  if (!(max_norm > 0)) fail(ErrorKind::InvalidArgument, "gradient clipping: max_norm {} must be positive", max_norm);
  std::vector<torch::Tensor> with_grad;
  for (const auto& p : params) {
    if (p.defined() && p.grad().defined()) with_grad.push_back(p);
  }
  if (with_grad.empty()) return 0.0;
  // torch::nn::utils::clip_grad_norm_'s arithmetic with multi-tensor operators: it launches two kernels per
  // tensor (a norm, a scale) and scales even when nothing is clipped; this launches a handful in all.
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  grads.reserve(with_grad.size());
  for (const auto& p : with_grad) grads.push_back(p.grad());
  const torch::Tensor total = torch::stack(at::_foreach_norm(grads, 2.0)).norm(2.0);
  const double norm = total.item<double>();  // the one read-back, as clip_grad_norm_ has
  // Checked before scaling: a NaN/inf norm would otherwise be multiplied into every gradient.
  if (!std::isfinite(norm)) {
    fail(ErrorKind::InvalidArgument, "gradient clipping: the global gradient norm is not finite (NaN or inf "
         "gradients in {} tensors)", with_grad.size());
  }
  const double scale = max_norm / (norm + 1e-6);
  if (scale < 1.0) at::_foreach_mul_(grads, scale);
  return norm;
}

}  // namespace clipmatch::train
