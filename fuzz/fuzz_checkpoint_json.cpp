// libFuzzer target: the JSON a checkpoint's metadata carries — ImagePreprocess::from_json
// (src/io/image_preprocess.cpp, metadata "clipmatch.image_preprocess") and model::config_from_json
// (src/model/model_config_json.cpp, metadata "clipmatch.config"), with EncoderSpec::parse and the name tables
// (src/model/encoder_spec.cpp, src/core/names.cpp) underneath.
//
// The input is the JSON text. config_from_json takes a parsed document; the text is parsed with
// nlohmann::json::parse and a json::exception there is a normal outcome, exactly as Model::Impl::load
// (src/model/model_checkpoint.cpp) catches it before calling config_from_json.
//
// Checked for accepted input: from_json(to_json(pp)) == pp, config_from_json(config_to_json(c)) gives the same
// configuration, and every integer field read (size, resize_to, embed_dim, mlp_hidden, max_text_tokens, seed)
// was a JSON integer of exactly the value stored (check id "json-exact-integers": no float truncated, no
// 64-bit value wrapped).
//
// encoder_kinds() lives in src/model/encoder_registry.cpp, which builds LibTorch modules; it is defined here
// with the registry's kind names and needs_path flags (EncoderSpec::parse reads only those two fields).
// Keep the table in step with registry() in encoder_registry.cpp.
#include <clipmatch/image.hpp>
#include <clipmatch/model.hpp>

#include "fuzz_common.hpp"
#include "model/model_config_json.hpp"

#include <nlohmann/json.hpp>

#include <type_traits>

namespace clipmatch {

const std::vector<EncoderKind>& encoder_kinds() {
  static const std::vector<EncoderKind> kinds{
      {"vit", EncoderSide::Poster, true, ""},          {"bert", EncoderSide::Intro, true, ""},
      {"clip", EncoderSide::Both, true, ""},           {"resnet", EncoderSide::Poster, true, ""},
      {"mobilenet_v2", EncoderSide::Poster, true, ""}, {"glove", EncoderSide::Intro, true, ""},
      {"tiny_cnn", EncoderSide::Poster, false, ""},    {"tiny_text", EncoderSide::Intro, false, ""}};
  return kinds;
}

}  // namespace clipmatch

namespace {

// An accepted document must mean what it says: an integer field holds a JSON integer of exactly the value that
// was stored (not a float truncated, nor a 64-bit value wrapped into an int).
template <typename T>
bool exact_integer(const nlohmann::json& document, const char* key, T stored) {
  const auto it = document.find(key);
  if (it == document.end()) return true;        // an optional field (resize_to) left out
  if (!it->is_number_integer()) return false;   // true for both signed and unsigned JSON integers
  if (it->is_number_unsigned()) {
    const auto value = it->template get<std::uint64_t>();
    if constexpr (std::is_unsigned_v<T>) return stored == value;
    else return stored >= 0 && static_cast<std::uint64_t>(stored) == value;
  }
  const auto value = it->template get<std::int64_t>();  // negative
  if constexpr (std::is_unsigned_v<T>) return false;
  else return static_cast<std::int64_t>(stored) == value;
}

bool same_config(const clipmatch::ModelConfig& a, const clipmatch::ModelConfig& b) {
  return a.image_encoder.kind == b.image_encoder.kind && a.image_encoder.path == b.image_encoder.path &&
         a.text_encoder.kind == b.text_encoder.kind && a.text_encoder.path == b.text_encoder.path &&
         a.embed_dim == b.embed_dim && a.head == b.head && a.mlp_hidden == b.mlp_hidden &&
         a.temperature == b.temperature && a.max_text_tokens == b.max_text_tokens &&
         a.use_pretrained_projection == b.use_pretrained_projection && a.seed == b.seed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  fuzz::guarded("ImagePreprocess::from_json", [&] {
    const clipmatch::ImagePreprocess pp = clipmatch::ImagePreprocess::from_json(text);
    clipmatch::ImagePreprocess again;
    try {
      again = clipmatch::ImagePreprocess::from_json(pp.to_json());
    } catch (const clipmatch::Error& e) {
      fuzz::finding("ImagePreprocess::from_json rejects what to_json wrote", e.what());
    }
    FUZZ_CHECK(again == pp, "ImagePreprocess JSON round trip changed the value: " + pp.to_json());
    const auto document = nlohmann::json::parse(text);
    FUZZ_CHECK_ID("json-exact-integers", exact_integer(document, "size", pp.size) &&
                                             exact_integer(document, "resize_to", pp.resize_to),
                  "ImagePreprocess::from_json accepted a non-integer or out-of-range size/resize_to as " + pp.to_json());
  });

  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    return 0;  // Model::Impl::load reports this as an Error (Format) before config_from_json is reached
  }
  fuzz::guarded("config_from_json", [&] {
    const clipmatch::ModelConfig config = clipmatch::model::config_from_json(parsed, "fuzz");
    clipmatch::ModelConfig again;
    try {
      again = clipmatch::model::config_from_json(clipmatch::model::config_to_json(config), "round trip");
    } catch (const clipmatch::Error& e) {
      fuzz::finding("config_from_json rejects what config_to_json wrote", e.what());
    }
    FUZZ_CHECK(same_config(config, again), "model config JSON round trip changed the value");
    FUZZ_CHECK_ID("json-exact-integers",
                  exact_integer(parsed, "embed_dim", config.embed_dim) &&
                      exact_integer(parsed, "mlp_hidden", config.mlp_hidden) &&
                      exact_integer(parsed, "max_text_tokens", config.max_text_tokens) &&
                      exact_integer(parsed, "seed", config.seed),
                  "config_from_json accepted a non-integer or out-of-range integer field as " +
                      clipmatch::model::config_to_json(config).dump());
  });
  return 0;
}
