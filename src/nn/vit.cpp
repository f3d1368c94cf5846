#include "nn/vit.hpp"

#include "core/fail.hpp"
#include "nn/checkpoint_names.hpp"

namespace clipmatch::nn {

ViTConfig ViTConfig::from_json(const JsonConfig& json) {
  ViTConfig config;
  config.image_size = json.get<std::int64_t>("image_size");
  config.patch_size = json.get<std::int64_t>("patch_size");
  config.num_channels = json.get_or<std::int64_t>("num_channels", 3);
  config.hidden_size = json.get<std::int64_t>("hidden_size");
  config.num_layers = json.get<std::int64_t>("num_hidden_layers");
  config.num_heads = json.get<std::int64_t>("num_attention_heads");
  config.intermediate_size = json.get<std::int64_t>("intermediate_size");
  config.layer_norm_eps = json.get_or<double>("layer_norm_eps", 1e-12);
  config.activation = activation_from_name(json.get_or<std::string>("hidden_act", "gelu"), json.source());
  config.qkv_bias = json.get_or<bool>("qkv_bias", true);
  config.pooler_output_size = json.get_or<std::int64_t>("pooler_output_size", config.hidden_size);
  const std::string pooler_act = json.get_or<std::string>("pooler_act", "tanh");
  if (pooler_act != "tanh") {
    fail(ErrorKind::Unsupported, "{}: field 'pooler_act' is '{}'; only tanh is supported", json.source(), pooler_act);
  }
  if (config.patch_size <= 0 || config.image_size % config.patch_size != 0) {
    fail(ErrorKind::Format, "{}: image_size {} is not a multiple of patch_size {}", json.source(), config.image_size,
         config.patch_size);
  }
  return config;
}

ViTConfig ViTConfig::tiny() {
  ViTConfig config;
  config.image_size = 64;
  config.patch_size = 8;
  config.hidden_size = 128;
  config.num_layers = 4;
  config.num_heads = 4;
  config.intermediate_size = 512;
  config.layer_norm_eps = 1e-6;
  config.pooler_output_size = 128;
  return config;
}

ViTEncoderImpl::ViTEncoderImpl(const ViTConfig& config, TokenPooling pooling) : config_(config), pooling_(pooling) {
  if (pooling == TokenPooling::Pooler && !config.with_pooler) {
    fail(ErrorKind::InvalidArgument, "ViT: pooler pooling requested but the model has no pooler");
  }
  const std::int64_t d = config.hidden_size;
  patch_embed_ = register_module(
      "patch_embed", torch::nn::Conv2d(torch::nn::Conv2dOptions(config.num_channels, d, config.patch_size)
                                           .stride(config.patch_size)));
  cls_token_ = register_parameter("cls_token", torch::randn({1, 1, d}) * 0.02);
  pos_embed_ = register_parameter("pos_embed", torch::randn({1, config.grid() * config.grid() + 1, d}) * 0.02);
  BlockOptions block;
  block.hidden = d;
  block.heads = config.num_heads;
  block.intermediate = config.intermediate_size;
  block.layer_norm_eps = config.layer_norm_eps;
  block.activation = config.activation;
  block.pre_norm = true;
  block.qkv_bias = config.qkv_bias;
  encoder_ = register_module("encoder", TransformerStack(block, config.num_layers));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(config.layer_norm_eps)));
  if (config.with_pooler) pooler_ = register_module("pooler", LinearLayer(d, config.pooler_output_size));
}

torch::Tensor ViTEncoderImpl::position_embeddings_for(std::int64_t grid_h, std::int64_t grid_w) const {
  const std::int64_t grid = config_.grid();
  if (grid_h == grid && grid_w == grid) return pos_embed_;
  const std::int64_t d = config_.hidden_size;
  const torch::Tensor cls = pos_embed_.slice(1, 0, 1);
  torch::Tensor patches = pos_embed_.slice(1, 1).reshape({1, grid, grid, d}).permute({0, 3, 1, 2});
  patches = torch::nn::functional::interpolate(
      patches, torch::nn::functional::InterpolateFuncOptions()
                   .size(std::vector<std::int64_t>{grid_h, grid_w})
                   .mode(torch::kBicubic)
                   .align_corners(false));
  return torch::cat({cls, patches.permute({0, 2, 3, 1}).reshape({1, grid_h * grid_w, d})}, 1);
}

