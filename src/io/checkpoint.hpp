// A model checkpoint as Hugging Face stores it: one `model.safetensors`, or shards listed by
// `model.safetensors.index.json` ({"weight_map": {tensor name: shard file}}). Encoders look tensors up by
// their checkpoint names without caring which layout the folder uses.
#pragma once

#include <clipmatch/safetensors.hpp>

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace clipmatch::io {

class CheckpointReader {
 public:
  /// `path` is a folder (holding model.safetensors.index.json or model.safetensors, tried in that order), an
  /// index file (*.index.json), or a single .safetensors file. Every shard is opened and validated up front;
  /// a missing shard or a name its shard lacks throws clipmatch::Error (Checkpoint) naming the index.
  static CheckpointReader open(const std::string& path);

  /// What was opened: the index file or the single safetensors file.
  const std::string& path() const { return path_; }
  /// All tensor names, sorted.
  const std::vector<std::string>& names() const { return names_; }
  bool contains(const std::string& name) const { return location_.count(name) != 0; }
  /// The named tensor's view (valid while this reader lives); throws clipmatch::Error (Checkpoint) if absent.
  const TensorView& tensor(const std::string& name) const;
  /// A float32 copy of the named tensor.
  torch::Tensor load(const std::string& name) const;
  /// As load(name), but throws clipmatch::Error (Checkpoint) naming the tensor unless its shape is `shape`.
  torch::Tensor load(const std::string& name, const std::vector<std::int64_t>& shape) const;
  /// The `__metadata__` of the single file, or of the first shard.
  const std::map<std::string, std::string>& metadata() const;

 private:
  CheckpointReader() = default;
  std::string path_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::unordered_map<std::string, const SafetensorsFile*> location_;
  std::vector<std::string> names_;
};

}  // namespace clipmatch::io
