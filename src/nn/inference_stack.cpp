#include "nn/inference_stack.hpp"

#include "core/fail.hpp"
#include "nn/attention.hpp"
#include "nn/direct_conv.hpp"

#include <clipmatch/names.hpp>

#include <ATen/core/dispatch/Dispatcher.h>

namespace clipmatch::nn {

namespace {

/// LibTorch's quantised Linear operators, called boxed: their packed-weight class is not in the public headers.
const c10::OperatorHandle& linear_prepack_op() {
  static const c10::OperatorHandle op = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_prepack", "");
  return op;
}

const c10::OperatorHandle& linear_dynamic_op() {
  static const c10::OperatorHandle op = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_dynamic", "");
  return op;
}

/// LibTorch's quantised engines differ by build (Debian's 1.13: oneDNN and QNNPACK; pip builds: x86/FBGEMM
/// too). The engine in force when a weight is prepacked decides its kernels, so pick the best one present
/// for the prepack and put the process-wide setting back afterwards.
class QuantizedEngineForPrepack {
 public:
  QuantizedEngineForPrepack() : previous_(at::globalContext().qEngine()) {
    const auto& engines = at::globalContext().supportedQEngines();
    const auto has = [&](at::QEngine e) { return std::find(engines.begin(), engines.end(), e) != engines.end(); };
    if (previous_ == at::QEngine::FBGEMM || previous_ == at::QEngine::ONEDNN) return;
#if TORCH_VERSION_MAJOR >= 2
    if (previous_ == at::QEngine::X86) return;
#endif
    for (const auto engine : {at::QEngine::ONEDNN, at::QEngine::FBGEMM, at::QEngine::QNNPACK}) {
      if (has(engine)) {
        at::globalContext().setQEngine(engine);
        return;
      }
    }
    fail(ErrorKind::Unsupported, "precision int8 needs a LibTorch built with a quantised engine (oneDNN, FBGEMM or QNNPACK)");
  }
  ~QuantizedEngineForPrepack() {
    if (at::globalContext().qEngine() != previous_) at::globalContext().setQEngine(previous_);
  }
  QuantizedEngineForPrepack(const QuantizedEngineForPrepack&) = delete;
  QuantizedEngineForPrepack& operator=(const QuantizedEngineForPrepack&) = delete;

