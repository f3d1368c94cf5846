// A convolution run by oneDNN directly, with what follows it in a CNN block fused into it.
//
// Why: LibTorch 1.13's CPU convolution cannot fuse anything but ReLU (its prepacked op refuses ReLU6), so every
// MobileNetV2 layer wrote its activations and then read and wrote them again for the clamp and the residual
// add: on one core at a micro-batch of 8, a conv with a fused activation took 4.6 ms per image against 6.0 ms
// for conv + clamp. oneDNN's post-ops do the residual sum and the ReLU / ReLU6 while the output is still in
// registers. The weights are reordered once per input shape, and in bf16 the bias stays fp32: rounding the
// BatchNorm-folded biases to bf16 was what kept MobileNetV2's bf16 features under cosine 0.999 of fp32.
//
// int8 (Precision::Int8): the same convolutions on uint8/int8 activations and per-output-channel int8 weights,
// on CPUs with VNNI only (MobileNetV2 on one core: 3.3-3.9 ms per image against 4.7-6.4 in bf16). Without VNNI
// oneDNN multiplies uint8 by int8 in pairs summed into 16 bits, which saturate (2·255·127 > 32767) on exactly
// the uint8 activations used here. After a
// ReLU6 an activation lies in [0, 6], so uint8 at scale 6/255 holds it with no calibration; a linear bottleneck
// is quantised per tensor at run time (quantize_int8). oneDNN 2.6 takes the scales only when it builds a kernel
// (no run-time scales for convolutions), so those scales are rounded up to a quarter octave: a layer sees a few
// distinct scales, each compiled once.
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

/// What an int8 convolution writes: float32, or (after a ReLU6 only) uint8 holding round(y / kRelu6Uint8Scale).
enum class QuantizedOutput { Float32, Uint8Relu6 };
inline constexpr float kRelu6Uint8Scale = 6.0f / 255.0f;

/// A tensor in int8 form: real value = values * scale; values uint8 or int8, channels-last.
struct QuantizedTensor {
  torch::Tensor values;
  float scale = 0.0f;
};

/// x (float32) as int8 with one symmetric scale: max |x| rounded up to a quarter octave, over 127. Undefined
/// values when x holds a NaN or an infinity (the caller keeps computing in float, where they propagate).
QuantizedTensor quantize_int8(const torch::Tensor& x);
/// The float32 tensor a quantised one stands for (channels-last).
torch::Tensor dequantize(const QuantizedTensor& x);

/// Symmetric int8 scales of `weight` per output channel (dim 0): max |row| / 127 (float32 [out]). A row of zeros
/// gets 1: it quantises to zeros at any scale, and 1 keeps anything divided by its scale (an int8 bias) finite.
torch::Tensor int8_channel_scales(const torch::Tensor& weight);

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
  /// True when int8 convolutions run here: oneDNN is linked and the CPU has VNNI (see above).
  static bool int8_available();
  /// True when the CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere oneDNN emulates it, slower than fp32.
  static bool bf16_native();

  /// activation(conv(x) + residual) in x's dtype (float32 or bfloat16), channels-last. `residual` (may be
  /// undefined) has the output's shape; its buffer is overwritten with the result when it is channels-last
  /// contiguous in x's dtype, so callers pass tensors of their own only. Returns an undefined tensor when
  /// oneDNN has no kernel for this case; the caller then computes it another way.
  torch::Tensor operator()(const torch::Tensor& x, ConvActivation activation, const torch::Tensor& residual) const;

  /// activation(conv(x) + residual) from an int8 input, with the weights quantised per output channel (int8,
  /// symmetric) on first use. `residual` (may be undefined) is float32 with the output's shape; with
  /// QuantizedOutput::Float32 its buffer may become the result, as above. Uint8Relu6 needs activation Relu6.
  /// Returns an undefined tensor when oneDNN has no int8 kernel for this case, or !int8_available().
  torch::Tensor quantized(const QuantizedTensor& x, ConvActivation activation, QuantizedOutput output,
                          const torch::Tensor& residual) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace clipmatch::nn
