#include "nn/direct_conv.hpp"
#include "nn/mobilenet_v2.hpp"
#include "nn/core_streams.hpp"
#include "core/compute_threads.hpp"
#include "core/precision.hpp"

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <limits>
#include <string>
#include <vector>

using clipmatch::nn::ConvActivation;
using clipmatch::nn::DirectConv;

namespace {

struct Shape {
  std::int64_t in, out, kernel, stride, groups, size;
};

torch::Tensor reference(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, const Shape& s,
                        ConvActivation activation, const torch::Tensor& residual) {
  auto y = torch::conv2d(x, w, b, s.stride, (s.kernel - 1) / 2, 1, s.groups);
  if (residual.defined()) y = y + residual;
  if (activation == ConvActivation::Relu) y = y.relu();
  if (activation == ConvActivation::Relu6) y = y.clamp(0.0, 6.0);
  return y;
}

// MobileNetV2's kinds of convolution: the stem, a pointwise expansion, a strided depthwise, a projection.
const std::vector<Shape> kMobileNetShapes = {{3, 16, 3, 2, 1, 33}, {16, 96, 1, 1, 1, 28}, {96, 96, 3, 2, 96, 28},
                                             {96, 24, 1, 1, 1, 14}};

/// Random weights and bias of shape s, and the DirectConv holding them.
struct RandomConv {
  explicit RandomConv(const Shape& s)
      : weight(torch::randn({s.out, s.in / s.groups, s.kernel, s.kernel}) * 0.3),
        bias(torch::randn({s.out})),
        conv(weight, bias, {s.stride, s.stride}, {(s.kernel - 1) / 2, (s.kernel - 1) / 2}, s.groups),
        out_size((s.size + 2 * ((s.kernel - 1) / 2) - s.kernel) / s.stride + 1) {}
  torch::Tensor weight, bias;
  DirectConv conv;
  std::int64_t out_size;
};

}  // namespace

TEST_CASE("direct_conv: fused activation and residual equal conv2d + add + clamp", "[direct_conv]") {
  if (!DirectConv::available()) {
    WARN("this build has no oneDNN (libdnnl-dev); FusedConv uses LibTorch's conv2d");
    return;
  }
  torch::manual_seed(3);
  torch::NoGradGuard no_grad;
  for (const auto& s : kMobileNetShapes) {
    const RandomConv random(s);
    const auto& [w, b, conv, out_size] = random;
    const auto x = torch::randn({3, s.in, s.size, s.size});
    for (const auto activation : {ConvActivation::None, ConvActivation::Relu, ConvActivation::Relu6}) {
      for (const bool with_residual : {false, true}) {
        INFO("in " << s.in << " out " << s.out << " kernel " << s.kernel << " stride " << s.stride << " groups "
                   << s.groups << " activation " << static_cast<int>(activation) << " residual " << with_residual);
        const auto residual = with_residual ? torch::randn({3, s.out, out_size, out_size}) : torch::Tensor();
        const auto expected = reference(x, w, b, s, activation, residual);

        // float32, from an NCHW input; the residual is a channels-last buffer of the caller's, which becomes the
        // result.
        torch::Tensor buffer;
        if (with_residual) buffer = residual.contiguous(at::MemoryFormat::ChannelsLast);
        const auto f32 = conv(x, activation, buffer);
        REQUIRE(f32.defined());
        CHECK(f32.is_contiguous(at::MemoryFormat::ChannelsLast));
        CHECK((f32 - expected).abs().max().item<double>() < 1e-4 * (1.0 + expected.abs().max().item<double>()));
        if (with_residual) CHECK(f32.data_ptr() == buffer.data_ptr());

        // bfloat16 in and out, fp32 bias: against the fp32 result of the same bf16-rounded input and weights.
        const auto x16 = x.to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
        torch::Tensor residual16;
        if (with_residual) residual16 = residual.to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
        const auto rounded = reference(x16.to(torch::kFloat32), w.to(torch::kBFloat16).to(torch::kFloat32), b, s,
                                       activation, with_residual ? residual16.to(torch::kFloat32) : torch::Tensor());
        const auto bf16 = conv(x16, activation, residual16);
        REQUIRE(bf16.defined());
        CHECK(bf16.scalar_type() == torch::kBFloat16);
        // bf16 output rounding (8 bits of mantissa) bounds the error.
        CHECK((bf16.to(torch::kFloat32) - rounded).abs().max().item<double>() <
              1e-2 * (1.0 + rounded.abs().max().item<double>()));
      }
    }
  }
}

