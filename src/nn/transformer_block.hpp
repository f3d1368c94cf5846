// The transformer encoder block shared by ViT, BERT and CLIP: multi-head self-attention and a two-layer
// MLP, each in a residual branch, with LayerNorm either before the branch (ViT, CLIP) or after the residual
// sum (BERT). Parameter names are ours; each architecture's loader maps its checkpoint names onto them.
#pragma once

#include "nn/loadable_layers.hpp"

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

namespace clipmatch::nn {

enum class Activation { Gelu, GeluTanh, QuickGelu, Relu };

/// Hugging Face `hidden_act` spelling → Activation; throws Format naming `where` for an unknown one.
Activation activation_from_name(const std::string& name, const std::string& where);
const char* activation_name(Activation activation);
torch::Tensor activate(const torch::Tensor& x, Activation activation);

struct BlockOptions {
  std::int64_t hidden = 64;
  std::int64_t heads = 4;
  std::int64_t intermediate = 256;
  double layer_norm_eps = 1e-12;
  Activation activation = Activation::Gelu;
  bool pre_norm = true;
  bool qkv_bias = true;
};

class InferenceStack;

class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(std::int64_t hidden, std::int64_t heads, bool qkv_bias);
  /// x [B, L, hidden]; `additive_mask` as in attend().
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask, bool causal);

 private:
  friend class InferenceStack;  // reads the weights to build reduced-precision copies
  std::int64_t heads_;
  LinearLayer q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, out_proj_{nullptr};
};
TORCH_MODULE(SelfAttention);

class TransformerBlockImpl : public torch::nn::Module {
 public:
  explicit TransformerBlockImpl(const BlockOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask, bool causal);

 private:
  friend class InferenceStack;
  BlockOptions options_;
  SelfAttention attn_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  LinearLayer fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(TransformerBlock);

/// A stack of blocks registered as "blocks.<i>.…".
class TransformerStackImpl : public torch::nn::Module {
 public:
  TransformerStackImpl(const BlockOptions& options, std::int64_t layers);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& additive_mask, bool causal);
  /// Runs blocks [begin, end) only; forward() == forward_range(0, size()). Lets an encoder split its stack.
  /// `first_token_only`: the caller reads token 0 alone (a [CLS] pooling), so the reduced-precision path may
  /// compute only that row in the last block and return [B, 1, D]; the fp32 modules return [B, L, D] anyway.
  torch::Tensor forward_range(torch::Tensor x, const torch::Tensor& additive_mask, bool causal, std::int64_t begin,
                              std::int64_t end, bool first_token_only = false);
  std::int64_t size() const { return static_cast<std::int64_t>(blocks_->size()); }
  torch::nn::Module& block(std::int64_t i) { return *blocks_[static_cast<std::size_t>(i)]; }

 private:
  torch::nn::ModuleList blocks_;
  /// Reduced-precision copies for inference (bf16 / int8), built on first use and rebuilt when the weights
  /// change.
  std::shared_ptr<InferenceStack> inference_;
};
TORCH_MODULE(TransformerStack);

void set_requires_grad(torch::nn::Module& module, bool requires_grad);

/// Top-k unfreezing shared by the transformer encoders: k == 0 freezes everything (features can then be
/// cached); k ≥ 1 makes the top k blocks and every `head` module (final norm, pooler, projection)
/// trainable; k ≥ number of blocks makes the whole `model` trainable, embeddings included.
void set_trainable_top_blocks(torch::nn::Module& model, TransformerStackImpl& stack, std::int64_t k,
                              std::initializer_list<torch::nn::Module*> heads);

}  // namespace clipmatch::nn
