// The names and shapes of a checkpoint's tensors, for architectures whose structure must be inferred from
// them (torchvision ships no config). Lookups of absent tensors fail naming the tensor and the file.
#pragma once

#include "core/fail.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace clipmatch::nn {

struct CheckpointShapes {
  std::string source;  // the checkpoint file, for error messages
  std::map<std::string, std::vector<std::int64_t>> shapes;

  bool contains(const std::string& name) const { return shapes.count(name) != 0; }

  const std::vector<std::int64_t>& at(const std::string& name) const {
    auto found = shapes.find(name);
    if (found == shapes.end()) fail(ErrorKind::Checkpoint, "{}: missing tensor '{}'", source, name);
    return found->second;
  }

  /// Dimension `dim` of tensor `name`, checking its rank is `rank`.
  std::int64_t dim(const std::string& name, std::size_t rank, std::size_t dim) const {
    const auto& shape = at(name);
    if (shape.size() != rank) {
      fail(ErrorKind::Checkpoint, "{}: tensor '{}' has rank {}, expected {}", source, name, shape.size(), rank);
    }
    return shape[dim];
  }
};

}  // namespace clipmatch::nn
