// CLIP's two towers in Hugging Face CLIPModel's architecture, each ending in its (bias-free) projection into
// the shared embedding space. Outputs are projected but not L2-normalised; the matcher normalises and scales
// by exp(logit_scale).
#pragma once

#include "nn/config.hpp"
#include "nn/encoder.hpp"
#include "nn/transformer_block.hpp"
#include "nn/weight_loader.hpp"

#include <cstdint>

namespace clipmatch::nn {

struct ClipVisionConfig {
  std::int64_t image_size = 224;
  std::int64_t patch_size = 32;
  std::int64_t num_channels = 3;
  std::int64_t hidden_size = 768;
  std::int64_t num_layers = 12;
  std::int64_t num_heads = 12;
  std::int64_t intermediate_size = 3072;
  double layer_norm_eps = 1e-5;
  Activation activation = Activation::QuickGelu;
  std::int64_t projection_dim = 512;

  /// From a CLIPModel config.json (uses `vision_config` and the top-level `projection_dim`) or a
  /// CLIPVisionModelWithProjection one (the fields at top level).
  static ClipVisionConfig from_json(const JsonConfig& json);
  std::int64_t grid() const { return image_size / patch_size; }
};

struct ClipTextConfig {
  std::int64_t vocab_size = 49408;
  std::int64_t hidden_size = 512;
  std::int64_t num_layers = 12;
  std::int64_t num_heads = 8;
  std::int64_t intermediate_size = 2048;
  std::int64_t max_position_embeddings = 77;
  double layer_norm_eps = 1e-5;
  Activation activation = Activation::QuickGelu;
  std::int64_t eos_token_id = 49407;
  std::int64_t projection_dim = 512;

  /// From a CLIPModel config.json (`text_config` + top-level `projection_dim`) or a
  /// CLIPTextModelWithProjection one.
  static ClipTextConfig from_json(const JsonConfig& json);
};

class ClipVisionEncoderImpl : public ImageEncoderImpl {
 public:
  struct Outputs {
    torch::Tensor last_hidden_state;  ///< [B, 1 + patches, hidden], before post_layernorm (as HF)
    torch::Tensor pooled;             ///< post_layernorm(CLS) [B, hidden]
    torch::Tensor image_embeds;       ///< projection(pooled) [B, projection_dim], not normalised
  };
  explicit ClipVisionEncoderImpl(const ClipVisionConfig& config);

  /// pixel_values [B, C, image_size, image_size].
  Outputs forward_all(const torch::Tensor& pixel_values);
  torch::Tensor forward(const torch::Tensor& pixel_values) override;
  std::int64_t feature_dim() const override { return config_.projection_dim; }
  std::int64_t num_blocks() const override { return config_.num_layers; }
  void set_trainable_top(std::int64_t k) override;
  torch::Tensor forward_lower(const torch::Tensor& pixel_values, std::int64_t top_k) override;
  torch::Tensor forward_upper(const torch::Tensor& lower, std::int64_t top_k) override;
  const ClipVisionConfig& config() const { return config_; }

 private:
  /// pre_norm(patch + class + position embeddings): the input of the first block.
  torch::Tensor embed(const torch::Tensor& pixel_values);

  ClipVisionConfig config_;
  torch::nn::Conv2d patch_embed_{nullptr};
  torch::Tensor class_embedding_;
  EmbeddingTable pos_embed_{nullptr};
  torch::nn::LayerNorm pre_norm_{nullptr}, post_norm_{nullptr};
  TransformerStack encoder_{nullptr};
  LinearLayer projection_{nullptr};
};
TORCH_MODULE(ClipVisionEncoder);

class ClipTextEncoderImpl : public TextEncoderImpl {
 public:
  struct Outputs {
    torch::Tensor last_hidden_state;  ///< final_layer_norm output [B, L, hidden]
    torch::Tensor pooled;             ///< the hidden state at each row's EOS token [B, hidden]
    torch::Tensor text_embeds;        ///< projection(pooled) [B, projection_dim], not normalised
  };
  explicit ClipTextEncoderImpl(const ClipTextConfig& config);

  /// ids, attention_mask (undefined = all ones): int64 [B, L] with L ≤ max_position_embeddings. Attention
  /// is causal and hides padding. Pools at the first `eos_token_id`, or at the largest id for legacy configs
  /// whose eos_token_id is 2 (the original CLIP, where EOS is the largest id), as transformers does.
  Outputs forward_all(const torch::Tensor& ids, const torch::Tensor& attention_mask);
  torch::Tensor forward(const text::TokenBatch& batch) override;
  std::int64_t feature_dim() const override { return config_.projection_dim; }
  std::int64_t num_blocks() const override { return config_.num_layers; }
  void set_trainable_top(std::int64_t k) override;
  torch::Tensor forward_lower(const text::TokenBatch& batch, std::int64_t top_k) override;
  torch::Tensor forward_upper(const torch::Tensor& lower, const torch::Tensor& attention_mask,
                              std::int64_t top_k) override;
  const ClipTextConfig& config() const { return config_; }

 private:
  torch::Tensor embed(const torch::Tensor& ids);

  ClipTextConfig config_;
  EmbeddingTable token_embed_{nullptr}, pos_embed_{nullptr};
  TransformerStack encoder_{nullptr};
  torch::nn::LayerNorm final_norm_{nullptr};
  LinearLayer projection_{nullptr};
};
TORCH_MODULE(ClipTextEncoder);

/// CLIPModel names → the vision encoder's: `vision_model.*` and `visual_projection.*`; the text tower and
/// `logit_scale` are ignored. A CLIPVisionModelWithProjection checkpoint has the same names.
CheckpointRename clip_vision_checkpoint_rename();
/// CLIPModel names → the text encoder's: `text_model.*` and `text_projection.*`; the rest is ignored.
CheckpointRename clip_text_checkpoint_rename();

}  // namespace clipmatch::nn
