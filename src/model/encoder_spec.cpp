#include "core/fail.hpp"

#include <clipmatch/model.hpp>

#include <array>

namespace clipmatch {

namespace {
constexpr std::array<const char*, 8> kKinds{"vit", "bert", "clip", "resnet", "mobilenet_v2", "glove", "tiny_cnn",
                                            "tiny_text"};
}

EncoderSpec EncoderSpec::parse(const std::string& text) {
  EncoderSpec spec;
  const auto colon = text.find(':');
  spec.kind = text.substr(0, colon);
  if (colon != std::string::npos) spec.path = text.substr(colon + 1);
  bool known = false;
  for (const char* kind : kKinds) known = known || spec.kind == kind;
  if (!known) {
    fail(ErrorKind::InvalidArgument,
         "unknown encoder kind '{}' in '{}' (expected vit, bert, clip, resnet, mobilenet_v2, glove, tiny_cnn or "
         "tiny_text, optionally followed by :PATH)",
         spec.kind, text);
  }
  const bool from_scratch = spec.kind == "tiny_cnn" || spec.kind == "tiny_text";
  if (!from_scratch && spec.path.empty()) {
    fail(ErrorKind::InvalidArgument, "encoder '{}' needs a checkpoint folder: write {}:PATH", spec.kind, spec.kind);
  }
  return spec;
}

std::string EncoderSpec::to_string() const { return path.empty() ? kind : kind + ":" + path; }

}  // namespace clipmatch
