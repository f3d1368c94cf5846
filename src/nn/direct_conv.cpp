#include "nn/direct_conv.hpp"

#ifdef CLIPMATCH_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>

namespace clipmatch::nn {

#ifdef CLIPMATCH_HAVE_DNNL

namespace {

using dims = dnnl::memory::dims;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

}  // namespace

struct DirectConv::Impl {
  torch::Tensor weight, bias;  // float32, plain (o, i/g, kh, kw) and [o]
  std::int64_t stride = 1, padding = 0, groups = 1;
  // int8 weights (plain) and their per-output-channel scales, weight ≈ weight_s8 · scale: made on the first int8
  // call, under `mutex`.
  mutable torch::Tensor weight_s8, weight_scales;

  /// One primitive per input shape, dtype and fused post-ops; null when oneDNN refused the combination.
  struct Primitive {
    dnnl::convolution_forward conv;
    dnnl::memory weights, bias;
    torch::Tensor bias_values;  // what `bias` points into: the bias, for int8 in accumulator units
    dnnl::memory::desc src, dst, scratchpad;
    std::int64_t out_h = 0, out_w = 0;
  };
  /// Input shape and dtype, activation, residual sum, and for int8 the output kind and the input scale's bits.
  using Key = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, int, int, bool, int, std::uint32_t>;
  mutable std::mutex mutex;
  mutable std::map<Key, std::shared_ptr<const Primitive>> primitives;
  mutable std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> reordered_weights;  // shared by equal layouts

  dnnl::memory weights_in(const dnnl::memory::desc& layout) const {
    for (const auto& [desc, memory] : reordered_weights) {
      if (desc == layout) return memory;
    }
    const auto o = weight.size(0), i = weight.size(1), kh = weight.size(2), kw = weight.size(3);
    const bool int8 = layout.data_type() == dt::s8;  // from weight_s8, else from the float32 weights
    const dnnl::memory::desc plain(groups > 1 ? dims{groups, o / groups, i, kh, kw} : dims{o, i, kh, kw},
                                   int8 ? dt::s8 : dt::f32, groups > 1 ? tag::goihw : tag::oihw);
    dnnl::memory source(plain, cpu_engine(), int8 ? weight_s8.data_ptr() : weight.data_ptr());
    dnnl::memory target(layout, cpu_engine());
    dnnl::stream stream(cpu_engine());
    dnnl::reorder(source, target).execute(stream, source, target);
    stream.wait();
    reordered_weights.emplace_back(layout, target);
    return target;
  }

  /// `output` < 0: a float32 / bfloat16 convolution; else an int8 one (QuantizedOutput) with input scale x_scale.
  std::shared_ptr<const Primitive> primitive(const torch::Tensor& x, ConvActivation activation, bool sum,
                                             int output = -1, float x_scale = 0.0f) const {
    std::uint32_t scale_bits = 0;
    std::memcpy(&scale_bits, &x_scale, sizeof scale_bits);
    const Key key{x.size(0), x.size(1), x.size(2), x.size(3), static_cast<int>(x.scalar_type()),
                  static_cast<int>(activation), sum, output, scale_bits};
    std::lock_guard<std::mutex> lock(mutex);
    if (const auto it = primitives.find(key); it != primitives.end()) return it->second;
    std::shared_ptr<const Primitive> made;
    try {
      made = make(x, activation, sum, output, x_scale);
    } catch (const dnnl::error&) {
      made = nullptr;  // no kernel for this combination on this CPU: LibTorch's path serves it
    }
    primitives.emplace(key, made);
    return made;
  }

  void quantize_weights() const {
    if (weight_s8.defined()) return;
    weight_scales = int8_channel_scales(weight);  // the bias is divided by them (below)
    weight_s8 = (weight / weight_scales.view({-1, 1, 1, 1})).round().clamp(-127, 127).to(torch::kInt8).contiguous();
  }

