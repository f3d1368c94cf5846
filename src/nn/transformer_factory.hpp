// Builds transformer encoders from Hugging Face model folders (config.json + model.safetensors, or a sharded
// model.safetensors.index.json) and loads their weights strictly: every tensor the model needs must be
// there with the right shape, and every tensor in the checkpoint must be used or knowingly ignored.
#pragma once

#include "nn/bert.hpp"
#include "nn/clip.hpp"
#include "nn/encoder.hpp"
#include "nn/vit.hpp"

#include <memory>
#include <string>

namespace clipmatch::nn {

struct TransformerLoadOptions {
  TokenPooling pooling = TokenPooling::Cls;
};

/// ViTModel / ViTForImageClassification folder (`vit.` prefix and classifier accepted). The pooler is built
/// when the checkpoint has one; asking for Pooler pooling without it throws.
std::shared_ptr<ViTEncoderImpl> load_vit(const std::string& folder, const TransformerLoadOptions& options = {});
/// BertModel / BertFor* folder (`bert.` prefix, legacy gamma/beta, `cls.*` heads ignored).
std::shared_ptr<BertEncoderImpl> load_bert(const std::string& folder, const TransformerLoadOptions& options = {});
/// The image tower + visual_projection of a CLIPModel (or CLIPVisionModelWithProjection) folder.
std::shared_ptr<ClipVisionEncoderImpl> load_clip_vision(const std::string& folder);
/// The text tower + text_projection of a CLIPModel (or CLIPTextModelWithProjection) folder.
std::shared_ptr<ClipTextEncoderImpl> load_clip_text(const std::string& folder);
/// CLIPModel's learned temperature (its logarithm, as stored): similarity logits are exp(scale) · cos.
float load_clip_logit_scale(const std::string& folder);

/// Role-typed versions for callers that only need the interfaces.
std::shared_ptr<ImageEncoderImpl> load_image_transformer(const std::string& folder,
                                                         const TransformerLoadOptions& options = {});
std::shared_ptr<TextEncoderImpl> load_text_transformer(const std::string& folder,
                                                       const TransformerLoadOptions& options = {});

}  // namespace clipmatch::nn
