// Small helpers the architecture loaders use to translate checkpoint tensor names into module names.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace clipmatch::nn {

/// Replace prefix `from` by `to`; rules are tried in order, the first match wins.
struct PrefixRule {
  std::string from;
  std::string to;
};

bool starts_with(const std::string& text, const std::string& prefix);
/// `name` with `prefix` removed when it starts with it, else `name`.
std::string strip_prefix(const std::string& name, const std::string& prefix);
/// The first rule whose `from` prefixes `name`, applied; nullopt when none matches.
std::optional<std::string> apply_prefix_rules(const std::string& name, const std::vector<PrefixRule>& rules);
/// For `layer_prefix` "encoder.layer.": "encoder.layer.11.output.dense.bias" → {"11", "output.dense.bias"}.
std::optional<std::pair<std::string, std::string>> split_layer_name(const std::string& name,
                                                                     const std::string& layer_prefix);
/// Old TensorFlow-era checkpoints call LayerNorm parameters gamma/beta.
std::string legacy_layer_norm_name(const std::string& name);

}  // namespace clipmatch::nn
