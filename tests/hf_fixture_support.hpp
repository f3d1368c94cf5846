// Helpers for the Hugging Face parity tests: locating a fixture folder, reading a safetensors file into
// torch tensors, rewriting a checkpoint into a scratch folder, and comparing outputs.
#pragma once

#include "io/torch_tensor.hpp"
#include "test_support.hpp"

#include <clipmatch/safetensors.hpp>

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace clipmatch::test {

/// $CLIPMATCH_FIXTURES/<name> (default <shared>/fixtures/hf/<name>), or nullopt when absent.
inline std::optional<fs::path> hf_fixture(const std::string& name) {
  const std::optional<fs::path> root = shared_path("fixtures/hf", "CLIPMATCH_FIXTURES");
  if (!root || !fs::exists(*root / name / "config.json")) return std::nullopt;
  return *root / name;
}

/// Every tensor of a safetensors file, in its own element type.
inline std::map<std::string, torch::Tensor> read_tensors(const fs::path& file) {
  const SafetensorsFile st = SafetensorsFile::open(file.string());
  std::map<std::string, torch::Tensor> tensors;
  for (const std::string& name : st.names()) tensors[name] = io::to_torch(st.tensor(name), io::kKeepDType);
  return tensors;
}

/// Writes `tensors` as <folder>/model.safetensors and copies config.json from `config_from`.
inline void write_checkpoint(const fs::path& folder, const std::map<std::string, torch::Tensor>& tensors,
                             const fs::path& config_from) {
  std::vector<io::OwnedTensor> owned;
  owned.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) owned.push_back(io::from_torch(name, tensor));
  std::vector<TensorView> views;
  for (const io::OwnedTensor& t : owned) views.push_back(t.view);
  write_safetensors((folder / "model.safetensors").string(), views);
  fs::copy_file(config_from / "config.json", folder / "config.json", fs::copy_options::overwrite_existing);
}

/// max |a - b| after checking the shapes agree (infinity when they do not, so the check fails loudly).
inline double max_abs_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  if (!actual.defined() || !actual.sizes().equals(expected.sizes())) return std::numeric_limits<double>::infinity();
  return (actual.to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>();
}

/// The `out.*` names of an io.safetensors map, without the prefix.
inline std::vector<std::string> output_names(const std::map<std::string, torch::Tensor>& io_tensors) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : io_tensors) {
    if (name.rfind("out.", 0) == 0) names.push_back(name.substr(4));
  }
  return names;
}

inline constexpr double kParityTolerance = 1e-4;

}  // namespace clipmatch::test
