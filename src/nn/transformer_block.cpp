#include "nn/transformer_block.hpp"

#include "core/fail.hpp"
#include "core/precision.hpp"
#include "nn/attention.hpp"
#include "nn/fused_conv.hpp"
#include "nn/inference_stack.hpp"

namespace clipmatch::nn {

Activation activation_from_name(const std::string& name, const std::string& where) {
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::GeluTanh;
  if (name == "quick_gelu") return Activation::QuickGelu;
  if (name == "relu") return Activation::Relu;
  fail(ErrorKind::Format, "{}: unsupported activation '{}' (supported: gelu, gelu_new, gelu_pytorch_tanh, quick_gelu, relu)",
       where, name);
}

const char* activation_name(Activation activation) {
  switch (activation) {
    case Activation::Gelu:
      return "gelu";
    case Activation::GeluTanh:
      return "gelu_pytorch_tanh";
    case Activation::QuickGelu:
      return "quick_gelu";
    case Activation::Relu:
      return "relu";
  }
  return "?";
}

torch::Tensor activate(const torch::Tensor& x, Activation activation) {
  switch (activation) {
    case Activation::Gelu:
      return torch::gelu(x);  // exact erf form
    case Activation::GeluTanh:
      return torch::gelu(x, "tanh");
    case Activation::QuickGelu:
      return x * torch::sigmoid(1.702 * x);
    case Activation::Relu:
      return torch::relu(x);
  }
  return x;
}

SelfAttentionImpl::SelfAttentionImpl(std::int64_t hidden, std::int64_t heads, bool qkv_bias) : heads_(heads) {
  if (heads <= 0 || hidden % heads != 0) {
    fail(ErrorKind::InvalidArgument, "attention: hidden size {} is not divisible by {} heads", hidden, heads);
  }
  q_proj_ = register_module("q_proj", LinearLayer(hidden, hidden, qkv_bias));
  k_proj_ = register_module("k_proj", LinearLayer(hidden, hidden, qkv_bias));
  v_proj_ = register_module("v_proj", LinearLayer(hidden, hidden, qkv_bias));
  out_proj_ = register_module("out_proj", LinearLayer(hidden, hidden));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask, bool causal) {
  const std::int64_t batch = x.size(0), length = x.size(1), hidden = x.size(2);
  const auto split_heads = [&](const torch::Tensor& t) {
    return t.view({batch, length, heads_, hidden / heads_}).transpose(1, 2);
  };
  const torch::Tensor context =
      attend(split_heads(q_proj_(x)), split_heads(k_proj_(x)), split_heads(v_proj_(x)), additive_mask, causal);
  return out_proj_(context.transpose(1, 2).reshape({batch, length, hidden}));
}

TransformerBlockImpl::TransformerBlockImpl(const BlockOptions& options) : options_(options) {
  attn_ = register_module("attn", SelfAttention(options.hidden, options.heads, options.qkv_bias));
  const auto norm = torch::nn::LayerNormOptions({options.hidden}).eps(options.layer_norm_eps);
  norm1_ = register_module("norm1", torch::nn::LayerNorm(norm));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(norm));
  fc1_ = register_module("fc1", LinearLayer(options.hidden, options.intermediate));
  fc2_ = register_module("fc2", LinearLayer(options.intermediate, options.hidden));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask, bool causal) {
  const auto mlp = [&](const torch::Tensor& h) { return fc2_(activate(fc1_(h), options_.activation)); };
  if (options_.pre_norm) {
    const torch::Tensor h = x + attn_(norm1_(x), additive_mask, causal);
    return h + mlp(norm2_(h));
  }
  const torch::Tensor h = norm1_(x + attn_(x, additive_mask, causal));
  return norm2_(h + mlp(h));
}

TransformerStackImpl::TransformerStackImpl(const BlockOptions& options, std::int64_t layers) {
  if (layers < 0) fail(ErrorKind::InvalidArgument, "transformer: negative layer count {}", layers);
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < layers; ++i) blocks_->push_back(TransformerBlock(options));
  inference_ = std::make_shared<InferenceStack>();
}

torch::Tensor TransformerStackImpl::forward(torch::Tensor x, const torch::Tensor& additive_mask, bool causal) {
  return forward_range(std::move(x), additive_mask, causal, 0, size());
}

torch::Tensor TransformerStackImpl::forward_range(torch::Tensor x, const torch::Tensor& additive_mask, bool causal,
                                                  std::int64_t begin, std::int64_t end, bool first_token_only) {
  if (begin < 0 || begin > end || end > size()) {
    fail(ErrorKind::InvalidArgument, "transformer: block range [{}, {}) is outside the {} blocks", begin, end, size());
  }
  if (const Precision precision = current_precision(); precision != Precision::Fp32 && begin < end) {
    std::vector<const torch::nn::Module*> parts;
    for (std::int64_t i = begin; i < end; ++i) parts.push_back(blocks_[static_cast<std::size_t>(i)].get());
    // Only where no gradient is wanted: trainable blocks always run the fp32 modules.
    if (can_use_fused_path(*this, parts, x)) {
      torch::NoGradGuard no_grad;
      return inference_->forward(*this, std::move(x), additive_mask, causal, begin, end, precision, first_token_only);
    }
  }
  for (std::int64_t i = begin; i < end; ++i) {
    x = blocks_[static_cast<std::size_t>(i)]->as<TransformerBlock>()->forward(x, additive_mask, causal);
  }
  return x;
}

void set_requires_grad(torch::nn::Module& module, bool requires_grad) {
  for (auto& parameter : module.parameters(/*recurse=*/true)) parameter.set_requires_grad(requires_grad);
}

void set_trainable_top_blocks(torch::nn::Module& model, TransformerStackImpl& stack, std::int64_t k,
                              std::initializer_list<torch::nn::Module*> heads) {
  if (k < 0) fail(ErrorKind::InvalidArgument, "set_trainable_top: k must be ≥ 0, got {}", k);
  const std::int64_t blocks = stack.size();
  set_requires_grad(model, k >= blocks && k > 0);
  if (k == 0) return;
  for (std::int64_t i = std::max<std::int64_t>(0, blocks - k); i < blocks; ++i) set_requires_grad(stack.block(i), true);
  for (torch::nn::Module* head : heads) {
    if (head != nullptr) set_requires_grad(*head, true);
  }
}

}  // namespace clipmatch::nn
