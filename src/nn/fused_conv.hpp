// Inference-only convolutions with BatchNorm folded in, stored channels-last.
//
// Why: LibTorch's CPU convolution in the default (NCHW contiguous) layout takes the slow native path; with
// channels-last weights and inputs it dispatches to oneDNN (mkldnn), 2-4x faster, and folding each eval-mode
// BatchNorm into its convolution removes a full pass over every activation. The folded weights are a cache
// derived from the module's parameters: FusedConvCache notices when any parameter or buffer changed (tensor
// version counter or storage) and rebuilds, so training and reloading never see stale weights.
#pragma once

#include "nn/direct_conv.hpp"

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace clipmatch::nn {

/// An activation on the int8 path: float32 (`real`) or int8 form (`quantized`); exactly one is set.
struct Int8PathActivation {
  torch::Tensor real;
  QuantizedTensor quantized;
  torch::Tensor to_float() const { return quantized.values.defined() ? dequantize(quantized) : real; }
};

/// One convolution (+ folded BatchNorm) ready for inference.
struct FusedConv {
  torch::Tensor weight;  // [out, in/groups, kh, kw], channels-last
  torch::Tensor bias;    // [out]
  torch::Tensor weight_bf16, bias_bf16;  // the same in bfloat16, for Precision::Bf16
  std::vector<std::int64_t> stride;
  std::vector<std::int64_t> padding;
  std::int64_t groups = 1;
  std::shared_ptr<const DirectConv> direct;  // set where oneDNN is linked (direct_conv.hpp)

  /// Runs in x's dtype (float32 or bfloat16).
  torch::Tensor operator()(const torch::Tensor& x) const {
    if (x.scalar_type() == torch::kBFloat16) {
      return torch::conv2d(x, weight_bf16, bias_bf16, stride, padding, /*dilation=*/1, groups);
    }
    return torch::conv2d(x, weight, bias, stride, padding, /*dilation=*/1, groups);
  }

  /// activation(conv(x) + residual) in x's dtype: one oneDNN primitive with the sum and the activation fused
  /// where available, else LibTorch's conv2d followed by in-place add and clamp. `residual` (may be undefined)
  /// must be the caller's own intermediate: its buffer may become the result.
  torch::Tensor run(const torch::Tensor& x, ConvActivation activation, const torch::Tensor& residual = {}) const;

  /// run() for Precision::Int8: a float input is quantised per tensor (quantize_int8), the convolution runs on
  /// int8, and the result is uint8 when `uint8_output` and the activation is ReLU6 (the next layer's input), else
  /// float32. `residual` is float32 and the caller's own, as in run(). Where oneDNN has no int8 kernel (or no
  /// oneDNN is linked) this layer computes in float32 instead.
  Int8PathActivation run_int8(const Int8PathActivation& x, ConvActivation activation, bool uint8_output,
                              const torch::Tensor& residual = {}) const;
};

/// Folds eval-mode `bn` (running statistics) into `conv`: w' = w·γ/√(σ²+ε), b' = β + (b − μ)·γ/√(σ²+ε).
FusedConv fuse_conv_bn(const torch::nn::Conv2d& conv, const torch::nn::BatchNorm2d& bn);

/// True when a forward pass may use folded weights: eval mode and no gradient can reach the parameters
/// (grad mode off, or every parameter frozen).
bool can_use_fused_path(const torch::nn::Module& module);
/// The same test for a part of `module` (a split forward): `module` is in eval mode, and no gradient can
/// reach the parameters of `parts` or flow back into `input` (may be undefined).
bool can_use_fused_path(const torch::nn::Module& module, const std::vector<const torch::nn::Module*>& parts,
                        const torch::Tensor& input);

/// The dtype a fused path computes in for the calling thread's precision: bfloat16 under Precision::Bf16,
/// float32 otherwise (an int8 path quantises per layer: FusedConv::run_int8). Converts channels-last. The result
/// is always a new tensor (a copy where x already had that form), so a fused path may reuse its buffer for a
/// residual sum without writing into the caller's tensor.
torch::Tensor to_fused_input(const torch::Tensor& x);

/// Remembers which parameter/buffer versions a fused copy was built from.
class FusedConvCache {
 public:
  /// True when `module`'s parameters and buffers are exactly those seen by the last mark_built().
  bool is_current(const torch::nn::Module& module) const;
  void mark_built(const torch::nn::Module& module);
  void clear() { signature_.clear(); }

 private:
  static std::vector<std::pair<const void*, std::uint32_t>> signature(const torch::nn::Module& module);
  std::vector<std::pair<const void*, std::uint32_t>> signature_;
};

}  // namespace clipmatch::nn