  /// `output` < 0: in x's float type; else int8 (x uint8 or int8 at x_scale) writing that QuantizedOutput.
  // For int8, oneDNN 2.6 computes dst = post_ops(output_scale · (Σ x_q·w_q + bias)): the bias is in accumulator
  // units, and output_scale maps an accumulator to the output's units (float, or uint8 steps of 6/255).
  std::shared_ptr<const Primitive> make(const torch::Tensor& x, ConvActivation activation, bool sum, int output,
                                        float x_scale) const {
    const bool int8 = output >= 0;
    const bool to_u8 = output == static_cast<int>(QuantizedOutput::Uint8Relu6);
    const dt float_type = x.scalar_type() == torch::kBFloat16 ? dt::bf16 : dt::f32;
    const dt src_type = !int8 ? float_type : x.scalar_type() == torch::kUInt8 ? dt::u8 : dt::s8;
    const dt dst_type = !int8 ? float_type : to_u8 ? dt::u8 : dt::f32;
    const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const auto o = weight.size(0), i = weight.size(1), kh = weight.size(2), kw = weight.size(3);
    auto p = std::make_shared<Primitive>();
    p->out_h = (h + 2 * padding - kh) / stride + 1;
    p->out_w = (w + 2 * padding - kw) / stride + 1;
    p->src = dnnl::memory::desc({n, c, h, w}, src_type, tag::nhwc);
    p->dst = dnnl::memory::desc({n, o, p->out_h, p->out_w}, dst_type, tag::nhwc);
    const dnnl::memory::desc any_weights(groups > 1 ? dims{groups, o / groups, i, kh, kw} : dims{o, i, kh, kw},
                                         int8 ? dt::s8 : float_type, tag::any);
    const dnnl::memory::desc bias_desc({o}, dt::f32, tag::a);
    const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                               p->src, any_weights, bias_desc, p->dst, {stride, stride},
                                               {padding, padding}, {padding, padding});
    dnnl::primitive_attr attr;
    const float out_unit = to_u8 ? kRelu6Uint8Scale : 1.0f;
    p->bias_values = bias;
    if (int8) {
      quantize_weights();
      const auto accumulator_unit = (weight_scales * x_scale).contiguous();  // per output channel
      const auto scales = (accumulator_unit / out_unit).contiguous();
      attr.set_output_scales(/*mask: per output channel*/ 2,
                             std::vector<float>(scales.data_ptr<float>(), scales.data_ptr<float>() + o));
      p->bias_values = (bias / accumulator_unit).contiguous();
      // Scales so small that their product underflows would make the bias infinite: float serves such a layer.
      if (!torch::isfinite(p->bias_values).all().item<bool>()) return nullptr;
    }
    dnnl::post_ops ops;
    if (sum) ops.append_sum(1.0f);
    if (activation == ConvActivation::Relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    if (activation == ConvActivation::Relu6) {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, 6.0f / out_unit);
    }
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per call: streams run one primitive at once
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
    p->conv = dnnl::convolution_forward(pd);
    p->weights = weights_in(pd.weights_desc());
    p->bias = dnnl::memory(bias_desc, cpu_engine(), p->bias_values.data_ptr());
    p->scratchpad = pd.scratchpad_desc();
    return p;
  }

  /// Runs p on input (its src layout) into a new channels-last tensor of out_type, or, with a residual, into the
  /// residual's own buffer when it already is channels-last out_type (else into a converted copy). Undefined when
  /// the residual's shape is not the output's: oneDNN would read past it, so LibTorch's path reports that instead.
  torch::Tensor run(const Primitive& p, const torch::Tensor& input, torch::ScalarType out_type,
                    const torch::Tensor& residual) const {
    const std::vector<std::int64_t> out_size{input.size(0), weight.size(0), p.out_h, p.out_w};
    torch::Tensor out;
    if (residual.defined()) {
      if (residual.sizes() != torch::IntArrayRef(out_size)) return {};
      const bool in_place = residual.scalar_type() == out_type && residual.is_contiguous(at::MemoryFormat::ChannelsLast);
      out = in_place ? residual : residual.to(out_type).contiguous(at::MemoryFormat::ChannelsLast);
    } else {
      out = torch::empty(out_size, torch::TensorOptions(out_type).memory_format(at::MemoryFormat::ChannelsLast));
    }
    execute(p, input, out);
    return out;
  }

