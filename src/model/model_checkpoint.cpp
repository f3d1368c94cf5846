// Model checkpoints: one safetensors file. Tensors are the MatchNet's parameters and buffers by name (encoder
// weights only when training changed them or they were built from scratch; otherwise the encoder folder is
// referenced and its weights fingerprinted), the run's own tokenizer model as a U8 tensor, and the
// configuration + preprocessing as JSON in __metadata__.
#include "model/device_warm_up.hpp"
#include "model/model_config_json.hpp"
#include "model/model_state.hpp"

#include "core/fail.hpp"
#include "io/atomic_file.hpp"
#include "io/image_impl.hpp"
#include "io/torch_tensor.hpp"
#include "cache/content_hash.hpp"

#include <clipmatch/safetensors.hpp>
#include <clipmatch/version.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace clipmatch {

namespace {

constexpr const char* kTokenizerTensor = "text_tokenizer.model";

bool is_encoder_tensor(const std::string& name, const char* prefix) { return name.rfind(prefix, 0) == 0; }

std::string fingerprint(const torch::nn::Module& module) { return cache::hash_module(module, "").hex(); }

/// A JSON metadata entry; malformed JSON is a checkpoint error naming the file and the entry.
nlohmann::json parse_meta_json(const std::string& text, const std::string& file, const char* key) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) fail(ErrorKind::Checkpoint, "{}: metadata '{}' is not valid JSON", file, key);
  return json;
}

std::filesystem::path checkpoint_file(const std::string& path) {
  std::filesystem::path p(path);
  if (std::filesystem::is_directory(p)) p /= "model.safetensors";
  if (!std::filesystem::exists(p)) fail(ErrorKind::Io, "{}: no such checkpoint", p.string());
  return p;
}

}  // namespace

void Model::Impl::save(const std::string& path) const {
  require_ready("saving");
  std::vector<io::OwnedTensor> tensors;
  auto add = [&](const std::string& name, const torch::Tensor& tensor) {
    if (!image_encoder_trained && is_encoder_tensor(name, "image_encoder.")) return;
    if (!text_encoder_trained && is_encoder_tensor(name, "text_encoder.")) return;
    tensors.push_back(io::from_torch(name, tensor.detach().to(torch::kCPU)));
  };
  for (const auto& item : net->named_parameters(true)) add(item.key(), item.value());
  for (const auto& item : net->named_buffers(true)) add(item.key(), item.value());
  if (!text.tokenizer_model.empty()) {
    const auto bytes = torch::empty({static_cast<std::int64_t>(text.tokenizer_model.size())}, torch::kUInt8);
    std::memcpy(bytes.data_ptr(), text.tokenizer_model.data(), text.tokenizer_model.size());
    tensors.push_back(io::from_torch(kTokenizerTensor, bytes));
  }
  std::vector<TensorView> views;
  views.reserve(tensors.size());
  for (const auto& owned : tensors) views.push_back(owned.view);
  std::map<std::string, std::string> metadata{
      {"format", "clipmatch-model-v1"},
      {"clipmatch.version", version()},
      {"clipmatch.config", model::config_to_json(config).dump()},
      {"clipmatch.image_preprocess", io::preprocess_to_json(image.preprocess).dump()},
      {"clipmatch.image_encoder_stored", image_encoder_trained ? "1" : "0"},
      {"clipmatch.text_encoder_stored", text_encoder_trained ? "1" : "0"},
  };
  if (fusion_weight >= 0) metadata["clipmatch.fusion_weight"] = fmt::format("{}", fusion_weight);
  if (!image_encoder_trained) metadata["clipmatch.image_encoder_fingerprint"] = fingerprint(*net->image_encoder);
  if (!text_encoder_trained) metadata["clipmatch.text_encoder_fingerprint"] = fingerprint(*net->text_encoder);
  const auto parent = std::filesystem::path(path).parent_path();
  io::create_directories(parent, "checkpoint folder");
  write_safetensors(path, views, metadata);
}

