#include "core/fail.hpp"

#include <clipmatch/model.hpp>
#include <clipmatch/names.hpp>

namespace clipmatch {

EncoderSpec EncoderSpec::parse(const std::string& text) {
  EncoderSpec spec;
  const auto colon = text.find(':');
  spec.kind = text.substr(0, colon);
  if (colon != std::string::npos) spec.path = text.substr(colon + 1);
  const EncoderKind* kind = nullptr;
  std::vector<std::string> known;
  for (const auto& candidate : encoder_kinds()) {
    if (spec.kind == candidate.name) kind = &candidate;
    known.emplace_back(candidate.name);
  }
  if (kind == nullptr) {
    fail(ErrorKind::InvalidArgument, "unknown encoder kind '{}' in '{}' (expected {}, optionally followed by :PATH)",
         spec.kind, text, join_choices(known));
  }
  if (kind->needs_path && spec.path.empty()) {
    fail(ErrorKind::InvalidArgument, "encoder '{}' needs a checkpoint folder: write {}:PATH", spec.kind, spec.kind);
  }
  return spec;
}

std::string EncoderSpec::to_string() const { return path.empty() ? kind : kind + ":" + path; }

}  // namespace clipmatch