TEST_CASE("direct_conv: int8 convolutions equal the float convolution of their quantised operands", "[direct_conv]") {
  using clipmatch::nn::QuantizedOutput;
  using clipmatch::nn::QuantizedTensor;
  if (!DirectConv::int8_available()) {
    WARN("no int8 convolutions here (no oneDNN, or a CPU without VNNI)");
    return;
  }
  torch::manual_seed(4);
  torch::NoGradGuard no_grad;
  for (const auto& s : kMobileNetShapes) {
    const RandomConv random(s);
    const auto& [w, b, conv, out_size] = random;
    // The weights as the int8 path holds them: symmetric int8 per output channel.
    const auto w_scale = w.flatten(1).abs().amax(1).div(127.0).view({-1, 1, 1, 1});
    const auto w_int8 = (w / w_scale).round() * w_scale;

    // A signed float input quantised per tensor, and a uint8 one as a ReLU6 leaves it.
    const auto x = torch::randn({2, s.in, s.size, s.size}).contiguous(at::MemoryFormat::ChannelsLast) * 2.5;
    const QuantizedTensor signed_input = clipmatch::nn::quantize_int8(x);
    REQUIRE(signed_input.values.scalar_type() == torch::kInt8);
    const double amax = x.abs().max().item<double>();
    CHECK(signed_input.scale >= amax / 127.0);
    CHECK(signed_input.scale < 1.19 * amax / 127.0);  // a quarter octave at most
    CHECK((clipmatch::nn::dequantize(signed_input) - x).abs().max().item<double>() <= 0.5001 * signed_input.scale);
    const QuantizedTensor unsigned_input{
        torch::randint(0, 256, {2, s.in, s.size, s.size}, torch::kUInt8).contiguous(at::MemoryFormat::ChannelsLast),
        clipmatch::nn::kRelu6Uint8Scale};

    for (const auto& input : {signed_input, unsigned_input}) {
      const auto real = clipmatch::nn::dequantize(input);
      for (const bool with_residual : {false, true}) {
        INFO("in " << s.in << " out " << s.out << " kernel " << s.kernel << " groups " << s.groups << " input "
                   << (input.values.scalar_type() == torch::kInt8 ? "int8" : "uint8") << " residual " << with_residual);
        const auto residual = with_residual ? torch::randn({2, s.out, out_size, out_size}) : torch::Tensor();
        const auto expected = reference(real, w_int8, b, s, ConvActivation::None, residual);
        torch::Tensor buffer;
        if (with_residual) buffer = residual.contiguous(at::MemoryFormat::ChannelsLast);
        const auto f32 = conv.quantized(input, ConvActivation::None, QuantizedOutput::Float32, buffer);
        REQUIRE(f32.defined());
        CHECK(f32.scalar_type() == torch::kFloat32);
        CHECK((f32 - expected).abs().max().item<double>() < 1e-4 * (1.0 + expected.abs().max().item<double>()));
        if (with_residual) CHECK(f32.data_ptr() == buffer.data_ptr());
      }
      // ReLU6 into uint8 steps of 6/255: off by at most half a step (plus float rounding).
      const auto expected = reference(real, w_int8, b, s, ConvActivation::Relu6, {});
      const auto u8 = conv.quantized(input, ConvActivation::Relu6, QuantizedOutput::Uint8Relu6, {});
      REQUIRE(u8.defined());
      CHECK(u8.scalar_type() == torch::kUInt8);
      const auto step = static_cast<double>(clipmatch::nn::kRelu6Uint8Scale);
      CHECK((u8.to(torch::kFloat32) * step - expected).abs().max().item<double>() <= 0.51 * step);
    }
  }
}

