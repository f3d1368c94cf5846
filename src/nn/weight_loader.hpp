// Copies checkpoint tensors into a module's parameters and buffers by name.
//
// Checkpoints name tensors after the framework that wrote them (Hugging Face, torchvision); our modules use
// their own names. A per-architecture `rename` function bridges the two, so one loader can check every
// tensor: nothing missing, nothing unexpected, every shape right.
#pragma once

#include "io/checkpoint.hpp"

#include <torch/torch.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace clipmatch::nn {

/// Maps a checkpoint tensor name to the module's parameter/buffer name; nullopt = the tensor is known and
/// deliberately not used (a classifier head, a `position_ids` buffer).
using CheckpointRename = std::function<std::optional<std::string>(const std::string& checkpoint_name)>;

struct LoadReport {
  std::vector<std::string> loaded;      ///< module names that received a tensor
  std::vector<std::string> ignored;     ///< checkpoint names `rename` mapped to nullopt
  std::vector<std::string> unexpected;  ///< checkpoint names mapped to a name the module lacks (strict=false)
  std::vector<std::string> missing;     ///< module names no checkpoint tensor mapped to (strict=false)

  /// Every checkpoint tensor that was not loaded: ignored + unexpected.
  std::vector<std::string> skipped() const;
};

/// Loads every parameter and buffer of `module` from `reader`, converting dtypes (F16/BF16 → the module's
/// dtype) and copying under NoGradGuard onto the module's device.
/// Always throws clipmatch::Error (Checkpoint) for a shape mismatch (naming the tensor and both shapes) and
/// for two checkpoint tensors mapped to one module name. With `strict`, also throws for a missing module
/// tensor or an unexpected checkpoint tensor, naming it; without, lists them in the report.
LoadReport load_weights(torch::nn::Module& module, const io::CheckpointReader& reader,
                        const CheckpointRename& rename, bool strict);

/// Whether every element of `tensor` is finite (integers always are). For float tensors one pass without
/// temporaries; the check every loaded checkpoint tensor gets.
bool all_finite(const torch::Tensor& tensor);

/// "[64, 3, 16, 16]" — shapes in error messages.
std::string shape_string(at::IntArrayRef shape);

}  // namespace clipmatch::nn
