#include "nn/direct_conv.hpp"

#ifdef CLIPMATCH_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

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

  /// One primitive per input shape, dtype and fused post-ops; null when oneDNN refused the combination.
  struct Primitive {
    dnnl::convolution_forward conv;
    dnnl::memory weights, bias;
    dnnl::memory::desc src, dst, scratchpad;
    std::int64_t out_h = 0, out_w = 0;
  };
  using Key = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, int, int, bool>;
  mutable std::mutex mutex;
  mutable std::map<Key, std::shared_ptr<const Primitive>> primitives;
  mutable std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> reordered_weights;  // shared by equal layouts

  dnnl::memory weights_in(const dnnl::memory::desc& layout) const {
    for (const auto& [desc, memory] : reordered_weights) {
      if (desc == layout) return memory;
    }
    const auto o = weight.size(0), i = weight.size(1), kh = weight.size(2), kw = weight.size(3);
    const dnnl::memory::desc plain = groups > 1 ? dnnl::memory::desc({groups, o / groups, i, kh, kw}, dt::f32, tag::goihw)
                                                : dnnl::memory::desc({o, i, kh, kw}, dt::f32, tag::oihw);
    dnnl::memory source(plain, cpu_engine(), weight.data_ptr());
    dnnl::memory target(layout, cpu_engine());
    dnnl::stream stream(cpu_engine());
    dnnl::reorder(source, target).execute(stream, source, target);
    stream.wait();
    reordered_weights.emplace_back(layout, target);
    return target;
  }

  std::shared_ptr<const Primitive> primitive(const torch::Tensor& x, ConvActivation activation, bool sum) const {
    const Key key{x.size(0), x.size(1), x.size(2), x.size(3), static_cast<int>(x.scalar_type()),
                  static_cast<int>(activation), sum};
    std::lock_guard<std::mutex> lock(mutex);
    if (const auto it = primitives.find(key); it != primitives.end()) return it->second;
    std::shared_ptr<const Primitive> made;
    try {
      made = make(x, activation, sum);
    } catch (const dnnl::error&) {
      made = nullptr;  // no kernel for this combination on this CPU: LibTorch's path serves it
    }
    primitives.emplace(key, made);
    return made;
  }

  std::shared_ptr<const Primitive> make(const torch::Tensor& x, ConvActivation activation, bool sum) const {
    const dt type = x.scalar_type() == torch::kBFloat16 ? dt::bf16 : dt::f32;
    const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const auto o = weight.size(0), i = weight.size(1), kh = weight.size(2), kw = weight.size(3);
    auto p = std::make_shared<Primitive>();
    p->out_h = (h + 2 * padding - kh) / stride + 1;
    p->out_w = (w + 2 * padding - kw) / stride + 1;
    p->src = dnnl::memory::desc({n, c, h, w}, type, tag::nhwc);
    p->dst = dnnl::memory::desc({n, o, p->out_h, p->out_w}, type, tag::nhwc);
    const dnnl::memory::desc any_weights(groups > 1 ? dims{groups, o / groups, i, kh, kw} : dims{o, i, kh, kw}, type,
                                         tag::any);
    const dnnl::memory::desc bias_desc({o}, dt::f32, tag::a);
    const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                               p->src, any_weights, bias_desc, p->dst, {stride, stride},
                                               {padding, padding}, {padding, padding});
    dnnl::post_ops ops;
    if (sum) ops.append_sum(1.0f);
    if (activation == ConvActivation::Relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    if (activation == ConvActivation::Relu6) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, 6.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per call: streams run one primitive at once
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
    p->conv = dnnl::convolution_forward(pd);
    p->weights = weights_in(pd.weights_desc());
    p->bias = dnnl::memory(bias_desc, cpu_engine(), bias.data_ptr());
    p->scratchpad = pd.scratchpad_desc();
    return p;
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

torch::Tensor DirectConv::operator()(const torch::Tensor& x, ConvActivation activation,
                                     const torch::Tensor& residual) const {
  if (impl_->stride == 0 || !x.device().is_cpu() || x.dim() != 4 ||
      (x.scalar_type() != torch::kFloat32 && x.scalar_type() != torch::kBFloat16)) {
    return {};
  }
  const auto input = x.contiguous(at::MemoryFormat::ChannelsLast);
  const auto p = impl_->primitive(input, activation, residual.defined());
  if (!p) return {};
  const std::vector<std::int64_t> out_size{input.size(0), impl_->weight.size(0), p->out_h, p->out_w};
  // oneDNN would read a residual of another shape out of bounds: such a call takes LibTorch's path, which
  // reports the mismatch.
  if (residual.defined() && residual.sizes() != torch::IntArrayRef(out_size)) return {};
  const auto options = input.options().memory_format(at::MemoryFormat::ChannelsLast);
  torch::Tensor out;
  if (residual.defined()) {
    const bool in_place =
        residual.scalar_type() == input.scalar_type() && residual.is_contiguous(at::MemoryFormat::ChannelsLast);
    out = in_place ? residual : residual.to(input.scalar_type()).contiguous(at::MemoryFormat::ChannelsLast);
  } else {
    out = torch::empty(out_size, options);
  }
  const auto scratchpad = torch::empty({static_cast<std::int64_t>(p->scratchpad.get_size())}, torch::kUInt8);
  const auto& engine = cpu_engine();
  dnnl::stream stream(engine);
  p->conv.execute(stream, {{DNNL_ARG_SRC, dnnl::memory(p->src, engine, input.data_ptr())},
                           {DNNL_ARG_WEIGHTS, p->weights},
                           {DNNL_ARG_BIAS, p->bias},
                           {DNNL_ARG_DST, dnnl::memory(p->dst, engine, out.data_ptr())},
                           {DNNL_ARG_SCRATCHPAD, dnnl::memory(p->scratchpad, engine, scratchpad.data_ptr())}});
  stream.wait();
  return out;
}

#else  // no oneDNN in this build

struct DirectConv::Impl {};

DirectConv::DirectConv(const torch::Tensor&, const torch::Tensor&, std::vector<std::int64_t>, std::vector<std::int64_t>,
                       std::int64_t) {}
DirectConv::~DirectConv() = default;
bool DirectConv::available() { return false; }
torch::Tensor DirectConv::operator()(const torch::Tensor&, ConvActivation, const torch::Tensor&) const { return {}; }

#endif

}  // namespace clipmatch::nn
