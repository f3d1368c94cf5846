#include "nn/weight_loader.hpp"

#include "core/fail.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <set>

namespace clipmatch::nn {

std::vector<std::string> LoadReport::skipped() const {
  std::vector<std::string> all = ignored;
  all.insert(all.end(), unexpected.begin(), unexpected.end());
  return all;
}

std::string shape_string(at::IntArrayRef shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

LoadReport load_weights(torch::nn::Module& module, const io::CheckpointReader& reader,
                        const CheckpointRename& rename, bool strict) {
  std::map<std::string, torch::Tensor> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) targets.emplace(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true)) targets.emplace(item.key(), item.value());

  LoadReport report;
  std::map<std::string, std::string> source_of;  // module name → checkpoint name
  torch::NoGradGuard no_grad;
  for (const std::string& checkpoint_name : reader.names()) {
    const std::optional<std::string> target_name = rename(checkpoint_name);
    if (!target_name) {
      report.ignored.push_back(checkpoint_name);
      continue;
    }
    const auto target = targets.find(*target_name);
    if (target == targets.end()) {
      if (strict) {
        fail(ErrorKind::Checkpoint, "{}: unexpected tensor '{}' (mapped to '{}', which the {} module does not have)",
             reader.path(), checkpoint_name, *target_name, module.name());
      }
      report.unexpected.push_back(checkpoint_name);
      continue;
    }
    const auto [previous, inserted] = source_of.emplace(*target_name, checkpoint_name);
    if (!inserted) {
      fail(ErrorKind::Checkpoint, "{}: tensors '{}' and '{}' both map to '{}'", reader.path(), previous->second,
           checkpoint_name, *target_name);
    }
    const TensorView& view = reader.tensor(checkpoint_name);
    if (!target->second.sizes().equals(view.shape)) {
      fail(ErrorKind::Checkpoint, "{}: tensor '{}' has shape {} but '{}' expects {}", reader.path(), checkpoint_name,
           shape_string(view.shape), *target_name, shape_string(target->second.sizes()));
    }
    const torch::Tensor value = reader.load(checkpoint_name);
    // Caught here, a NaN names its tensor and file; caught later, it is only a non-finite gradient norm.
    if (value.is_floating_point() && !torch::isfinite(value).all().item<bool>()) {
      fail(ErrorKind::Checkpoint, "{}: tensor '{}' contains NaN or infinite values", reader.path(), checkpoint_name);
    }
    target->second.copy_(value);
    report.loaded.push_back(*target_name);
  }
  for (const auto& [name, tensor] : targets) {
    if (source_of.count(name) != 0) continue;
    if (strict) {
      fail(ErrorKind::Checkpoint, "{}: missing tensor for '{}' (shape {})", reader.path(), name,
           shape_string(tensor.sizes()));
    }
    report.missing.push_back(name);
  }
  return report;
}

}  // namespace clipmatch::nn
