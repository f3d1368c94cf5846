#include "model/model_config_json.hpp"

#include "core/fail.hpp"
#include "io/image_impl.hpp"

#include <clipmatch/names.hpp>

namespace clipmatch::model {

nlohmann::json config_to_json(const ModelConfig& config) {
  return {{"image_encoder", config.image_encoder.to_string()},
          {"text_encoder", config.text_encoder.to_string()},
          {"embed_dim", config.embed_dim},
          {"head", to_name(config.head)},
          {"mlp_hidden", config.mlp_hidden},
          {"temperature", to_name(config.temperature)},
          {"max_text_tokens", config.max_text_tokens},
          {"use_pretrained_projection", config.use_pretrained_projection},
          {"seed", config.seed}};
}

ModelConfig config_from_json(const nlohmann::json& json, const std::string& where) {
  try {
    ModelConfig config;
    config.image_encoder = EncoderSpec::parse(json.at("image_encoder").get<std::string>());
    config.text_encoder = EncoderSpec::parse(json.at("text_encoder").get<std::string>());
    constexpr std::int64_t kMaxWidth = 1 << 20;
    config.embed_dim = io::json_integer(json.at("embed_dim"), where, "embed_dim", 1, kMaxWidth);
    config.head = from_name<HeadKind>(json.at("head").get<std::string>(), "head");
    config.mlp_hidden = io::json_integer(json.at("mlp_hidden"), where, "mlp_hidden", 0, kMaxWidth);
    config.temperature = from_name<TemperatureInit>(json.at("temperature").get<std::string>(), "temperature");
    config.max_text_tokens = io::json_integer(json.at("max_text_tokens"), where, "max_text_tokens", 0, kMaxWidth);
    config.use_pretrained_projection = json.at("use_pretrained_projection").get<bool>();
    const auto& seed = json.at("seed");
    if (!seed.is_number_unsigned()) fail(ErrorKind::Format, "{}: field \"seed\" = {} must be a whole number >= 0", where, seed.dump());
    config.seed = seed.get<std::uint64_t>();
    return config;
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::Format, "{}: bad model configuration: {}", where, e.what());
  } catch (const Error& e) {
    fail(e.kind() == ErrorKind::InvalidArgument ? ErrorKind::Format : e.kind(), "{}: bad model configuration: {}", where,
         e.what());
  }
}

}  // namespace clipmatch::model