std::unique_ptr<Model::Impl> Model::Impl::load(const std::string& path, Device device) {
  const auto file = checkpoint_file(path).string();
  const auto st = SafetensorsFile::open(file);
  const auto& meta = st.metadata();
  auto get_meta = [&](const std::string& key) -> const std::string& {
    const auto it = meta.find(key);
    if (it == meta.end()) fail(ErrorKind::Checkpoint, "{}: not a clipmatch checkpoint (metadata '{}' missing)", file, key);
    return it->second;
  };
  nlohmann::json config_json;
  try {
    config_json = nlohmann::json::parse(get_meta("clipmatch.config"));
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::Format, "{}: metadata clipmatch.config is not JSON: {}", file, e.what());
  }

  auto impl = std::make_unique<Impl>();
  impl->config = model::config_from_json(config_json, file);
  impl->device = model::resolve_device(device);
  const model::DeviceWarmUp warm_up(impl->device);  // while the towers load
  impl->image_encoder_trained = get_meta("clipmatch.image_encoder_stored") == "1";
  impl->text_encoder_trained = get_meta("clipmatch.text_encoder_stored") == "1";
  if (const auto it = meta.find("clipmatch.fusion_weight"); it != meta.end()) {
    char* end = nullptr;
    const double weight = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end != '\0' || !std::isfinite(weight) || weight < 0) {
      fail(ErrorKind::Checkpoint, "{}: metadata clipmatch.fusion_weight '{}' is not a weight >= 0", file, it->second);
    }
    impl->fusion_weight = weight;
  }

  std::string tokenizer_model;
  if (st.contains(kTokenizerTensor)) {
    const auto& view = st.tensor(kTokenizerTensor);
    tokenizer_model.assign(static_cast<const char*>(view.data), view.nbytes);
  }
  impl->image = model::build_image_tower(impl->config.image_encoder, impl->config.seed);
  impl->image.preprocess =
      io::preprocess_from_json(parse_meta_json(get_meta("clipmatch.image_preprocess"), file, "clipmatch.image_preprocess"),
                               file);
  impl->text = model::build_text_tower(impl->config.text_encoder, impl->config.seed,
                                       static_cast<std::size_t>(std::max<std::int64_t>(0, impl->config.max_text_tokens)),
                                       tokenizer_model, nullptr);
  impl->text.tokenizer_model = tokenizer_model;
  if (!impl->text.encoder) fail(ErrorKind::Checkpoint, "{}: the intro encoder could not be rebuilt", file);
  impl->net->set_image_encoder(impl->image.encoder);
  impl->net->set_text_encoder(impl->text.encoder);
  impl->net->set_logit_scale(0.0);
  if (st.contains("logit_bias")) impl->net->ensure_logit_bias(0.0);
  impl->build_heads();

  for (const auto& [prefix, stored, key] :
       {std::tuple{"image_encoder.", impl->image_encoder_trained, "clipmatch.image_encoder_fingerprint"},
        std::tuple{"text_encoder.", impl->text_encoder_trained, "clipmatch.text_encoder_fingerprint"}}) {
    if (stored) continue;
    const auto& module = std::string(prefix) == "image_encoder." ? static_cast<torch::nn::Module&>(*impl->image.encoder)
                                                                  : static_cast<torch::nn::Module&>(*impl->text.encoder);
    if (fingerprint(module) != get_meta(key)) {
      fail(ErrorKind::Checkpoint, "{}: the weights of the {} differ from those the model was trained with", file,
           std::string(prefix) == "image_encoder." ? impl->config.image_encoder.to_string()
                                                   : impl->config.text_encoder.to_string());
    }
  }

  torch::NoGradGuard no_grad;
  auto restore = [&](const std::string& name, torch::Tensor& target) {
    if (!impl->image_encoder_trained && is_encoder_tensor(name, "image_encoder.")) return;
    if (!impl->text_encoder_trained && is_encoder_tensor(name, "text_encoder.")) return;
    if (!st.contains(name)) fail(ErrorKind::Checkpoint, "{}: tensor '{}' is missing", file, name);
    const auto& view = st.tensor(name);
    if (view.shape != target.sizes().vec()) {
      fail(ErrorKind::Checkpoint, "{}: tensor '{}' has shape {} but the model expects {}", file, name,
           fmt::join(view.shape, "x"), fmt::join(target.sizes().vec(), "x"));
    }
    target.copy_(io::to_torch(view, io::kKeepDType));
  };
  for (auto& item : impl->net->named_parameters(true)) restore(item.key(), item.value());
  for (auto& item : impl->net->named_buffers(true)) restore(item.key(), item.value());
  impl->net->to(impl->device);
  impl->net->eval();
  return impl;
}

}  // namespace clipmatch
