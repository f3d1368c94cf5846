// ResNet (He et al. 2016) with torchvision's module layout and parameter names, so torchvision checkpoints
// load as they are: conv1/bn1 stem, max-pool, layer1..layer4 of BasicBlock or Bottleneck blocks (conv1, bn1,
// conv2, bn2[, conv3, bn3], downsample.0/.1), optional fc. The stride of a Bottleneck sits on its 3x3 conv
// (torchvision's "ResNet v1.5"). The image feature is the global average of the last stage.
#pragma once

#include "nn/checkpoint_shapes.hpp"
#include "nn/encoder.hpp"
#include "nn/fused_conv.hpp"

#include <mutex>

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace clipmatch::nn {

enum class ResNetBlock { Basic, Bottleneck };

struct ResNetConfig {
  ResNetBlock block = ResNetBlock::Bottleneck;
  std::vector<std::int64_t> layers{3, 4, 6, 3};  // blocks per stage
  std::int64_t stem_width = 64;                   // conv1 output channels (torchvision: 64)
  std::int64_t base_planes = 64;                  // stage i has base_planes·2^i planes (torchvision: 64)
  std::int64_t groups = 1;                        // Bottleneck 3x3 groups (ResNeXt)
  std::int64_t width_per_group = 64;              // Bottleneck width = planes·width_per_group/64·groups
  std::int64_t num_classes = 0;                   // 0: no fc layer
  double bn_eps = 1e-5;

  std::int64_t expansion() const { return block == ResNetBlock::Bottleneck ? 4 : 1; }
  std::int64_t feature_dim() const;

  static ResNetConfig resnet18();
  static ResNetConfig resnet50();
  /// A small BasicBlock network (stages of 1 block, 16..128 channels) for 64x64 demos and tests.
  static ResNetConfig tiny();
  /// Reads block type, blocks per stage, widths, groups and classes from torchvision tensor names/shapes.
  static ResNetConfig infer(const CheckpointShapes& shapes);
  /// Throws clipmatch::Error (InvalidArgument) naming the bad field.
  void validate() const;
};

class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(const ResNetConfig& config, std::int64_t in_channels, std::int64_t planes, std::int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};  // [Conv2d 1x1, BatchNorm2d] or absent
};
TORCH_MODULE(ResidualBlock);

class ResNetImpl : public ImageEncoderImpl {
 public:
  explicit ResNetImpl(const ResNetConfig& config);

  /// Pooled features [B, feature_dim()]. In eval mode without gradients to the weights (and fast_inference()
  /// on) it runs the BatchNorm-folded, channels-last path; otherwise the plain module path.
  torch::Tensor forward(const torch::Tensor& pixel_values) override;
  /// fc(forward(x)); requires num_classes > 0.
  torch::Tensor logits(const torch::Tensor& pixel_values);
  std::int64_t feature_dim() const override { return config_.feature_dim(); }
  /// The four stages (layer1..layer4).
  std::int64_t num_blocks() const override { return static_cast<std::int64_t>(stages_.size()); }
  /// Freezes all but the top k stages; k >= num_blocks() also unfreezes the stem. fc is never changed.
  void set_trainable_top(std::int64_t k) override;
  torch::Tensor forward_lower(const torch::Tensor& pixel_values, std::int64_t top_k) override;
  torch::Tensor forward_upper(const torch::Tensor& lower, std::int64_t top_k) override;

  void set_fast_inference(bool on) { fast_inference_ = on; }
  bool fast_inference() const { return fast_inference_; }
  const ResNetConfig& config() const { return config_; }

 private:
  // Stem (conv1, bn1, relu, max-pool) and stages [begin, end), on the plain modules or the folded copies.
  // The fused ones take and return channels-last tensors.
  torch::Tensor stem_modules(const torch::Tensor& x);
  torch::Tensor stages_modules(torch::Tensor x, std::int64_t begin, std::int64_t end);
  torch::Tensor stem_fused(const torch::Tensor& x);
  torch::Tensor stages_fused(torch::Tensor x, std::int64_t begin, std::int64_t end);
  /// True when the fused path may run stages [begin, end) (plus the stem when `with_stem`) on `input`.
  bool use_fused(bool with_stem, std::int64_t begin, std::int64_t end, const torch::Tensor& input) const;
  void check_pixels(const torch::Tensor& pixel_values) const;
  void build_fused();
  /// Builds the folded copies when the weights changed since the last build. Under a lock: concurrent
  /// inference calls (a model encoding from several threads) may arrive here together.
  void ensure_fused();

  struct FusedBlock {
    FusedConv conv1, conv2, conv3, downsample;
    bool has_conv3 = false, has_downsample = false;
  };

  ResNetConfig config_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::vector<torch::nn::Sequential> stages_;
  torch::nn::Linear fc_{nullptr};

  bool fast_inference_ = true;
  std::mutex fused_mutex_;
  FusedConvCache fused_cache_;
  FusedConv fused_stem_;
  std::vector<std::vector<FusedBlock>> fused_stages_;
};
TORCH_MODULE(ResNet);

}  // namespace clipmatch::nn
