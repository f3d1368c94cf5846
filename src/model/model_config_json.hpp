// ModelConfig ↔ JSON, for checkpoint metadata and run folders.
#pragma once

#include <clipmatch/model.hpp>

#include <nlohmann/json.hpp>

namespace clipmatch::model {

nlohmann::json config_to_json(const ModelConfig& config);
/// `where` names the source in errors (a checkpoint path).
ModelConfig config_from_json(const nlohmann::json& json, const std::string& where);

}  // namespace clipmatch::model
