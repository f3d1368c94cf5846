// Read access to a model's config.json with errors that name the file and the dotted field path.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace clipmatch::nn {

class JsonConfig {
 public:
  /// Parses `path`; throws clipmatch::Error (Io when unreadable, Format when not a JSON object).
  static JsonConfig load(const std::string& path);
  JsonConfig(nlohmann::json json, std::string source, std::string prefix = "");

  /// The nested object `key` (e.g. "text_config"); throws when absent or not an object.
  JsonConfig section(const std::string& key) const;
  /// True when `key` is present and not null.
  bool has(const std::string& key) const;

  /// Required field; throws Format naming "<file>: field 'text_config.hidden_size'" when missing, null or of
  /// the wrong type.
  template <typename T>
  T get(const std::string& key) const;
  /// Optional field: `fallback` when missing or null; still throws for a wrong type.
  template <typename T>
  T get_or(const std::string& key, T fallback) const {
    return has(key) ? get<T>(key) : fallback;
  }

  const std::string& source() const { return source_; }
  const nlohmann::json& json() const { return json_; }

 private:
  std::string field(const std::string& key) const { return prefix_ + key; }
  nlohmann::json json_;
  std::string source_;
  std::string prefix_;
};

extern template std::int64_t JsonConfig::get<std::int64_t>(const std::string&) const;
extern template double JsonConfig::get<double>(const std::string&) const;
extern template bool JsonConfig::get<bool>(const std::string&) const;
extern template std::string JsonConfig::get<std::string>(const std::string&) const;

}  // namespace clipmatch::nn
