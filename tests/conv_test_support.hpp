// Helpers shared by the convolutional encoder tests.
#pragma once

#include "nn/checkpoint_shapes.hpp"

#include <clipmatch/safetensors.hpp>

#include <torch/torch.h>

#include <string>

namespace clipmatch::test {

/// The names and shapes a module would have in a checkpoint.
inline nn::CheckpointShapes shapes_of_module(torch::nn::Module& module) {
  nn::CheckpointShapes shapes;
  shapes.source = "<module>";
  for (const auto& item : module.named_parameters()) shapes.shapes[item.key()] = item.value().sizes().vec();
  for (const auto& item : module.named_buffers()) shapes.shapes[item.key()] = item.value().sizes().vec();
  return shapes;
}

/// Gives every BatchNorm non-trivial statistics and affine parameters, so BN folding is really exercised.
inline void perturb_batchnorms(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules()) {
    if (auto* bn = child->as<torch::nn::BatchNorm2dImpl>()) {
      bn->running_mean.uniform_(-0.5, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.3, 0.3);
    }
  }
}

/// Writes `model`'s parameters and buffers (minus `drop`, with `reshape` given a wrong shape) as safetensors.
inline void save_module(torch::nn::Module& model, const std::string& path, const std::string& drop = "",
                 const std::string& reshape = "") {
  std::vector<torch::Tensor> keep;
  std::vector<TensorView> views;
  auto add = [&](const std::string& name, torch::Tensor tensor) {
    if (name == drop) return;
    tensor = tensor.detach().contiguous();
    if (name == reshape) tensor = torch::cat({tensor.flatten(), tensor.flatten()});
    keep.push_back(tensor);
    TensorView view;
    view.name = name;
    view.dtype = tensor.scalar_type() == torch::kLong ? DType::I64 : DType::F32;
    view.shape = tensor.sizes().vec();
    view.data = tensor.data_ptr();
    view.nbytes = tensor.nbytes();
    views.push_back(view);
  };
  for (const auto& item : model.named_parameters()) add(item.key(), item.value());
  for (const auto& item : model.named_buffers()) add(item.key(), item.value());
  write_safetensors(path, views);
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace clipmatch::test