  static void execute(const Primitive& p, const torch::Tensor& input, const torch::Tensor& out) {
    const auto scratchpad = torch::empty({static_cast<std::int64_t>(p.scratchpad.get_size())}, torch::kUInt8);
    const auto& engine = cpu_engine();
    dnnl::stream stream(engine);
    p.conv.execute(stream, {{DNNL_ARG_SRC, dnnl::memory(p.src, engine, input.data_ptr())},
                            {DNNL_ARG_WEIGHTS, p.weights},
                            {DNNL_ARG_BIAS, p.bias},
                            {DNNL_ARG_DST, dnnl::memory(p.dst, engine, out.data_ptr())},
                            {DNNL_ARG_SCRATCHPAD, dnnl::memory(p.scratchpad, engine, scratchpad.data_ptr())}});
    stream.wait();
  }
};

DirectConv::DirectConv(const torch::Tensor& weight, const torch::Tensor& bias, std::vector<std::int64_t> stride,
                       std::vector<std::int64_t> padding, std::int64_t groups)
    : impl_(std::make_unique<Impl>()) {
  impl_->weight = weight.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  impl_->bias = bias.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  // The networks here use square strides and "same" padding; anything else is left to LibTorch.
  const bool square = stride.size() == 2 && padding.size() == 2 && stride[0] == stride[1] && padding[0] == padding[1];
  impl_->stride = square ? stride[0] : 0;
  impl_->padding = square ? padding[0] : 0;
  impl_->groups = groups;
}

DirectConv::~DirectConv() = default;

bool DirectConv::available() { return true; }

namespace {
bool cpu_has(dnnl::cpu_isa isa) {
  const auto wanted = static_cast<unsigned>(isa);  // each ISA's value holds the bits of those it extends
  return (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & wanted) == wanted;
}
}  // namespace

bool DirectConv::int8_available() {
  static const bool vnni = cpu_has(dnnl::cpu_isa::avx512_core_vnni) || cpu_has(dnnl::cpu_isa::avx2_vnni);
  return vnni;
}

bool DirectConv::bf16_native() {
  static const bool bf16 = cpu_has(dnnl::cpu_isa::avx512_core_bf16);
  return bf16;
}

torch::Tensor DirectConv::operator()(const torch::Tensor& x, ConvActivation activation,
                                     const torch::Tensor& residual) const {
  if (impl_->stride == 0 || !x.device().is_cpu() || x.dim() != 4 ||
      (x.scalar_type() != torch::kFloat32 && x.scalar_type() != torch::kBFloat16)) {
    return {};
  }
  const auto input = x.contiguous(at::MemoryFormat::ChannelsLast);
  const auto p = impl_->primitive(input, activation, residual.defined());
  return p ? impl_->run(*p, input, input.scalar_type(), residual) : torch::Tensor();
}

torch::Tensor DirectConv::quantized(const QuantizedTensor& x, ConvActivation activation, QuantizedOutput output,
                                    const torch::Tensor& residual) const {
  const auto& values = x.values;
  if (!int8_available() || impl_->stride == 0 || !values.defined() || !values.device().is_cpu() || values.dim() != 4 ||
      (values.scalar_type() != torch::kUInt8 && values.scalar_type() != torch::kInt8) || !(x.scale > 0.0f) ||
      (output == QuantizedOutput::Uint8Relu6 && (activation != ConvActivation::Relu6 || residual.defined()))) {
    return {};
  }
  const auto input = values.contiguous(at::MemoryFormat::ChannelsLast);
  const auto p = impl_->primitive(input, activation, residual.defined(), static_cast<int>(output), x.scale);
  const auto out_type = output == QuantizedOutput::Uint8Relu6 ? torch::kUInt8 : torch::kFloat32;
  return p ? impl_->run(*p, input, out_type, residual) : torch::Tensor();
}

