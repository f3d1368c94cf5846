#include "nn/clip.hpp"

#include "core/fail.hpp"
#include "nn/attention.hpp"
#include "nn/checkpoint_names.hpp"

namespace clipmatch::nn {

namespace {

// A CLIPModel config nests the tower under `key`; a single-tower config has the fields at the top.
JsonConfig tower_section(const JsonConfig& json, const std::string& key) {
  return json.has(key) ? json.section(key) : json;
}

std::int64_t projection_dim_of(const JsonConfig& json, const JsonConfig& tower) {
  // CLIPModel sizes both projections from the top-level field; the towers' own projection_dim is unused.
  return json.has("projection_dim") ? json.get<std::int64_t>("projection_dim") : tower.get<std::int64_t>("projection_dim");
}

BlockOptions clip_block(std::int64_t hidden, std::int64_t heads, std::int64_t intermediate, double eps,
                        Activation activation) {
  BlockOptions block;
  block.hidden = hidden;
  block.heads = heads;
  block.intermediate = intermediate;
  block.layer_norm_eps = eps;
  block.activation = activation;
  block.pre_norm = true;
  return block;
}

torch::nn::LayerNorm layer_norm(std::int64_t hidden, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden}).eps(eps));
}

}  // namespace

ClipVisionConfig ClipVisionConfig::from_json(const JsonConfig& json) {
  const JsonConfig vision = tower_section(json, "vision_config");
  ClipVisionConfig config;
  config.image_size = vision.get<std::int64_t>("image_size");
  config.patch_size = vision.get<std::int64_t>("patch_size");
  config.num_channels = vision.get_or<std::int64_t>("num_channels", 3);
  config.hidden_size = vision.get<std::int64_t>("hidden_size");
  config.num_layers = vision.get<std::int64_t>("num_hidden_layers");
  config.num_heads = vision.get<std::int64_t>("num_attention_heads");
  config.intermediate_size = vision.get<std::int64_t>("intermediate_size");
  config.layer_norm_eps = vision.get_or<double>("layer_norm_eps", 1e-5);
  config.activation = activation_from_name(vision.get_or<std::string>("hidden_act", "quick_gelu"), json.source());
  config.projection_dim = projection_dim_of(json, vision);
  if (config.patch_size <= 0 || config.image_size % config.patch_size != 0) {
    fail(ErrorKind::Format, "{}: vision image_size {} is not a multiple of patch_size {}", json.source(),
         config.image_size, config.patch_size);
  }
  return config;
}

ClipTextConfig ClipTextConfig::from_json(const JsonConfig& json) {
  const JsonConfig text = tower_section(json, "text_config");
  ClipTextConfig config;
  config.vocab_size = text.get<std::int64_t>("vocab_size");
  config.hidden_size = text.get<std::int64_t>("hidden_size");
  config.num_layers = text.get<std::int64_t>("num_hidden_layers");
  config.num_heads = text.get<std::int64_t>("num_attention_heads");
  config.intermediate_size = text.get<std::int64_t>("intermediate_size");
  config.max_position_embeddings = text.get<std::int64_t>("max_position_embeddings");
  config.layer_norm_eps = text.get_or<double>("layer_norm_eps", 1e-5);
  config.activation = activation_from_name(text.get_or<std::string>("hidden_act", "quick_gelu"), json.source());
  config.eos_token_id = text.get_or<std::int64_t>("eos_token_id", 2);
  config.projection_dim = projection_dim_of(json, text);
  return config;
}

ClipVisionEncoderImpl::ClipVisionEncoderImpl(const ClipVisionConfig& config) : config_(config) {
  const std::int64_t d = config.hidden_size;
  patch_embed_ = register_module(
      "patch_embed", torch::nn::Conv2d(torch::nn::Conv2dOptions(config.num_channels, d, config.patch_size)
                                           .stride(config.patch_size)
                                           .bias(false)));
  class_embedding_ = register_parameter("class_embedding", torch::randn({d}) * 0.02);
  pos_embed_ = register_module("pos_embed", EmbeddingTable(config.grid() * config.grid() + 1, d));
  pre_norm_ = register_module("pre_norm", layer_norm(d, config.layer_norm_eps));
  encoder_ = register_module(
      "encoder", TransformerStack(clip_block(d, config.num_heads, config.intermediate_size, config.layer_norm_eps,
                                             config.activation),
                                  config.num_layers));
  post_norm_ = register_module("post_norm", layer_norm(d, config.layer_norm_eps));
  projection_ = register_module("projection",
                                LinearLayer(d, config.projection_dim, /*with_bias=*/false));
}

torch::Tensor ClipVisionEncoderImpl::embed(const torch::Tensor& pixel_values) {
  if (pixel_values.dim() != 4 || pixel_values.size(1) != config_.num_channels ||
      pixel_values.size(2) != config_.image_size || pixel_values.size(3) != config_.image_size) {
    fail(ErrorKind::InvalidArgument, "CLIP vision: pixel_values must be [B, {}, {}, {}], got {}", config_.num_channels,
         config_.image_size, config_.image_size, shape_string(pixel_values.sizes()));
  }
  const torch::Tensor patches = patch_embed_(pixel_values).flatten(2).transpose(1, 2);
  const torch::Tensor cls = class_embedding_.view({1, 1, -1}).expand({patches.size(0), 1, -1});
  return pre_norm_(torch::cat({cls, patches}, 1) + pos_embed_->weight.unsqueeze(0));
}

