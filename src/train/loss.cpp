#include "train/loss.hpp"

#include "core/fail.hpp"

#include <fmt/ranges.h>

namespace clipmatch::train {

namespace {

void check_pair(const torch::Tensor& image, const torch::Tensor& text, const torch::Tensor& log_scale,
                const char* loss) {
  if (!image.defined() || !text.defined() || image.dim() != 2 || text.dim() != 2 || image.sizes() != text.sizes()) {
    fail(ErrorKind::InvalidArgument, "{}: image and text embeddings must both be [N, D] of one shape, got {} and {}",
         loss, image.defined() ? fmt::format("{}", fmt::join(image.sizes(), "x")) : "undefined",
         text.defined() ? fmt::format("{}", fmt::join(text.sizes(), "x")) : "undefined");
  }
  if (image.size(0) == 0) fail(ErrorKind::InvalidArgument, "{}: the batch is empty", loss);
  if (!log_scale.defined() || log_scale.numel() != 1) {
    fail(ErrorKind::InvalidArgument, "{}: log_scale must be a single value", loss);
  }
}

torch::Tensor scaled_cosines(const torch::Tensor& image, const torch::Tensor& text, const torch::Tensor& log_scale) {
  return image.matmul(text.t()) * log_scale.reshape({}).exp();
}

}  // namespace

torch::Tensor clip_infonce_loss(const torch::Tensor& image, const torch::Tensor& text, const torch::Tensor& log_scale) {
  check_pair(image, text, log_scale, "InfoNCE loss");
  const torch::Tensor logits = scaled_cosines(image, text, log_scale);
  const torch::Tensor labels = torch::arange(logits.size(0), logits.options().dtype(torch::kInt64));
  return (torch::nn::functional::cross_entropy(logits, labels) +
          torch::nn::functional::cross_entropy(logits.t(), labels)) / 2;
}

torch::Tensor siglip_loss(const torch::Tensor& image, const torch::Tensor& text, const torch::Tensor& log_scale,
                          const torch::Tensor& bias) {
  check_pair(image, text, log_scale, "SigLIP loss");
  if (!bias.defined() || bias.numel() != 1) fail(ErrorKind::InvalidArgument, "SigLIP loss: bias must be a single value");
  const torch::Tensor logits = scaled_cosines(image, text, log_scale) + bias.reshape({});
  const torch::Tensor signs = 2 * torch::eye(logits.size(0), logits.options()) - 1;
  return -torch::nn::functional::logsigmoid(signs * logits).sum() / logits.size(0);
}

torch::Tensor genre_soft_targets(const torch::Tensor& genres, double weight) {
  if (!genres.defined() || genres.dim() != 2) {
    fail(ErrorKind::InvalidArgument, "genre targets: genres must be a multi-hot [N, G] tensor");
  }
  if (weight < 0) fail(ErrorKind::InvalidArgument, "genre targets: weight must be ≥ 0, got {}", weight);
  const torch::Tensor hot = (genres != 0).to(torch::kFloat32);
  const torch::Tensor shared = hot.matmul(hot.t());
  const torch::Tensor counts = hot.sum(1);
  const torch::Tensor unions = counts.unsqueeze(1) + counts.unsqueeze(0) - shared;
  const torch::Tensor jaccard = torch::where(unions > 0, shared / unions.clamp_min(1), torch::zeros_like(shared));
  const torch::Tensor eye = torch::eye(hot.size(0), hot.options());
  const torch::Tensor weights = eye + weight * jaccard * (1 - eye);
  return weights / weights.sum(1, /*keepdim=*/true);
}

torch::Tensor multi_positive_infonce_loss(const torch::Tensor& image, const torch::Tensor& text,
                                          const torch::Tensor& log_scale, const torch::Tensor& targets) {
  check_pair(image, text, log_scale, "multi-positive InfoNCE loss");
  const std::int64_t n = image.size(0);
  if (!targets.defined() || targets.dim() != 2 || targets.size(0) != n || targets.size(1) != n) {
    fail(ErrorKind::InvalidArgument, "multi-positive InfoNCE loss: targets must be [{0}, {0}] for a batch of {0}", n);
  }
  const torch::Tensor logits = scaled_cosines(image, text, log_scale);
  const torch::Tensor soft = targets.to(logits.dtype());
  const torch::Tensor image_to_text = -(soft * torch::log_softmax(logits, 1)).sum(1).mean();
  const torch::Tensor text_to_image = -(soft * torch::log_softmax(logits.t(), 1)).sum(1).mean();
  return (image_to_text + text_to_image) / 2;
}

LearnableTemperatureImpl::LearnableTemperatureImpl(TemperatureOptions options) : options_(options) {
  log_scale_ = register_parameter("log_scale", torch::tensor(options_.init_log_scale, torch::kFloat32));
  if (options_.init_bias) bias_ = register_parameter("bias", torch::tensor(*options_.init_bias, torch::kFloat32));
}

torch::Tensor LearnableTemperatureImpl::log_scale() const {
  return options_.max_log_scale ? log_scale_.clamp_max(*options_.max_log_scale) : log_scale_;
}

void LearnableTemperatureImpl::clamp_() {
  if (!options_.max_log_scale) return;
  torch::NoGradGuard no_grad;
  log_scale_.clamp_max_(*options_.max_log_scale);
}

}  // namespace clipmatch::train
