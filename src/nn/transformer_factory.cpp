#include "nn/transformer_factory.hpp"

#include "core/fail.hpp"
#include "io/checkpoint.hpp"
#include "nn/config.hpp"
#include "nn/loadable_layers.hpp"
#include "nn/weight_loader.hpp"

#include <fmt/ranges.h>

#include <filesystem>

namespace clipmatch::nn {

namespace {

namespace fs = std::filesystem;

JsonConfig folder_config(const std::string& folder) { return JsonConfig::load((fs::path(folder) / "config.json").string()); }

std::string model_type(const JsonConfig& config) { return config.get_or<std::string>("model_type", ""); }

void expect_model_type(const JsonConfig& config, std::initializer_list<const char*> accepted) {
  const std::string type = model_type(config);
  for (const char* name : accepted) {
    if (type == name) return;
  }
  fail(ErrorKind::Format, "{}: model_type '{}' is not one this loader reads ({})", config.source(), type,
       fmt::join(accepted, ", "));
}

/// The module built from `config`, its weights all read from `reader`: the random draws of its layers are
/// skipped, since the strict load overwrites (or fails on) every parameter.
template <typename Module, typename... Args>
std::shared_ptr<Module> build_and_load(const io::CheckpointReader& reader, const CheckpointRename& rename,
                                       Args&&... args) {
  std::shared_ptr<Module> module;
  {
    SkipInitialDraws skip;
    module = std::make_shared<Module>(std::forward<Args>(args)...);
  }
  load_weights(*module, reader, rename, /*strict=*/true);
  module->eval();
  return module;
}

bool has_renamed(const io::CheckpointReader& reader, const CheckpointRename& rename, const std::string& target) {
  for (const std::string& name : reader.names()) {
    if (rename(name) == target) return true;
  }
  return false;
}

}  // namespace

std::shared_ptr<ViTEncoderImpl> load_vit(const std::string& folder, const TransformerLoadOptions& options) {
  const JsonConfig json = folder_config(folder);
  expect_model_type(json, {"vit"});
  ViTConfig config = ViTConfig::from_json(json);
  const io::CheckpointReader reader = io::CheckpointReader::open(folder);
  const CheckpointRename rename = vit_checkpoint_rename();
  config.with_pooler = has_renamed(reader, rename, "pooler.weight");
  if (options.pooling == TokenPooling::Pooler && !config.with_pooler) {
    fail(ErrorKind::Checkpoint, "{}: pooler pooling requested but the checkpoint has no pooler.dense", reader.path());
  }
  return build_and_load<ViTEncoderImpl>(reader, rename, config, options.pooling);
}

std::shared_ptr<BertEncoderImpl> load_bert(const std::string& folder, const TransformerLoadOptions& options) {
  const JsonConfig json = folder_config(folder);
  expect_model_type(json, {"bert"});
  BertConfig config = BertConfig::from_json(json);
  const io::CheckpointReader reader = io::CheckpointReader::open(folder);
  const CheckpointRename rename = bert_checkpoint_rename();
  config.with_pooler = has_renamed(reader, rename, "pooler.weight");
  if (options.pooling == TokenPooling::Pooler && !config.with_pooler) {
    fail(ErrorKind::Checkpoint, "{}: pooler pooling requested but the checkpoint has no pooler.dense", reader.path());
  }
  return build_and_load<BertEncoderImpl>(reader, rename, config, options.pooling);
}

std::shared_ptr<ClipVisionEncoderImpl> load_clip_vision(const std::string& folder) {
  const JsonConfig json = folder_config(folder);
  expect_model_type(json, {"clip", "clip_vision_model"});
  const io::CheckpointReader reader = io::CheckpointReader::open(folder);
  return build_and_load<ClipVisionEncoderImpl>(reader, clip_vision_checkpoint_rename(),
                                               ClipVisionConfig::from_json(json));
}

std::shared_ptr<ClipTextEncoderImpl> load_clip_text(const std::string& folder) {
  const JsonConfig json = folder_config(folder);
  expect_model_type(json, {"clip", "clip_text_model"});
  const io::CheckpointReader reader = io::CheckpointReader::open(folder);
  return build_and_load<ClipTextEncoderImpl>(reader, clip_text_checkpoint_rename(), ClipTextConfig::from_json(json));
}

float load_clip_logit_scale(const std::string& folder) {
  const io::CheckpointReader reader = io::CheckpointReader::open(folder);
  if (!reader.contains("logit_scale")) {
    fail(ErrorKind::Checkpoint, "{}: missing tensor 'logit_scale' (not a CLIPModel checkpoint?)", reader.path());
  }
  const torch::Tensor scale = reader.load("logit_scale");
  if (scale.numel() != 1) {
    fail(ErrorKind::Checkpoint, "{}: tensor 'logit_scale' has shape {}, expected a scalar", reader.path(),
         shape_string(scale.sizes()));
  }
  return scale.item<float>();
}

std::shared_ptr<ImageEncoderImpl> load_image_transformer(const std::string& folder,
                                                         const TransformerLoadOptions& options) {
  const std::string type = model_type(folder_config(folder));
  if (type == "vit") return load_vit(folder, options);
  if (type == "clip" || type == "clip_vision_model") return load_clip_vision(folder);
  fail(ErrorKind::Unsupported, "{}/config.json: model_type '{}' is not an image transformer this library loads "
       "(vit, clip, clip_vision_model)", folder, type);
}

std::shared_ptr<TextEncoderImpl> load_text_transformer(const std::string& folder,
                                                       const TransformerLoadOptions& options) {
  const std::string type = model_type(folder_config(folder));
  if (type == "bert") return load_bert(folder, options);
  if (type == "clip" || type == "clip_text_model") return load_clip_text(folder);
  fail(ErrorKind::Unsupported, "{}/config.json: model_type '{}' is not a text transformer this library loads "
       "(bert, clip, clip_text_model)", folder, type);
}

}  // namespace clipmatch::nn