 private:
  at::QEngine previous_;
};

}  // namespace

bool int8_products_exact() {
  static const bool exact = [] {
    if (DirectConv::available()) return DirectConv::int8_available();  // oneDNN's own view of the CPU
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512vnni") || __builtin_cpu_supports("avxvnni");
#else
    return true;
#endif
  }();
  return exact;
}

namespace {

/// Symmetric int8 per output channel, at the scales the int8 convolutions use too.
torch::Tensor quantize_rows(const torch::Tensor& weight) {
  const auto w = weight.to(torch::kCPU, torch::kFloat32).contiguous();
  const auto scales = int8_channel_scales(w).to(torch::kDouble);
  const auto zero_points = torch::zeros({w.size(0)}, torch::kLong);
  return at::quantize_per_channel(w, scales, zero_points, 0, torch::kQInt8);
}

}  // namespace

PackedLinear::PackedLinear(const torch::Tensor& weight, const torch::Tensor& bias, Precision precision)
    : precision_(precision) {
  torch::NoGradGuard no_grad;
  if (precision == Precision::Int8) {
    QuantizedEngineForPrepack engine;
    std::vector<c10::IValue> stack{quantize_rows(weight),
                                   bias.defined() ? c10::IValue(bias.detach().to(torch::kCPU, torch::kFloat32).contiguous())
                                                  : c10::IValue()};
    linear_prepack_op().callBoxed(&stack);
    packed_ = std::move(stack.at(0));
    return;
  }
  weight_ = weight.detach().to(torch::kBFloat16).contiguous();
  if (bias.defined()) bias_ = bias.detach().to(torch::kBFloat16).contiguous();
}

torch::Tensor PackedLinear::operator()(const torch::Tensor& x) const {
  if (precision_ == Precision::Int8) {
    const bool reduce_range = !int8_products_exact();
    std::vector<c10::IValue> stack{x.to(torch::kFloat32).contiguous(), packed_, c10::IValue(reduce_range)};
    linear_dynamic_op().callBoxed(&stack);
    return stack.at(0).toTensor();
  }
  return torch::linear(x.to(torch::kBFloat16), weight_, bias_);
}

const std::vector<InferenceStack::Block>& InferenceStack::blocks_for(TransformerStackImpl& stack, Precision precision) {
  std::lock_guard<std::mutex> lock(mutex_);
  Copy& copy = precision == Precision::Int8 ? int8_ : bf16_;
  if (copy.built_from.is_current(stack)) return copy.blocks;
  torch::NoGradGuard no_grad;
  copy.blocks.clear();
  for (std::int64_t i = 0; i < stack.size(); ++i) {
    auto* block = stack.block(i).as<TransformerBlockImpl>();
    auto& attn = *block->attn_;
    Block b;
    b.options = block->options_;
    b.norm1_weight = block->norm1_->weight;
    b.norm1_bias = block->norm1_->bias;
    b.norm2_weight = block->norm2_->weight;
    b.norm2_bias = block->norm2_->bias;
    const auto qkv_weight = torch::cat({attn.q_proj_->weight, attn.k_proj_->weight, attn.v_proj_->weight});
    torch::Tensor qkv_bias;
    if (attn.q_proj_->bias.defined()) qkv_bias = torch::cat({attn.q_proj_->bias, attn.k_proj_->bias, attn.v_proj_->bias});
    b.qkv = PackedLinear(qkv_weight, qkv_bias, precision);
    b.out = PackedLinear(attn.out_proj_->weight, attn.out_proj_->bias, precision);
    b.fc1 = PackedLinear(block->fc1_->weight, block->fc1_->bias, precision);
    b.fc2 = PackedLinear(block->fc2_->weight, block->fc2_->bias, precision);
    copy.blocks.push_back(std::move(b));
  }
  copy.built_from.mark_built(stack);
  return copy.blocks;
}

torch::Tensor InferenceStack::run_block(const Block& block, const torch::Tensor& x, const torch::Tensor& additive_mask,
                                        bool causal, bool first_token_only) {
  const auto& o = block.options;
  const std::int64_t batch = x.size(0), length = x.size(1), hidden = x.size(2);
  const auto norm = [&](const torch::Tensor& t, const torch::Tensor& weight, const torch::Tensor& bias) {
    return torch::layer_norm(t, {hidden}, weight, bias, o.layer_norm_eps);
  };
  // Rows of x the block's output keeps: all, or token 0 alone.
  const torch::Tensor rows = first_token_only ? x.narrow(1, 0, 1) : x;
  const std::int64_t out_length = rows.size(1);
  const auto attention = [&](const torch::Tensor& input) {
    // [B, L, 3, heads, d] → three [B, heads, L, d] views, attended in bf16.
    const auto qkv = block.qkv(input).to(torch::kBFloat16).view({batch, length, 3, o.heads, hidden / o.heads})
                         .permute({2, 0, 3, 1, 4});
    const auto queries = first_token_only ? qkv[0].narrow(2, 0, 1) : qkv[0];
    const auto context = attend(queries, qkv[1], qkv[2], additive_mask, causal);
    return block.out(context.transpose(1, 2).reshape({batch, out_length, hidden})).to(torch::kFloat32);
  };
  const auto mlp = [&](const torch::Tensor& input) {
    // int8: fc1's result is fp32 and the activation runs there; bf16: everything between the GEMMs is bf16.
    return block.fc2(activate(block.fc1(input), o.activation)).to(torch::kFloat32);
  };
  if (o.pre_norm) {
    const auto h = rows + attention(norm(x, block.norm1_weight, block.norm1_bias));
    return h + mlp(norm(h, block.norm2_weight, block.norm2_bias));
  }
  const auto h = norm(rows + attention(x), block.norm1_weight, block.norm1_bias);
  return norm(h + mlp(h), block.norm2_weight, block.norm2_bias);
}

torch::Tensor InferenceStack::forward(TransformerStackImpl& stack, torch::Tensor x, const torch::Tensor& additive_mask,
                                      bool causal, std::int64_t begin, std::int64_t end, Precision precision,
                                      bool first_token_only) {
  if (precision == Precision::Fp32) fail(ErrorKind::InvalidArgument, "InferenceStack: fp32 runs the modules themselves");
  const auto& blocks = blocks_for(stack, precision);
  x = x.to(torch::kFloat32);
  for (std::int64_t i = begin; i < end; ++i) {
    x = run_block(blocks[static_cast<std::size_t>(i)], x, additive_mask, causal, first_token_only && i + 1 == end);
  }
  return x;
}

}  // namespace clipmatch::nn