ClipVisionEncoderImpl::Outputs ClipVisionEncoderImpl::forward_all(const torch::Tensor& pixel_values) {
  const torch::Tensor x = encoder_(embed(pixel_values), torch::Tensor(), /*causal=*/false);
  Outputs outputs;
  outputs.last_hidden_state = x;
  outputs.pooled = post_norm_(x.select(1, 0));
  outputs.image_embeds = projection_(outputs.pooled);
  return outputs;
}

torch::Tensor ClipVisionEncoderImpl::forward(const torch::Tensor& pixel_values) {
  return forward_all(pixel_values).image_embeds;
}

torch::Tensor ClipVisionEncoderImpl::forward_lower(const torch::Tensor& pixel_values, std::int64_t top_k) {
  check_split(top_k, "CLIP vision");
  if (top_k == 0) return ImageEncoderImpl::forward_lower(pixel_values, 0);
  return encoder_->forward_range(embed(pixel_values), torch::Tensor(), /*causal=*/false, 0, num_blocks() - top_k)
      .contiguous();
}

torch::Tensor ClipVisionEncoderImpl::forward_upper(const torch::Tensor& lower, std::int64_t top_k) {
  check_split(top_k, "CLIP vision");
  if (top_k == 0) return lower;
  check_split_hidden(lower, torch::Tensor(), config_.hidden_size, "CLIP vision");
  const torch::Tensor x =
      encoder_->forward_range(lower, torch::Tensor(), /*causal=*/false, num_blocks() - top_k, num_blocks());
  return projection_(post_norm_(x.select(1, 0)));
}

void ClipVisionEncoderImpl::set_trainable_top(std::int64_t k) {
  set_trainable_top_blocks(*this, *encoder_, k, {post_norm_.get(), projection_.get()});
}

ClipTextEncoderImpl::ClipTextEncoderImpl(const ClipTextConfig& config) : config_(config) {
  const std::int64_t d = config.hidden_size;
  token_embed_ = register_module("token_embed", EmbeddingTable(config.vocab_size, d));
  pos_embed_ = register_module("pos_embed", EmbeddingTable(config.max_position_embeddings, d));
  encoder_ = register_module(
      "encoder", TransformerStack(clip_block(d, config.num_heads, config.intermediate_size, config.layer_norm_eps,
                                             config.activation),
                                  config.num_layers));
  final_norm_ = register_module("final_norm", layer_norm(d, config.layer_norm_eps));
  projection_ = register_module("projection",
                                LinearLayer(d, config.projection_dim, /*with_bias=*/false));
}

torch::Tensor ClipTextEncoderImpl::embed(const torch::Tensor& ids) {
  if (ids.dim() != 2 || ids.size(1) == 0) {
    fail(ErrorKind::InvalidArgument, "CLIP text: ids must be [B, L] with L ≥ 1, got {}", shape_string(ids.sizes()));
  }
  const std::int64_t length = ids.size(1);
  if (length > config_.max_position_embeddings) {
    fail(ErrorKind::InvalidArgument, "CLIP text: sequence length {} exceeds max_position_embeddings {}", length,
         config_.max_position_embeddings);
  }
  return token_embed_(ids) + pos_embed_->weight.slice(0, 0, length).unsqueeze(0);
}

namespace {

torch::Tensor eos_positions(const torch::Tensor& ids, std::int64_t eos_token_id) {
  return eos_token_id == 2 ? ids.argmax(-1) : ids.eq(eos_token_id).to(torch::kInt).argmax(-1);
}

// The last position each row attends to: where a split forward pools, as it no longer sees the ids.
torch::Tensor last_valid_positions(const torch::Tensor& attention_mask, std::int64_t batch, std::int64_t length,
                                   const torch::Device& device) {
  if (!attention_mask.defined()) {
    return torch::full({batch}, length - 1, torch::TensorOptions().dtype(torch::kLong).device(device));
  }
  return (attention_mask.ne(0).to(torch::kLong).sum(1) - 1).clamp_min(0);
}

}  // namespace

ClipTextEncoderImpl::Outputs ClipTextEncoderImpl::forward_all(const torch::Tensor& ids,
                                                              const torch::Tensor& attention_mask) {
  torch::Tensor x = embed(ids);
  const torch::Tensor mask = padding_to_additive_mask(attention_mask, x.scalar_type());
  x = final_norm_(encoder_(x, mask, /*causal=*/true));
  const torch::Tensor eos_position = eos_positions(ids, config_.eos_token_id);
  Outputs outputs;
  outputs.last_hidden_state = x;
  outputs.pooled = x.index({torch::arange(ids.size(0), eos_position.options()), eos_position});
  outputs.text_embeds = projection_(outputs.pooled);
  return outputs;
}

