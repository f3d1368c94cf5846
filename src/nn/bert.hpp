// BERT in Hugging Face BertModel's architecture: word + absolute position + token-type embeddings with
// LayerNorm, post-LayerNorm blocks with exact GELU and a padding mask, and an optional dense+tanh pooler.
#pragma once

#include "nn/config.hpp"
#include "nn/encoder.hpp"
#include "nn/transformer_block.hpp"
#include "nn/vit.hpp"  // TokenPooling
#include "nn/weight_loader.hpp"

#include <cstdint>

namespace clipmatch::nn {

struct BertConfig {
  std::int64_t vocab_size = 30522;
  std::int64_t hidden_size = 768;
  std::int64_t num_layers = 12;
  std::int64_t num_heads = 12;
  std::int64_t intermediate_size = 3072;
  std::int64_t max_position_embeddings = 512;
  std::int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  Activation activation = Activation::Gelu;
  bool with_pooler = true;

  /// From a Hugging Face BERT config.json; only absolute position embeddings are supported.
  static BertConfig from_json(const JsonConfig& json);
  /// A from-scratch preset sized for the bert-base-uncased vocabulary: hidden 128, 4 layers, 4 heads,
  /// 128 positions.
  static BertConfig tiny();
};

class BertEncoderImpl : public TextEncoderImpl {
 public:
  struct Outputs {
    torch::Tensor last_hidden_state;  ///< [B, L, hidden]
    torch::Tensor pooler_output;      ///< [B, hidden]; undefined without a pooler
  };

  explicit BertEncoderImpl(const BertConfig& config, TokenPooling pooling = TokenPooling::Cls);

  /// ids, attention_mask (undefined = all ones) and token_type_ids (undefined = zeros): int64 [B, L].
  Outputs forward_all(const torch::Tensor& ids, const torch::Tensor& attention_mask,
                      const torch::Tensor& token_type_ids);
  torch::Tensor forward(const text::TokenBatch& batch) override;
  std::int64_t feature_dim() const override { return config_.hidden_size; }
  std::int64_t num_blocks() const override { return config_.num_layers; }
  void set_trainable_top(std::int64_t k) override;
  torch::Tensor forward_lower(const text::TokenBatch& batch, std::int64_t top_k) override;
  torch::Tensor forward_upper(const torch::Tensor& lower, const torch::Tensor& attention_mask,
                              std::int64_t top_k) override;
  const BertConfig& config() const { return config_; }

 private:
  /// Word + type + position embeddings with their LayerNorm: the input of the first block.
  torch::Tensor embed(const torch::Tensor& ids, const torch::Tensor& token_type_ids);
  torch::Tensor pool(const torch::Tensor& hidden);

  BertConfig config_;
  TokenPooling pooling_;
  EmbeddingTable word_embed_{nullptr}, pos_embed_{nullptr}, type_embed_{nullptr};
  torch::nn::LayerNorm embed_norm_{nullptr};
  TransformerStack encoder_{nullptr};
  LinearLayer pooler_{nullptr};
};
TORCH_MODULE(BertEncoder);

/// Hugging Face BERT names → ours: optional `bert.` prefix, legacy `LayerNorm.gamma/beta`; ignores `cls.*`
/// (pre-training heads) and the `embeddings.position_ids` buffer older checkpoints carry.
CheckpointRename bert_checkpoint_rename();

}  // namespace clipmatch::nn