TEST_CASE("direct_conv: int8 requests it cannot serve and inputs it cannot quantise are handed back", "[direct_conv]") {
  using clipmatch::nn::QuantizedOutput;
  using clipmatch::nn::QuantizedTensor;
  // NaN and infinity stay in float, where they propagate as they would in fp32.
  auto x = torch::randn({1, 4, 8, 8});
  x[0][1][2][3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_FALSE(clipmatch::nn::quantize_int8(x).values.defined());
  x[0][1][2][3] = std::numeric_limits<float>::infinity();
  CHECK_FALSE(clipmatch::nn::quantize_int8(x).values.defined());
  const auto zeros = clipmatch::nn::quantize_int8(torch::zeros({1, 4, 8, 8}));
  REQUIRE(zeros.values.defined());
  CHECK(zeros.scale > 0.0f);
  CHECK(zeros.values.abs().max().item<int>() == 0);
  if (!DirectConv::available()) return;
  DirectConv conv(torch::randn({8, 4, 3, 3}), torch::zeros({8}), {1, 1}, {1, 1}, 1);
  const auto q = clipmatch::nn::quantize_int8(torch::randn({1, 4, 8, 8}));
  // uint8 output exists for a ReLU6 only (a linear output is signed) and never with a residual sum.
  CHECK_FALSE(conv.quantized(q, ConvActivation::None, QuantizedOutput::Uint8Relu6, {}).defined());
  CHECK_FALSE(
      conv.quantized(q, ConvActivation::Relu6, QuantizedOutput::Uint8Relu6, torch::zeros({1, 8, 8, 8})).defined());
  CHECK_FALSE(conv.quantized(QuantizedTensor{torch::randn({1, 4, 8, 8}), 1.0f}, ConvActivation::Relu6,
                             QuantizedOutput::Float32, {})
                  .defined());
  CHECK_FALSE(conv.quantized(q, ConvActivation::None, QuantizedOutput::Float32, torch::zeros({1, 8, 4, 4})).defined());
  // Without VNNI every int8 request is handed back (uint8 × int8 pairs would saturate in 16 bits).
  CHECK(conv.quantized(q, ConvActivation::None, QuantizedOutput::Float32, {}).defined() ==
        DirectConv::int8_available());
}

TEST_CASE("direct_conv: shapes it has no kernel for are handed back", "[direct_conv]") {
  const auto w = torch::randn({8, 4, 3, 3});
  DirectConv conv(w, torch::zeros({8}), {1, 2}, {1, 1}, 1);  // a non-square stride
  CHECK_FALSE(conv(torch::randn({1, 4, 8, 8}), ConvActivation::Relu, {}).defined());
  DirectConv square(w, torch::zeros({8}), {1, 1}, {1, 1}, 1);
  CHECK_FALSE(square(torch::randn({1, 4, 8, 8}, torch::kFloat64), ConvActivation::Relu, {}).defined());
  // A residual of the wrong shape is never handed to oneDNN, which would read past it.
  CHECK_FALSE(square(torch::randn({1, 4, 8, 8}), ConvActivation::Relu, torch::zeros({1, 8, 4, 4})).defined());
}

TEST_CASE("core_streams: micro-batches on per-core streams equal one pass, in order and precision", "[direct_conv]") {
  torch::manual_seed(5);
  const auto x = torch::randn({21, 6});
  clipmatch::PrecisionScope bf16(clipmatch::Precision::Bf16, false);
  std::vector<std::int64_t> sizes;
  std::mutex mutex;
  const auto out = clipmatch::nn::forward_in_core_streams(x, 4, [&](const torch::Tensor& part) {
    CHECK(clipmatch::current_precision() == clipmatch::Precision::Bf16);
    std::lock_guard<std::mutex> lock(mutex);
    sizes.push_back(part.size(0));
    return part * 2 + 1;
  });
  CHECK(torch::equal(out, x * 2 + 1));
  if (at::get_num_threads() > 1 && clipmatch::ThreadComputeScope::available()) {
    std::sort(sizes.begin(), sizes.end());
    CHECK(sizes == std::vector<std::int64_t>{1, 4, 4, 4, 4, 4});
  } else {
    CHECK(sizes == std::vector<std::int64_t>{21});
  }
}

TEST_CASE("compute_threads: a thread's OpenMP team size is its own and comes back", "[direct_conv]") {
  if (!clipmatch::ThreadComputeScope::available()) {
    WARN("LibTorch here does not use OpenMP");
    return;
  }
  const int before = at::get_num_threads();
  {
    clipmatch::ThreadComputeScope one(1);
    CHECK(at::get_num_threads() == 1);
  }
  CHECK(at::get_num_threads() == before);
}

TEST_CASE("fused CNN paths never write into the caller's tensor even when it is already in their form",
          "[direct_conv]") {
  // The fused paths reuse a block's input buffer for its residual sum; an input that is already channels-last
  // float32 must still come back untouched.
  torch::manual_seed(6);
  clipmatch::nn::MobileNetV2 mobilenet(clipmatch::nn::MobileNetV2Config::tiny());
  mobilenet->eval();
  torch::NoGradGuard no_grad;
  const auto pixels = torch::randn({2, 3, 64, 64});
  for (std::int64_t k = 1; k < mobilenet->num_blocks(); ++k) {
    INFO("top_k " << k);
    const auto lower = mobilenet->forward_lower(pixels, k).contiguous(at::MemoryFormat::ChannelsLast);
    const auto before = lower.clone();
    const auto upper = mobilenet->forward_upper(lower, k);
    CHECK(torch::equal(lower, before));
    CHECK(torch::allclose(upper, mobilenet->forward_upper(before, k)));
  }
}
