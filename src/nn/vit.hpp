// Vision Transformer in Hugging Face ViTModel's architecture: 16×16 (or any) patch convolution, a learned
// CLS token and position embeddings, pre-LayerNorm blocks with exact GELU, a final LayerNorm and an optional
// dense+tanh pooler on the CLS token.
#pragma once

#include "nn/config.hpp"
#include "nn/encoder.hpp"
#include "nn/transformer_block.hpp"
#include "nn/weight_loader.hpp"

#include <cstdint>

namespace clipmatch::nn {

/// Which vector of a BERT-style / ViT-style encoder is its feature.
enum class TokenPooling {
  Cls,     ///< the final hidden state of the first ([CLS]) token
  Pooler,  ///< the pooler's dense+tanh of it (needs a checkpoint with a pooler)
};

struct ViTConfig {
  std::int64_t image_size = 224;
  std::int64_t patch_size = 16;
  std::int64_t num_channels = 3;
  std::int64_t hidden_size = 768;
  std::int64_t num_layers = 12;
  std::int64_t num_heads = 12;
  std::int64_t intermediate_size = 3072;
  double layer_norm_eps = 1e-12;
  Activation activation = Activation::Gelu;
  bool qkv_bias = true;
  bool with_pooler = true;
  std::int64_t pooler_output_size = 768;

  /// From a Hugging Face ViT config.json (`model_type` "vit"). `with_pooler` is left true; the loader turns
  /// it off when the checkpoint has no pooler.
  static ViTConfig from_json(const JsonConfig& json);
  /// A from-scratch preset for small images: 64 px, patch 8 (64 patches + CLS), hidden 128, 4 layers, 4 heads.
  static ViTConfig tiny();
  std::int64_t grid() const { return image_size / patch_size; }
};

class ViTEncoderImpl : public ImageEncoderImpl {
 public:
  struct Outputs {
    torch::Tensor last_hidden_state;  ///< [B, 1 + patches, hidden]
    torch::Tensor pooler_output;      ///< [B, pooler_output_size]; undefined without a pooler
  };

  explicit ViTEncoderImpl(const ViTConfig& config, TokenPooling pooling = TokenPooling::Cls);

  /// pixel_values [B, C, H, W]; H and W must be multiples of the patch size. Other sizes than the
  /// configured one interpolate the position embeddings bicubically (HF's interpolate_pos_encoding).
  Outputs forward_all(const torch::Tensor& pixel_values);
  torch::Tensor forward(const torch::Tensor& pixel_values) override;
  std::int64_t feature_dim() const override;
  std::int64_t num_blocks() const override { return config_.num_layers; }
  void set_trainable_top(std::int64_t k) override;
  torch::Tensor forward_lower(const torch::Tensor& pixel_values, std::int64_t top_k) override;
  torch::Tensor forward_upper(const torch::Tensor& lower, std::int64_t top_k) override;
  const ViTConfig& config() const { return config_; }

 private:
  torch::Tensor position_embeddings_for(std::int64_t grid_h, std::int64_t grid_w) const;
  /// Patch + CLS + position embeddings: the input of the first block [B, 1 + patches, hidden].
  torch::Tensor embed(const torch::Tensor& pixel_values);
  /// The configured feature of final-norm hidden states.
  torch::Tensor pool(const torch::Tensor& normed);

  ViTConfig config_;
  TokenPooling pooling_;
  torch::nn::Conv2d patch_embed_{nullptr};
  torch::Tensor cls_token_, pos_embed_;
  TransformerStack encoder_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  LinearLayer pooler_{nullptr};
};
TORCH_MODULE(ViTEncoder);

/// Hugging Face ViT names → ours. Accepts the classic layout (`encoder.layer.N.attention.attention.query`,
/// `intermediate.dense`, …), the transformers-5 layout (`layers.N.attention.q_proj`, `mlp.fc1`, …), an
/// optional `vit.` prefix, and ignores `classifier.*` and `embeddings.mask_token`.
CheckpointRename vit_checkpoint_rename();

}  // namespace clipmatch::nn
