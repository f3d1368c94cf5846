#include "core/fail.hpp"

#include <clipmatch/model.hpp>

namespace clipmatch {

EncoderSpec EncoderSpec::parse(const std::string& text) {
  EncoderSpec spec;
  const auto colon = text.find(':');
  spec.kind = text.substr(0, colon);
  if (colon != std::string::npos) spec.path = text.substr(colon + 1);
  const EncoderKind* kind = nullptr;
  std::string known;
  const auto& kinds = encoder_kinds();
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (spec.kind == kinds[i].name) kind = &kinds[i];
    known += (i == 0 ? "" : i + 1 == kinds.size() ? " or " : ", ") + std::string(kinds[i].name);
  }
  if (kind == nullptr) {
    fail(ErrorKind::InvalidArgument, "unknown encoder kind '{}' in '{}' (expected {}, optionally followed by :PATH)",
         spec.kind, text, known);
  }
  if (kind->needs_path && spec.path.empty()) {
    fail(ErrorKind::InvalidArgument, "encoder '{}' needs a checkpoint folder: write {}:PATH", spec.kind, spec.kind);
  }
  return spec;
}

std::string EncoderSpec::to_string() const { return path.empty() ? kind : kind + ":" + path; }

}  // namespace clipmatch
