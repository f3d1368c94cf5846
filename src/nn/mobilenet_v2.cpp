#include "nn/mobilenet_v2.hpp"

#include "core/fail.hpp"
#include "core/precision.hpp"
#include "nn/core_streams.hpp"

#include <cmath>

namespace clipmatch::nn {

std::int64_t MobileNetV2Config::make_divisible(double value) const {
  const std::int64_t divisor = round_nearest;
  std::int64_t rounded =
      std::max<std::int64_t>(divisor, static_cast<std::int64_t>(value + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * value) rounded += divisor;  // never round down by more than 10%
  return rounded;
}

std::int64_t MobileNetV2Config::num_feature_blocks() const {
  std::int64_t count = 2;
  for (const auto& row : blocks) count += row[2];
  return count;
}

MobileNetV2Config MobileNetV2Config::tiny() {
  MobileNetV2Config config;
  config.blocks = {{1, 8, 1, 1}, {6, 16, 2, 2}, {6, 24, 2, 2}, {6, 32, 1, 2}};
  config.stem_channels = 16;
  config.last_channel = 256;
  return config;
}

void MobileNetV2Config::validate() const {
  if (blocks.empty()) fail(ErrorKind::InvalidArgument, "MobileNetV2Config.blocks: at least one row is needed");
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto& [t, c, n, s] = blocks[i];
    if (t < 1 || c < 1 || n < 1 || (s != 1 && s != 2)) {
      fail(ErrorKind::InvalidArgument,
           "MobileNetV2Config.blocks[{}] = (t={}, c={}, n={}, s={}): need t,c,n >= 1 and s in {{1,2}}", i, t, c,
           n, s);
    }
  }
  if (!(width_mult > 0.0) || !std::isfinite(width_mult)) {
    fail(ErrorKind::InvalidArgument, "MobileNetV2Config.width_mult = {}: must be > 0", width_mult);
  }
  if (stem_channels < 1 || last_channel < 1 || round_nearest < 1) {
    fail(ErrorKind::InvalidArgument, "MobileNetV2Config: stem_channels, last_channel, round_nearest must be >= 1");
  }
  if (num_classes < 0) fail(ErrorKind::InvalidArgument, "MobileNetV2Config.num_classes = {}: must be >= 0", num_classes);
}

MobileNetV2Config MobileNetV2Config::infer(const CheckpointShapes& shapes, double width_mult) {
  MobileNetV2Config config;
  config.width_mult = width_mult;
  std::int64_t present = 0;
  while (shapes.contains(fmt::format("features.{}.0.weight", present)) ||
         shapes.contains(fmt::format("features.{}.conv.0.0.weight", present))) {
    ++present;
  }
  if (present != config.num_feature_blocks()) {
    fail(ErrorKind::Checkpoint,
         "{}: found {} MobileNetV2 feature blocks (features.0..features.{}), the standard network has {}",
         shapes.source, present, present - 1, config.num_feature_blocks());
  }
  config.num_classes = shapes.contains("classifier.1.weight") ? shapes.dim("classifier.1.weight", 2, 0) : 0;
  config.validate();
  return config;
}

ConvBNImpl::ConvBNImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                       std::int64_t groups, double eps) {
  conv = register_module("0", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                                    .stride(stride)
                                                    .padding((kernel - 1) / 2)
                                                    .groups(groups)
                                                    .bias(false)));
  bn = register_module("1", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(eps)));
}

InvertedResidualImpl::InvertedResidualImpl(std::int64_t in, std::int64_t out, std::int64_t stride,
                                           std::int64_t expand_ratio, double eps) {
  const std::int64_t hidden = in * expand_ratio;
  use_residual = stride == 1 && in == out;
  // torchvision numbers the sub-layers of "conv" consecutively, so they shift when there is no expansion.
  auto layers = register_module("conv", torch::nn::ModuleList());
  if (expand_ratio != 1) {
    expand = ConvBN(in, hidden, 1, 1, 1, eps);
    layers->push_back(expand);
  }
  depthwise = ConvBN(hidden, hidden, 3, stride, hidden, eps);
  layers->push_back(depthwise);
  project = torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out, 1).bias(false));
  layers->push_back(project);
  project_bn = torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(eps));
  layers->push_back(project_bn);
}

torch::Tensor InvertedResidualImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = x;
  if (expand) out = torch::hardtanh(expand(out), 0.0, 6.0);
  out = torch::hardtanh(depthwise(out), 0.0, 6.0);
  out = project_bn(project(out));
  return use_residual ? x + out : out;
}