torch::Tensor ViTEncoderImpl::embed(const torch::Tensor& pixel_values) {
  if (pixel_values.dim() != 4 || pixel_values.size(1) != config_.num_channels ||
      pixel_values.size(2) % config_.patch_size != 0 || pixel_values.size(3) % config_.patch_size != 0) {
    fail(ErrorKind::InvalidArgument, "ViT: pixel_values must be [B, {}, H, W] with H, W multiples of {}, got {}",
         config_.num_channels, config_.patch_size, shape_string(pixel_values.sizes()));
  }
  torch::Tensor patches = patch_embed_(pixel_values);  // [B, D, gh, gw]
  const std::int64_t grid_h = patches.size(2), grid_w = patches.size(3);
  patches = patches.flatten(2).transpose(1, 2);
  return torch::cat({cls_token_.expand({patches.size(0), 1, -1}), patches}, 1) +
         position_embeddings_for(grid_h, grid_w);
}

torch::Tensor ViTEncoderImpl::pool(const torch::Tensor& normed) {
  return pooling_ == TokenPooling::Pooler ? torch::tanh(pooler_(normed.select(1, 0))) : normed.select(1, 0);
}

ViTEncoderImpl::Outputs ViTEncoderImpl::forward_all(const torch::Tensor& pixel_values) {
  const torch::Tensor x = norm_(encoder_(embed(pixel_values), torch::Tensor(), /*causal=*/false));
  Outputs outputs;
  outputs.last_hidden_state = x;
  if (pooler_) outputs.pooler_output = torch::tanh(pooler_(x.select(1, 0)));
  return outputs;
}

torch::Tensor ViTEncoderImpl::forward(const torch::Tensor& pixel_values) {
  // Pooling reads token 0 only, which lets reduced-precision inference skip the other rows of the last block.
  return pool(norm_(encoder_->forward_range(embed(pixel_values), torch::Tensor(), /*causal=*/false, 0, num_blocks(),
                                            /*first_token_only=*/true)));
}

torch::Tensor ViTEncoderImpl::forward_lower(const torch::Tensor& pixel_values, std::int64_t top_k) {
  check_split(top_k, "ViT");
  if (top_k == 0) return ImageEncoderImpl::forward_lower(pixel_values, 0);
  return encoder_->forward_range(embed(pixel_values), torch::Tensor(), /*causal=*/false, 0, num_blocks() - top_k)
      .contiguous();
}

torch::Tensor ViTEncoderImpl::forward_upper(const torch::Tensor& lower, std::int64_t top_k) {
  check_split(top_k, "ViT");
  if (top_k == 0) return lower;
  check_split_hidden(lower, torch::Tensor(), config_.hidden_size, "ViT");
  return pool(norm_(encoder_->forward_range(lower, torch::Tensor(), /*causal=*/false, num_blocks() - top_k,
                                            num_blocks(), /*first_token_only=*/true)));
}

std::int64_t ViTEncoderImpl::feature_dim() const {
  return pooling_ == TokenPooling::Pooler ? config_.pooler_output_size : config_.hidden_size;
}

void ViTEncoderImpl::set_trainable_top(std::int64_t k) {
  set_trainable_top_blocks(*this, *encoder_, k, {norm_.get(), pooler_ ? pooler_.get() : nullptr});
}

CheckpointRename vit_checkpoint_rename() {
  return [](const std::string& checkpoint_name) -> std::optional<std::string> {
    const std::string name = strip_prefix(checkpoint_name, "vit.");
    if (starts_with(name, "classifier.") || name == "embeddings.mask_token") return std::nullopt;
    static const std::vector<PrefixRule> top = {
        {"embeddings.cls_token", "cls_token"},
        {"embeddings.position_embeddings", "pos_embed"},
        {"embeddings.patch_embeddings.projection.", "patch_embed."},
        {"layernorm.", "norm."},
        {"pooler.dense.", "pooler."},
    };
    if (auto renamed = apply_prefix_rules(name, top)) return renamed;
    static const std::vector<PrefixRule> block = {
        // transformers ≤ 4 layout (every checkpoint on the Hub)
        {"attention.attention.query.", "attn.q_proj."},
        {"attention.attention.key.", "attn.k_proj."},
        {"attention.attention.value.", "attn.v_proj."},
        {"attention.output.dense.", "attn.out_proj."},
        {"intermediate.dense.", "fc1."},
        {"output.dense.", "fc2."},
        // transformers 5 layout
        {"attention.q_proj.", "attn.q_proj."},
        {"attention.k_proj.", "attn.k_proj."},
        {"attention.v_proj.", "attn.v_proj."},
        {"attention.o_proj.", "attn.out_proj."},
        {"mlp.fc1.", "fc1."},
        {"mlp.fc2.", "fc2."},
        {"layernorm_before.", "norm1."},
        {"layernorm_after.", "norm2."},
    };
    for (const char* layer_prefix : {"encoder.layer.", "layers."}) {
      if (auto split = split_layer_name(name, layer_prefix)) {
        if (auto renamed = apply_prefix_rules(split->second, block)) {
          return "encoder.blocks." + split->first + "." + *renamed;
        }
      }
    }
    return name;  // unknown: reported as unexpected by load_weights
  };
}

}  // namespace clipmatch::nn
