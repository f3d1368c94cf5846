// Contrastive losses for poster/intro embedding pairs, and the learnable temperature they share.
//
// All losses take L2-normalised embeddings [N, D] where row i of both is movie i (the positive pair), and
// `log_scale` t: a 0-d tensor whose exp() multiplies the cosines into logits. Inputs are not renormalised,
// so the values match the course model, which normalises inside its forward().
#pragma once

#include <torch/torch.h>

#include <optional>

namespace clipmatch::train {

/// Symmetric InfoNCE (CLIP, and the course model):
///   logits = image · textᵀ · exp(t);  loss = (CE(logits, arange N) + CE(logitsᵀ, arange N)) / 2,
/// with CE the mean cross-entropy over rows.
torch::Tensor clip_infonce_loss(const torch::Tensor& image, const torch::Tensor& text, const torch::Tensor& log_scale);

/// SigLIP pairwise sigmoid loss (Zhai et al. 2023, eq. 1):
///   z_ij = +1 if i == j else −1;  loss = −(1/N) Σ_i Σ_j log σ(z_ij · (exp(t) · x_i·y_j + b)).
torch::Tensor siglip_loss(const torch::Tensor& image, const torch::Tensor& text, const torch::Tensor& log_scale,
                          const torch::Tensor& bias);

/// Soft targets for multi-positive InfoNCE from multi-hot genres [N, G] (any dtype; nonzero = has genre):
///   w_ii = 1;  w_ij = weight · Jaccard(genres_i, genres_j) for i ≠ j, where Jaccard = |∩| / |∪| and is 0
///   when either movie has no genres (unknown genres are no evidence of similarity);
///   target row i = w_i / Σ_j w_ij.
/// The matrix w is symmetric, so the same rows serve both directions. weight = 0 gives the identity.
torch::Tensor genre_soft_targets(const torch::Tensor& genres, double weight);

/// Multi-positive InfoNCE: symmetric soft cross-entropy with `targets` ([N, N], rows summing to 1, e.g. from
/// genre_soft_targets):
///   loss = ( mean_i −Σ_j T_ij log softmax_j(L)_ij + mean_j −Σ_i T_ji log softmax_i(L)_ij ) / 2,  L = logits.
/// With targets = identity it equals clip_infonce_loss.
torch::Tensor multi_positive_infonce_loss(const torch::Tensor& image, const torch::Tensor& text,
                                          const torch::Tensor& log_scale, const torch::Tensor& targets);

/// How the temperature starts and is bounded.
struct TemperatureOptions {
  double init_log_scale = 2.6592600369327779;  ///< log(1/0.07): CLIP's initial logit scale of ~14.3
  std::optional<double> max_log_scale = 4.6051701859880914;  ///< log(100): CLIP keeps exp(t) ≤ 100
  std::optional<double> init_bias;  ///< a learnable logit bias (SigLIP) when set

  /// CLIP: t = log(1/0.07), exp(t) clamped at 100, no bias.
  static TemperatureOptions clip() { return {}; }
  /// The course notebook: t = 1.0 (exp(t) ≈ 2.718), clamped at log(100), no bias.
  static TemperatureOptions course() { return {1.0, 4.6051701859880914, std::nullopt}; }
  /// SigLIP: t = log(10), b = −10; the paper does not clamp t.
  static TemperatureOptions siglip() { return {2.302585092994046, std::nullopt, -10.0}; }
};

/// The learnable log-scale t (and optional bias b) of a contrastive loss.
class LearnableTemperatureImpl : public torch::nn::Module {
 public:
  explicit LearnableTemperatureImpl(TemperatureOptions options = TemperatureOptions::clip());

  /// t as used in a loss: clamped at max_log_scale (gradient zero above it, as in a clamp()).
  torch::Tensor log_scale() const;
  /// exp(log_scale()).
  torch::Tensor scale() const { return log_scale().exp(); }
  /// The bias parameter; undefined when the options have no init_bias.
  const torch::Tensor& bias() const { return bias_; }
  bool has_bias() const { return bias_.defined(); }
  /// Clamps the raw parameter into [−∞, max_log_scale] in place (CLIP does this after each optimiser step, so
  /// a saturated t can come back down as soon as its gradient turns).
  void clamp_();

  const TemperatureOptions& options() const { return options_; }
  /// The raw parameter t.
  const torch::Tensor& raw_log_scale() const { return log_scale_; }

 private:
  TemperatureOptions options_;
  torch::Tensor log_scale_;
  torch::Tensor bias_;
};
TORCH_MODULE(LearnableTemperature);

}  // namespace clipmatch::train
