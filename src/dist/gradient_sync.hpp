// Keeping the ranks' models equal after each step: gradients combined across ranks before the optimiser
// steps, and BatchNorm statistics taken from rank 0 after it.
#pragma once

#include "dist/process_group.hpp"

#include <torch/torch.h>

#include <vector>

namespace clipmatch::dist {

/// Sums the gradients of every rank in one collective. Each rank computed the whole global loss, but its
/// per-row parameters (heads, encoders) got gradient only through its own rows: their sum is the gradient one
/// process would get. `shared` parameters (the temperature, the SigLIP bias) entered every rank's loss whole,
/// so each rank already holds their full gradient: the sum is divided by the number of ranks.
void sum_gradients(Group& group, const std::vector<torch::Tensor>& per_row, const std::vector<torch::Tensor>& shared);

/// Gives every rank rank 0's floating-point buffers (BatchNorm running statistics), as torch DDP's
/// broadcast_buffers does: a training BatchNorm normalises with its own rank's share of the batch, so the
/// ranks' running statistics would drift apart.
void broadcast_buffers(Group& group, torch::nn::Module& module);

}  // namespace clipmatch::dist
