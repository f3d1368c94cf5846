// Helpers shared by the convolutional encoder tests.
#pragma once

#include "nn/checkpoint_shapes.hpp"

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

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace clipmatch::test
