// MobileNetV2 (Sandler et al. 2018) with torchvision's module layout and parameter names:
// features.0 (conv 3x3/2 + BN + ReLU6), features.1..N-2 inverted residual blocks (".conv.K" sub-layers:
// optional 1x1 expansion ConvBNReLU6, depthwise 3x3 ConvBNReLU6, 1x1 linear projection conv + BN, with a
// skip connection when stride 1 and widths agree), features.N-1 (1x1 conv to last_channel + BN + ReLU6),
// classifier.1 (Linear). Strides are not visible in a checkpoint, so the block table is the standard one
// (or the one given); loading then checks every tensor shape against it.
#pragma once

#include "nn/checkpoint_shapes.hpp"
#include "nn/encoder.hpp"
#include "nn/fused_conv.hpp"

#include <mutex>

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <vector>

namespace clipmatch::nn {

struct MobileNetV2Config {
  /// Rows of (expansion t, output channels c, repeats n, first stride s), before width_mult.
  std::vector<std::array<std::int64_t, 4>> blocks{
      {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  double width_mult = 1.0;
  std::int64_t stem_channels = 32;    // before width_mult
  std::int64_t last_channel = 1280;   // before max(1, width_mult)
  std::int64_t round_nearest = 8;
  std::int64_t num_classes = 0;       // 0: no classifier
  double bn_eps = 1e-5;

  /// torchvision's _make_divisible.
  std::int64_t make_divisible(double value) const;
  std::int64_t stem_width() const { return make_divisible(stem_channels * width_mult); }
  std::int64_t feature_dim() const { return make_divisible(last_channel * std::max(1.0, width_mult)); }
  /// Number of entries of `features` (stem + inverted residuals + final 1x1).
  std::int64_t num_feature_blocks() const;

  static MobileNetV2Config standard() { return MobileNetV2Config{}; }
  /// A narrow, shallow variant (8..32 channels, 6 inverted residuals, 256 features) for demos and tests.
  static MobileNetV2Config tiny();
  /// The standard table at `width_mult`, checked against the checkpoint's block count and classifier.
  static MobileNetV2Config infer(const CheckpointShapes& shapes, double width_mult = 1.0);
  void validate() const;
};

/// torchvision's Conv2dNormActivation: children "0" (Conv2d, no bias) and "1" (BatchNorm2d).
class ConvBNImpl : public torch::nn::Module {
 public:
  ConvBNImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride, std::int64_t groups,
             double eps);
  torch::Tensor forward(const torch::Tensor& x) { return bn(conv(x)); }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvBN);

class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t expand_ratio,
                       double eps);
  torch::Tensor forward(const torch::Tensor& x);

  ConvBN expand{nullptr};  // absent when expand_ratio == 1
  ConvBN depthwise{nullptr};
  torch::nn::Conv2d project{nullptr};
  torch::nn::BatchNorm2d project_bn{nullptr};
  bool use_residual = false;
};
TORCH_MODULE(InvertedResidual);

class MobileNetV2Impl : public ImageEncoderImpl {
 public:
  explicit MobileNetV2Impl(const MobileNetV2Config& config);

  /// Globally averaged features [B, feature_dim()]; uses the BN-folded channels-last path when it can (see
  /// ResNetImpl::forward).
  torch::Tensor forward(const torch::Tensor& pixel_values) override;
  /// classifier(forward(x)); requires num_classes > 0.
  torch::Tensor logits(const torch::Tensor& pixel_values);
  std::int64_t feature_dim() const override { return config_.feature_dim(); }
  /// The entries of `features` (19 for the standard network).
  std::int64_t num_blocks() const override { return static_cast<std::int64_t>(features_->size()); }
  /// Freezes all but the top k feature blocks; the classifier is never changed.
  void set_trainable_top(std::int64_t k) override;
  torch::Tensor forward_lower(const torch::Tensor& pixel_values, std::int64_t top_k) override;
  torch::Tensor forward_upper(const torch::Tensor& lower, std::int64_t top_k) override;

  void set_fast_inference(bool on) { fast_inference_ = on; }
  bool fast_inference() const { return fast_inference_; }
  const MobileNetV2Config& config() const { return config_; }

 private:
  // features_[begin, end) on the plain modules or the folded copies (channels-last in and out).
  torch::Tensor features_modules(torch::Tensor x, std::int64_t begin, std::int64_t end);
  torch::Tensor features_fused(torch::Tensor x, std::int64_t begin, std::int64_t end);
  /// Under Precision::Int8 (on CPUs with VNNI, DirectConv::int8_available) the blocks before this one (the stem and
  /// the blocks at 112², 56² and 28², with the first at 14²) compute in bf16, or in fp32 where the CPU has no native
  /// bf16. Measured on all 1,625 posters of ml100k-tmdb against fp32: int8 from block 3 on left
  /// 9 of them under cosine 0.99 (lowest 0.9845), from block 5 on 1 (0.9897), from block 8 on none (lowest 0.9914,
  /// mean 0.9971); the three encoded posters at the same speed within the machine's noise (bench: 402-462 img/s).
  static constexpr std::int64_t kFirstInt8Block = 8;
  /// features_fused under Precision::Int8 for blocks from kFirstInt8Block on: `x` is float32 channels-last and
  /// the path's own.
  torch::Tensor features_int8(const torch::Tensor& x, std::int64_t begin, std::int64_t end);
  /// True when the fused path may run features_[begin, end) on `input`.
  bool use_fused(std::int64_t begin, std::int64_t end, const torch::Tensor& input) const;
  void check_pixels(const torch::Tensor& pixel_values) const;
  void build_fused();
  /// Builds the folded copies when the weights changed since the last build. Under a lock: concurrent
  /// inference calls (a model encoding from several threads) may arrive here together.
  void ensure_fused();

  struct FusedBlock {
    std::vector<FusedConv> convs;  // ReLU6 after each but the last (blocks) or after the only one (stem/head)
    bool linear_last = true;
    bool use_residual = false;
    /// What follows convs[i]: ReLU6, or nothing after the linear bottleneck.
    ConvActivation activation(std::size_t i) const {
      return linear_last && i + 1 == convs.size() ? ConvActivation::None : ConvActivation::Relu6;
    }
  };

  MobileNetV2Config config_;
  torch::nn::ModuleList features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};  // [Dropout(0.2), Linear]: torchvision names it classifier.1

  bool fast_inference_ = true;
  std::mutex fused_mutex_;
  FusedConvCache fused_cache_;
  std::vector<FusedBlock> fused_blocks_;
};
TORCH_MODULE(MobileNetV2);

}  // namespace clipmatch::nn
