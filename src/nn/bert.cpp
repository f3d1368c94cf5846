#include "nn/bert.hpp"

#include "core/fail.hpp"
#include "nn/attention.hpp"
#include "nn/checkpoint_names.hpp"

namespace clipmatch::nn {

BertConfig BertConfig::from_json(const JsonConfig& json) {
  BertConfig config;
  config.vocab_size = json.get<std::int64_t>("vocab_size");
  config.hidden_size = json.get<std::int64_t>("hidden_size");
  config.num_layers = json.get<std::int64_t>("num_hidden_layers");
  config.num_heads = json.get<std::int64_t>("num_attention_heads");
  config.intermediate_size = json.get<std::int64_t>("intermediate_size");
  config.max_position_embeddings = json.get<std::int64_t>("max_position_embeddings");
  config.type_vocab_size = json.get_or<std::int64_t>("type_vocab_size", 2);
  config.layer_norm_eps = json.get_or<double>("layer_norm_eps", 1e-12);
  config.activation = activation_from_name(json.get_or<std::string>("hidden_act", "gelu"), json.source());
  const std::string positions = json.get_or<std::string>("position_embedding_type", "absolute");
  if (positions != "absolute") {
    fail(ErrorKind::Unsupported, "{}: field 'position_embedding_type' is '{}'; only absolute is supported",
         json.source(), positions);
  }
  return config;
}

BertConfig BertConfig::tiny() {
  BertConfig config;
  config.hidden_size = 128;
  config.num_layers = 4;
  config.num_heads = 4;
  config.intermediate_size = 512;
  config.max_position_embeddings = 128;
  return config;
}

BertEncoderImpl::BertEncoderImpl(const BertConfig& config, TokenPooling pooling) : config_(config), pooling_(pooling) {
  if (pooling == TokenPooling::Pooler && !config.with_pooler) {
    fail(ErrorKind::InvalidArgument, "BERT: pooler pooling requested but the model has no pooler");
  }
  const std::int64_t d = config.hidden_size;
  word_embed_ = register_module("word_embed", EmbeddingTable(config.vocab_size, d));
  pos_embed_ = register_module("pos_embed", EmbeddingTable(config.max_position_embeddings, d));
  type_embed_ = register_module("type_embed", EmbeddingTable(config.type_vocab_size, d));
  embed_norm_ =
      register_module("embed_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(config.layer_norm_eps)));
  BlockOptions block;
  block.hidden = d;
  block.heads = config.num_heads;
  block.intermediate = config.intermediate_size;
  block.layer_norm_eps = config.layer_norm_eps;
  block.activation = config.activation;
  block.pre_norm = false;
  encoder_ = register_module("encoder", TransformerStack(block, config.num_layers));
  if (config.with_pooler) pooler_ = register_module("pooler", LinearLayer(d, d));
}

namespace {

/// The additive mask of `batch`'s padding, or none when the batch says it has none.
torch::Tensor additive_mask_of(const text::TokenBatch& batch, torch::ScalarType dtype) {
  return batch.padded ? padding_to_additive_mask(batch.attention_mask, dtype) : torch::Tensor();
}

}  // namespace

torch::Tensor BertEncoderImpl::embed(const torch::Tensor& ids, const torch::Tensor& token_type_ids) {
  if (ids.dim() != 2) fail(ErrorKind::InvalidArgument, "BERT: ids must be [B, L], got {}", shape_string(ids.sizes()));
  const std::int64_t length = ids.size(1);
  if (length > config_.max_position_embeddings) {
    fail(ErrorKind::InvalidArgument, "BERT: sequence length {} exceeds max_position_embeddings {}", length,
         config_.max_position_embeddings);
  }
  const torch::Tensor positions = torch::arange(length, ids.options().dtype(torch::kLong));
  const torch::Tensor types = token_type_ids.defined() ? token_type_ids : torch::zeros_like(ids);
  return embed_norm_(word_embed_(ids) + type_embed_(types) + pos_embed_(positions).unsqueeze(0));
}

torch::Tensor BertEncoderImpl::pool(const torch::Tensor& hidden) {
  return pooling_ == TokenPooling::Pooler ? torch::tanh(pooler_(hidden.select(1, 0))) : hidden.select(1, 0);
}

BertEncoderImpl::Outputs BertEncoderImpl::forward_all(const torch::Tensor& ids, const torch::Tensor& attention_mask,
                                                      const torch::Tensor& token_type_ids) {
  torch::Tensor x = embed(ids, token_type_ids);
  const torch::Tensor mask = padding_to_additive_mask(attention_mask, x.scalar_type());
  x = encoder_(x, mask, /*causal=*/false);
  Outputs outputs;
  outputs.last_hidden_state = x;
  if (pooler_) outputs.pooler_output = torch::tanh(pooler_(x.select(1, 0)));
  return outputs;
}

torch::Tensor BertEncoderImpl::forward(const text::TokenBatch& batch) {
  // Pooling reads token 0 only, which lets reduced-precision inference skip the other rows of the last block.
  const torch::Tensor x = embed(batch.ids, torch::Tensor());
  const torch::Tensor mask = additive_mask_of(batch, x.scalar_type());
  return pool(encoder_->forward_range(x, mask, /*causal=*/false, 0, num_blocks(), /*first_token_only=*/true));
}

torch::Tensor BertEncoderImpl::forward_lower(const text::TokenBatch& batch, std::int64_t top_k) {
  check_split(top_k, "BERT");
  if (top_k == 0) return TextEncoderImpl::forward_lower(batch, 0);
  const torch::Tensor x = embed(batch.ids, torch::Tensor());
  const torch::Tensor mask = additive_mask_of(batch, x.scalar_type());
  return encoder_->forward_range(x, mask, /*causal=*/false, 0, num_blocks() - top_k).contiguous();
}

torch::Tensor BertEncoderImpl::forward_upper(const torch::Tensor& lower, const torch::Tensor& attention_mask,
                                             std::int64_t top_k) {
  check_split(top_k, "BERT");
  if (top_k == 0) return lower;
  check_split_hidden(lower, attention_mask, config_.hidden_size, "BERT");
  const torch::Tensor mask = padding_to_additive_mask(attention_mask, lower.scalar_type());
  return pool(encoder_->forward_range(lower, mask, /*causal=*/false, num_blocks() - top_k, num_blocks(),
                                      /*first_token_only=*/true));
}

void BertEncoderImpl::set_trainable_top(std::int64_t k) {
  // The pooler sits on top of the last block, so it trains with it; there is no final norm after post-LN.
  set_trainable_top_blocks(*this, *encoder_, k, {pooler_ ? pooler_.get() : nullptr});
}

CheckpointRename bert_checkpoint_rename() {
  return [](const std::string& checkpoint_name) -> std::optional<std::string> {
    const std::string name = legacy_layer_norm_name(strip_prefix(checkpoint_name, "bert."));
    if (starts_with(name, "cls.") || name == "embeddings.position_ids") return std::nullopt;
    static const std::vector<PrefixRule> top = {
        {"embeddings.word_embeddings.", "word_embed."},
        {"embeddings.position_embeddings.", "pos_embed."},
        {"embeddings.token_type_embeddings.", "type_embed."},
        {"embeddings.LayerNorm.", "embed_norm."},
        {"pooler.dense.", "pooler."},
    };
    if (auto renamed = apply_prefix_rules(name, top)) return renamed;
    static const std::vector<PrefixRule> block = {
        {"attention.self.query.", "attn.q_proj."},
        {"attention.self.key.", "attn.k_proj."},
        {"attention.self.value.", "attn.v_proj."},
        {"attention.output.dense.", "attn.out_proj."},
        {"attention.output.LayerNorm.", "norm1."},
        {"intermediate.dense.", "fc1."},
        {"output.dense.", "fc2."},
        {"output.LayerNorm.", "norm2."},
    };
    if (auto split = split_layer_name(name, "encoder.layer.")) {
      if (auto renamed = apply_prefix_rules(split->second, block)) {
        return "encoder.blocks." + split->first + "." + *renamed;
      }
    }
    return name;
  };
}

}  // namespace clipmatch::nn
