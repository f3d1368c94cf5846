#include "io/checkpoint.hpp"

#include "core/fail.hpp"
#include "io/torch_tensor.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace clipmatch::io {
namespace fs = std::filesystem;
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

nlohmann::json read_index(const fs::path& index) {
  std::ifstream in(index, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "{}: cannot open checkpoint index", index.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::Format, "{}: checkpoint index is not valid JSON: {}", index.string(), e.what());
  }
}

}  // namespace

CheckpointReader CheckpointReader::open(const std::string& path) {
  fs::path target = path;
  if (fs::is_directory(target)) {
    if (fs::exists(target / "model.safetensors.index.json")) {
      target /= "model.safetensors.index.json";
    } else if (fs::exists(target / "model.safetensors")) {
      target /= "model.safetensors";
    } else {
      fail(ErrorKind::Checkpoint, "{}: folder holds neither model.safetensors.index.json nor model.safetensors",
           path);
    }
  } else if (!fs::exists(target)) {
    fail(ErrorKind::Io, "{}: checkpoint not found", path);
  }

  CheckpointReader reader;
  reader.path_ = target.string();

  if (!ends_with(target.filename().string(), ".index.json")) {
    reader.files_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(reader.path_)));
    for (const std::string& name : reader.files_.front()->names()) reader.location_.emplace(name, reader.files_.front().get());
  } else {
    const nlohmann::json index = read_index(target);
    auto weight_map = index.find("weight_map");
    if (!index.is_object() || weight_map == index.end() || !weight_map->is_object()) {
      fail(ErrorKind::Format, "{}: checkpoint index has no \"weight_map\" object", reader.path_);
    }
    std::map<std::string, const SafetensorsFile*> shards;
    for (const auto& [name, shard_value] : weight_map->items()) {
      if (!shard_value.is_string()) {
        fail(ErrorKind::Format, "{}: weight_map entry '{}' is not a file name", reader.path_, name);
      }
      const auto shard = shard_value.get<std::string>();
      auto it = shards.find(shard);
      if (it == shards.end()) {
        const fs::path shard_path = target.parent_path() / shard;
        if (!fs::exists(shard_path)) {
          fail(ErrorKind::Checkpoint, "{}: shard '{}' (holding tensor '{}') is missing: {}", reader.path_, shard, name,
               shard_path.string());
        }
        reader.files_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(shard_path.string())));
        it = shards.emplace(shard, reader.files_.back().get()).first;
      }
      if (!it->second->contains(name)) {
        fail(ErrorKind::Checkpoint, "{}: tensor '{}' is mapped to shard '{}', which does not hold it", reader.path_,
             name, shard);
      }
      reader.location_.emplace(name, it->second);
    }
  }
  for (const auto& [name, file] : reader.location_) reader.names_.push_back(name);
  std::sort(reader.names_.begin(), reader.names_.end());
  return reader;
}

const TensorView& CheckpointReader::tensor(const std::string& name) const {
  auto it = location_.find(name);
  if (it == location_.end()) fail(ErrorKind::Checkpoint, "{}: checkpoint has no tensor '{}'", path_, name);
  return it->second->tensor(name);
}

torch::Tensor CheckpointReader::load(const std::string& name) const {
  return to_torch(tensor(name), torch::kFloat32);
}

torch::Tensor CheckpointReader::load(const std::string& name, const std::vector<std::int64_t>& shape) const {
  const TensorView& view = tensor(name);
  if (view.shape != shape) {
    fail(ErrorKind::Checkpoint, "{}: tensor '{}' has shape [{}], expected [{}]", path_, name,
         fmt::join(view.shape, ", "), fmt::join(shape, ", "));
  }
  return to_torch(view, torch::kFloat32);
}

const std::map<std::string, std::string>& CheckpointReader::metadata() const {
  static const std::map<std::string, std::string> kNone;
  return files_.empty() ? kNone : files_.front()->metadata();
}

}  // namespace clipmatch::io