torch::Tensor ClipTextEncoderImpl::forward(const text::TokenBatch& batch) {
  return forward_all(batch.ids, batch.attention_mask).text_embeds;
}

torch::Tensor ClipTextEncoderImpl::forward_lower(const text::TokenBatch& batch, std::int64_t top_k) {
  check_split(top_k, "CLIP text");
  if (top_k == 0) return TextEncoderImpl::forward_lower(batch, 0);
  const torch::Tensor x = embed(batch.ids);
  // forward_upper pools at the last valid position; that is forward's EOS pooling only when every row ends
  // with its EOS token (as our tokenizer's rows do), so anything else is refused rather than silently
  // pooled elsewhere.
  const torch::Tensor eos = eos_positions(batch.ids, config_.eos_token_id);
  const torch::Tensor last = last_valid_positions(batch.attention_mask, x.size(0), x.size(1), x.device());
  if (!eos.to(torch::kLong).equal(last)) {
    const std::int64_t row = eos.to(torch::kLong).ne(last).nonzero().view(-1)[0].item<std::int64_t>();
    fail(ErrorKind::InvalidArgument,
         "CLIP text: split forward needs each row's EOS token (id {}) at its last valid position; row {} has it at "
         "{}, its last valid position is {}",
         config_.eos_token_id, row, eos[row].item<std::int64_t>(), last[row].item<std::int64_t>());
  }
  const torch::Tensor mask = padding_to_additive_mask(batch.attention_mask, x.scalar_type());
  return encoder_->forward_range(x, mask, /*causal=*/true, 0, num_blocks() - top_k).contiguous();
}

torch::Tensor ClipTextEncoderImpl::forward_upper(const torch::Tensor& lower, const torch::Tensor& attention_mask,
                                                 std::int64_t top_k) {
  check_split(top_k, "CLIP text");
  if (top_k == 0) return lower;
  check_split_hidden(lower, attention_mask, config_.hidden_size, "CLIP text");
  const torch::Tensor mask = padding_to_additive_mask(attention_mask, lower.scalar_type());
  const torch::Tensor x = final_norm_(
      encoder_->forward_range(lower, mask, /*causal=*/true, num_blocks() - top_k, num_blocks()));
  const torch::Tensor last = last_valid_positions(attention_mask, x.size(0), x.size(1), x.device());
  return projection_(x.index({torch::arange(x.size(0), last.options()), last}));
}

void ClipTextEncoderImpl::set_trainable_top(std::int64_t k) {
  set_trainable_top_blocks(*this, *encoder_, k, {final_norm_.get(), projection_.get()});
}

CheckpointRename clip_vision_checkpoint_rename() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (starts_with(name, "text_model.") || starts_with(name, "text_projection.") || name == "logit_scale" ||
        name == "vision_model.embeddings.position_ids") {
      return std::nullopt;
    }
    static const std::vector<PrefixRule> rules = {
        {"vision_model.embeddings.class_embedding", "class_embedding"},
        {"vision_model.embeddings.patch_embedding.", "patch_embed."},
        {"vision_model.embeddings.position_embedding.", "pos_embed."},
        {"vision_model.pre_layrnorm.", "pre_norm."},
        {"vision_model.post_layernorm.", "post_norm."},
        {"visual_projection.", "projection."},
    };
    if (auto renamed = apply_prefix_rules(name, rules)) return renamed;
    static const std::vector<PrefixRule> block = {
        {"self_attn.", "attn."}, {"layer_norm1.", "norm1."}, {"layer_norm2.", "norm2."},
        {"mlp.fc1.", "fc1."},    {"mlp.fc2.", "fc2."},
    };
    if (auto split = split_layer_name(name, "vision_model.encoder.layers.")) {
      if (auto renamed = apply_prefix_rules(split->second, block)) return "encoder.blocks." + split->first + "." + *renamed;
    }
    return name;
  };
}

CheckpointRename clip_text_checkpoint_rename() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (starts_with(name, "vision_model.") || starts_with(name, "visual_projection.") || name == "logit_scale" ||
        name == "text_model.embeddings.position_ids") {
      return std::nullopt;
    }
    static const std::vector<PrefixRule> rules = {
        {"text_model.embeddings.token_embedding.", "token_embed."},
        {"text_model.embeddings.position_embedding.", "pos_embed."},
        {"text_model.final_layer_norm.", "final_norm."},
        {"text_projection.", "projection."},
    };
    if (auto renamed = apply_prefix_rules(name, rules)) return renamed;
    static const std::vector<PrefixRule> block = {
        {"self_attn.", "attn."}, {"layer_norm1.", "norm1."}, {"layer_norm2.", "norm2."},
        {"mlp.fc1.", "fc1."},    {"mlp.fc2.", "fc2."},
    };
    if (auto split = split_layer_name(name, "text_model.encoder.layers.")) {
      if (auto renamed = apply_prefix_rules(split->second, block)) return "encoder.blocks." + split->first + "." + *renamed;
    }
    return name;
  };
}

}  // namespace clipmatch::nn
