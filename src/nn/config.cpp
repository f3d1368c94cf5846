#include "nn/config.hpp"

#include "core/fail.hpp"

#include <cstdint>
#include <fstream>

namespace clipmatch::nn {

namespace {

const char* type_name(const nlohmann::json& value) { return value.type_name(); }

template <typename T>
bool holds(const nlohmann::json& value);
template <>
bool holds<std::int64_t>(const nlohmann::json& value) {
  // 1e-12 style literals are floats, but "64.0" for a size is a bug in the file we'd rather hear about.
  return value.is_number_integer();
}
template <>
bool holds<double>(const nlohmann::json& value) {
  return value.is_number();
}
template <>
bool holds<bool>(const nlohmann::json& value) {
  return value.is_boolean();
}
template <>
bool holds<std::string>(const nlohmann::json& value) {
  return value.is_string();
}

template <typename T>
const char* wanted_name();
template <>
const char* wanted_name<std::int64_t>() {
  return "an integer";
}
template <>
const char* wanted_name<double>() {
  return "a number";
}
template <>
const char* wanted_name<bool>() {
  return "a boolean";
}
template <>
const char* wanted_name<std::string>() {
  return "a string";
}

}  // namespace

JsonConfig JsonConfig::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(ErrorKind::Io, "{}: cannot open model config", path);
  nlohmann::json json;
  try {
    in >> json;
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::Format, "{}: invalid JSON: {}", path, e.what());
  }
  if (!json.is_object()) fail(ErrorKind::Format, "{}: expected a JSON object, got {}", path, type_name(json));
  return JsonConfig(std::move(json), path);
}

JsonConfig::JsonConfig(nlohmann::json json, std::string source, std::string prefix)
    : json_(std::move(json)), source_(std::move(source)), prefix_(std::move(prefix)) {}

bool JsonConfig::has(const std::string& key) const {
  const auto it = json_.find(key);
  return it != json_.end() && !it->is_null();
}

JsonConfig JsonConfig::section(const std::string& key) const {
  if (!has(key)) fail(ErrorKind::Format, "{}: field '{}' is missing", source_, field(key));
  const nlohmann::json& value = json_.at(key);
  if (!value.is_object()) {
    fail(ErrorKind::Format, "{}: field '{}' should be an object, got {}", source_, field(key), type_name(value));
  }
  return JsonConfig(value, source_, field(key) + ".");
}

template <typename T>
T JsonConfig::get(const std::string& key) const {
  if (!has(key)) fail(ErrorKind::Format, "{}: field '{}' is missing", source_, field(key));
  const nlohmann::json& value = json_.at(key);
  if (!holds<T>(value)) {
    fail(ErrorKind::Format, "{}: field '{}' should be {}, got {} ({})", source_, field(key), wanted_name<T>(),
         type_name(value), value.dump());
  }
  return value.get<T>();
}

template std::int64_t JsonConfig::get<std::int64_t>(const std::string&) const;
template double JsonConfig::get<double>(const std::string&) const;
template bool JsonConfig::get<bool>(const std::string&) const;
template std::string JsonConfig::get<std::string>(const std::string&) const;

}  // namespace clipmatch::nn
