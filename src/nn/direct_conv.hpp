// A convolution run by oneDNN directly, with what follows it in a CNN block fused into it.
//
// Why: LibTorch 1.13's CPU convolution cannot fuse anything but ReLU (its prepacked op refuses ReLU6), so every
// MobileNetV2 layer wrote its activations and then read and wrote them again for the clamp and the residual
// add: on one core at a micro-batch of 8, a conv with a fused activation took 4.6 ms per image against 6.0 ms
// for conv + clamp. oneDNN's post-ops do the residual sum and the ReLU / ReLU6 while the output is still in
// registers. The weights are reordered once per input shape, and in bf16 the bias stays fp32: rounding the
// BatchNorm-folded biases to bf16 was what kept MobileNetV2's bf16 features under cosine 0.999 of fp32.
//
// Built only where LibTorch itself links Debian's oneDNN (libdnnl-dev, the same library), so the process holds
// one oneDNN; elsewhere `available()` is false and FusedConv uses LibTorch's conv2d.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace clipmatch::nn {

enum class ConvActivation { None, Relu, Relu6 };

class DirectConv {
 public:
  /// weight [out, in/groups, kh, kw] and bias [out], float32 (copied); square stride / padding per axis.
  DirectConv(const torch::Tensor& weight, const torch::Tensor& bias, std::vector<std::int64_t> stride,
             std::vector<std::int64_t> padding, std::int64_t groups);
  ~DirectConv();
  DirectConv(const DirectConv&) = delete;
  DirectConv& operator=(const DirectConv&) = delete;

  /// True when this build links oneDNN (and the CPU runs it).
  static bool available();

  /// activation(conv(x) + residual) in x's dtype (float32 or bfloat16), channels-last. `residual` (may be
  /// undefined) has the output's shape; its buffer is overwritten with the result when it is channels-last
  /// contiguous in x's dtype, so callers pass tensors of their own only. Returns an undefined tensor when
  /// oneDNN has no kernel for this case; the caller then computes it another way.
  torch::Tensor operator()(const torch::Tensor& x, ConvActivation activation, const torch::Tensor& residual) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace clipmatch::nn
