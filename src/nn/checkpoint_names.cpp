#include "nn/checkpoint_names.hpp"

#include <cctype>

namespace clipmatch::nn {

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

std::string strip_prefix(const std::string& name, const std::string& prefix) {
  return starts_with(name, prefix) ? name.substr(prefix.size()) : name;
}

std::optional<std::string> apply_prefix_rules(const std::string& name, const std::vector<PrefixRule>& rules) {
  for (const PrefixRule& rule : rules) {
    if (starts_with(name, rule.from)) return rule.to + name.substr(rule.from.size());
  }
  return std::nullopt;
}

std::optional<std::pair<std::string, std::string>> split_layer_name(const std::string& name,
                                                                     const std::string& layer_prefix) {
  if (!starts_with(name, layer_prefix)) return std::nullopt;
  std::size_t end = layer_prefix.size();
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end])) != 0) ++end;
  if (end == layer_prefix.size() || end >= name.size() || name[end] != '.') return std::nullopt;
  return std::make_pair(name.substr(layer_prefix.size(), end - layer_prefix.size()), name.substr(end + 1));
}

std::string legacy_layer_norm_name(const std::string& name) {
  const auto replace_suffix = [&](const std::string& from, const std::string& to) -> std::optional<std::string> {
    const std::string pattern = "LayerNorm." + from;
    if (name.size() >= pattern.size() && name.compare(name.size() - pattern.size(), pattern.size(), pattern) == 0) {
      return name.substr(0, name.size() - from.size()) + to;
    }
    return std::nullopt;
  };
  if (auto renamed = replace_suffix("gamma", "weight")) return *renamed;
  if (auto renamed = replace_suffix("beta", "bias")) return *renamed;
  return name;
}

}  // namespace clipmatch::nn