#else  // no oneDNN in this build

struct DirectConv::Impl {};

DirectConv::DirectConv(const torch::Tensor&, const torch::Tensor&, std::vector<std::int64_t>, std::vector<std::int64_t>,
                       std::int64_t) {}
DirectConv::~DirectConv() = default;
bool DirectConv::available() { return false; }
bool DirectConv::int8_available() { return false; }
bool DirectConv::bf16_native() { return false; }
torch::Tensor DirectConv::operator()(const torch::Tensor&, ConvActivation, const torch::Tensor&) const { return {}; }
torch::Tensor DirectConv::quantized(const QuantizedTensor&, ConvActivation, QuantizedOutput,
                                    const torch::Tensor&) const {
  return {};
}

#endif

QuantizedTensor quantize_int8(const torch::Tensor& x) {
  const auto as_float = x.to(torch::kFloat32);
  const auto input =
      as_float.dim() == 4 ? as_float.contiguous(at::MemoryFormat::ChannelsLast) : as_float.contiguous();
  if (input.numel() == 0) return {torch::empty_like(input, input.options().dtype(torch::kInt8)), 1.0f / 127.0f};
  // Reduced as the flat buffer it is: LibTorch 1.13 reduces a channels-last view ~7x slower (0.48 against 0.07 ms
  // for a 8x24x56x56 bottleneck on one core), which was 80 % of the time spent quantising.
  const auto [low, high] = at::aminmax(input.as_strided({input.numel()}, {1}));
  const double amax = std::max(std::abs(low.item<double>()), std::abs(high.item<double>()));
  if (!std::isfinite(amax)) return {};
  // Rounded up to 2^(k/4): each distinct scale is a kernel of its own (see the header), and this keeps a layer to a
  // handful while wasting at most a fifth of the int8 range.
  const double range = amax > 1e-30 ? std::exp2(std::ceil(4.0 * std::log2(amax)) / 4.0) : 1.0;
  const auto scale = static_cast<float>(range / 127.0);
#ifdef CLIPMATCH_HAVE_DNNL
  if (input.dim() == 4 && input.device().is_cpu()) {  // one pass, where LibTorch would make five
    auto values = torch::empty_like(input, input.options().dtype(torch::kInt8));
    const dims shape{input.size(0), input.size(1), input.size(2), input.size(3)};
    dnnl::memory from({shape, dt::f32, tag::nhwc}, cpu_engine(), input.data_ptr());
    dnnl::memory to({shape, dt::s8, tag::nhwc}, cpu_engine(), values.data_ptr());
    dnnl::primitive_attr attr;
    attr.set_output_scales(0, {1.0f / scale});
    dnnl::stream stream(cpu_engine());
    dnnl::reorder(dnnl::reorder::primitive_desc(from, to, attr)).execute(stream, from, to);
    stream.wait();
    return {values, scale};
  }
#endif
  auto values = input.mul(1.0f / scale).round_().clamp_(-127, 127).to(torch::kInt8);
  return {values.dim() == 4 ? values.contiguous(at::MemoryFormat::ChannelsLast) : values, scale};
}

torch::Tensor int8_channel_scales(const torch::Tensor& weight) {
  const auto scales = weight.to(torch::kFloat32).flatten(1).abs().amax(1) / 127.0f;
  return torch::where(scales > 0, scales, torch::ones_like(scales)).contiguous();
}

torch::Tensor dequantize(const QuantizedTensor& x) {
  auto real = x.values.to(torch::kFloat32).mul_(x.scale);
  return real.dim() == 4 ? real.contiguous(at::MemoryFormat::ChannelsLast) : real;
}

}  // namespace clipmatch::nn