MobileNetV2Impl::MobileNetV2Impl(const MobileNetV2Config& config) : config_(config) {
  config_.validate();
  features_ = register_module("features", torch::nn::ModuleList());
  std::int64_t channels = config_.stem_width();
  features_->push_back(ConvBN(3, channels, 3, 2, 1, config_.bn_eps));
  for (const auto& [t, c, n, s] : config_.blocks) {
    const std::int64_t out = config_.make_divisible(c * config_.width_mult);
    for (std::int64_t i = 0; i < n; ++i) {
      features_->push_back(InvertedResidual(channels, out, i == 0 ? s : 1, t, config_.bn_eps));
      channels = out;
    }
  }
  features_->push_back(ConvBN(channels, config_.feature_dim(), 1, 1, 1, config_.bn_eps));
  if (config_.num_classes > 0) {
    classifier_ = register_module(
        "classifier", torch::nn::Sequential(torch::nn::Dropout(0.2),
                                            torch::nn::Linear(config_.feature_dim(), config_.num_classes)));
  }
  // torchvision's initialisation.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut);
    } else if (auto* linear = module->as<torch::nn::LinearImpl>()) {
      torch::nn::init::normal_(linear->weight, 0.0, 0.01);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor MobileNetV2Impl::features_modules(torch::Tensor x, std::int64_t begin, std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i) {
    const auto& child = (*features_)[static_cast<std::size_t>(i)];
    if (auto* conv_bn = child->as<ConvBNImpl>()) {
      x = torch::hardtanh(conv_bn->forward(x), 0.0, 6.0);
    } else {
      x = child->as<InvertedResidualImpl>()->forward(x);
    }
  }
  return x;
}

void MobileNetV2Impl::ensure_fused() {
  std::lock_guard<std::mutex> lock(fused_mutex_);
  if (!fused_cache_.is_current(*this)) build_fused();
}

void MobileNetV2Impl::build_fused() {
  fused_blocks_.clear();
  for (const auto& child : *features_) {
    FusedBlock fused;
    if (auto* conv_bn = child->as<ConvBNImpl>()) {
      fused.convs.push_back(fuse_conv_bn(conv_bn->conv, conv_bn->bn));
      fused.linear_last = false;
    } else {
      auto* block = child->as<InvertedResidualImpl>();
      if (block->expand) fused.convs.push_back(fuse_conv_bn(block->expand->conv, block->expand->bn));
      fused.convs.push_back(fuse_conv_bn(block->depthwise->conv, block->depthwise->bn));
      fused.convs.push_back(fuse_conv_bn(block->project, block->project_bn));
      fused.use_residual = block->use_residual;
    }
    fused_blocks_.push_back(std::move(fused));
  }
  fused_cache_.mark_built(*this);
}

torch::Tensor MobileNetV2Impl::features_fused(torch::Tensor x, std::int64_t begin, std::int64_t end) {
  ensure_fused();
  if (current_precision() == Precision::Int8 && DirectConv::int8_available() && x.device().is_cpu()) {
    const std::int64_t split = std::clamp(kFirstInt8Block, begin, end);
    if (split == begin) return features_int8(to_fused_input(x), begin, end);
    torch::Tensor lower;
    {
      PrecisionScope prefix(DirectConv::bf16_native() ? Precision::Bf16 : Precision::Fp32, false);
      lower = features_fused(x, begin, split);  // float32 channels-last, and the path's own: no copy needed
    }
    return features_int8(lower, split, end);
  }
  x = to_fused_input(x);
  for (std::int64_t b = begin; b < end; ++b) {
    const FusedBlock& block = fused_blocks_[static_cast<std::size_t>(b)];
    torch::Tensor y = x;
    for (std::size_t i = 0; i < block.convs.size(); ++i) {
      const bool last = i + 1 == block.convs.size();
      // The block's input becomes its output buffer: it is the fused path's own (to_fused_input).
      y = block.convs[i].run(y, block.activation(i), last && block.use_residual ? x : torch::Tensor());
    }
    x = std::move(y);
  }
  return x.to(torch::kFloat32);
}

// Between layers an activation stays uint8 after each ReLU6 and float32 after each linear bottleneck (which feeds
// the residual sums in float); the last layer of the run writes float32.
torch::Tensor MobileNetV2Impl::features_int8(const torch::Tensor& x, std::int64_t begin, std::int64_t end) {
  Int8PathActivation activation{x, {}};
  for (std::int64_t b = begin; b < end; ++b) {
    const FusedBlock& block = fused_blocks_[static_cast<std::size_t>(b)];
    const torch::Tensor block_input = block.use_residual ? activation.to_float() : torch::Tensor();
    for (std::size_t i = 0; i < block.convs.size(); ++i) {
      const bool last = i + 1 == block.convs.size();
      const bool end_of_run = last && b + 1 == end;
      activation = block.convs[i].run_int8(activation, block.activation(i), /*uint8_output=*/!end_of_run,
                                           last ? block_input : torch::Tensor());
    }
  }
  return activation.to_float();
}

bool MobileNetV2Impl::use_fused(std::int64_t begin, std::int64_t end, const torch::Tensor& input) const {
  if (!fast_inference_) return false;
  std::vector<const torch::nn::Module*> parts;
  for (std::int64_t i = begin; i < end; ++i) parts.push_back((*features_)[static_cast<std::size_t>(i)].get());
  return can_use_fused_path(*this, parts, input);
}

void MobileNetV2Impl::check_pixels(const torch::Tensor& pixel_values) const {
  if (pixel_values.dim() != 4 || pixel_values.size(1) != 3) {
    fail(ErrorKind::InvalidArgument, "MobileNetV2: pixel_values must be [B, 3, H, W], got {}",
         fmt::format("{}", fmt::join(pixel_values.sizes(), "x")));
  }
}

torch::Tensor MobileNetV2Impl::forward(const torch::Tensor& pixel_values) {
  check_pixels(pixel_values);
  if (fast_inference_ && can_use_fused_path(*this)) {
    torch::NoGradGuard no_grad;
    return forward_in_core_streams(pixel_values, kCoreStreamMicroBatch, [this](const torch::Tensor& micro_batch) {
      return features_fused(micro_batch, 0, num_blocks()).mean({2, 3});
    });
  }
  return features_modules(pixel_values, 0, num_blocks()).mean({2, 3});
}

torch::Tensor MobileNetV2Impl::forward_lower(const torch::Tensor& pixel_values, std::int64_t top_k) {
  check_split(top_k, "MobileNetV2");
  if (top_k == 0) return ImageEncoderImpl::forward_lower(pixel_values, 0);
  check_pixels(pixel_values);
  const std::int64_t end = num_blocks() - top_k;
  // Cached by the caller as a plain tensor, so always NCHW-contiguous whichever path produced it.
  if (use_fused(0, end, pixel_values)) {
    torch::NoGradGuard no_grad;
    return features_fused(pixel_values, 0, end).contiguous();
  }
  return features_modules(pixel_values, 0, end).contiguous();
}

torch::Tensor MobileNetV2Impl::forward_upper(const torch::Tensor& lower, std::int64_t top_k) {
  check_split(top_k, "MobileNetV2");
  if (top_k == 0) return lower;
  const std::int64_t begin = num_blocks() - top_k;
  const auto& first = (*features_)[static_cast<std::size_t>(begin)];
  std::int64_t channels = 0;
  if (auto* conv_bn = first->as<ConvBNImpl>()) {
    channels = conv_bn->conv->options.in_channels();
  } else {
    auto* block = first->as<InvertedResidualImpl>();
    channels = (block->expand ? block->expand->conv : block->depthwise->conv)->options.in_channels();
  }
  if (lower.dim() != 4 || lower.size(1) != channels) {
    fail(ErrorKind::InvalidArgument,
         "MobileNetV2: forward_upper(top_k = {}) needs feature maps [B, {}, H, W], got {}", top_k, channels,
         fmt::format("{}", fmt::join(lower.sizes(), "x")));
  }
  if (use_fused(begin, num_blocks(), lower)) {
    torch::NoGradGuard no_grad;
    return features_fused(lower, begin, num_blocks()).mean({2, 3});
  }
  return features_modules(lower, begin, num_blocks()).mean({2, 3});
}

torch::Tensor MobileNetV2Impl::logits(const torch::Tensor& pixel_values) {
  if (!classifier_) fail(ErrorKind::InvalidArgument, "MobileNetV2: this network has no classifier (num_classes = 0)");
  return classifier_->forward(forward(pixel_values));
}

void MobileNetV2Impl::set_trainable_top(std::int64_t k) {
  const std::int64_t count = num_blocks();
  const std::int64_t top = std::clamp<std::int64_t>(k, 0, count);
  for (std::int64_t i = 0; i < count; ++i) {
    for (auto& parameter : (*features_)[i]->parameters()) parameter.set_requires_grad(i >= count - top);
  }
}

}  // namespace clipmatch::nn
