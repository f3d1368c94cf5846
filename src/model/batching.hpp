// Running work over a dataset in batches, and the eval-mode pass every encoding uses. Shared by the plain
// encoders (model.cpp), the cached encoder stages and the training feeds.
#pragma once

#include "core/fail.hpp"
#include "core/progress.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <vector>

namespace clipmatch::model {

/// Runs `fn(begin, end)` over [0, n) in slices of `batch_size` and concatenates the float32 results (where
/// `fn` left them: on the device, or on the CPU when it moved them). Advances `progress` when given.
inline torch::Tensor batched(std::size_t n, std::size_t batch_size,
                             const std::function<torch::Tensor(std::size_t, std::size_t)>& fn,
                             Progress* progress = nullptr) {
  if (batch_size == 0) fail(ErrorKind::InvalidArgument, "batch size must be positive");
  std::vector<torch::Tensor> parts;
  for (std::size_t begin = 0; begin < n; begin += batch_size) {
    const auto end = std::min(n, begin + batch_size);
    parts.push_back(fn(begin, end).to(torch::kFloat32));
    if (progress != nullptr) progress->advance(end - begin);
  }
  return torch::cat(parts);
}

/// `host` (a CPU tensor) on `device`. To a GPU it goes through page-locked memory, so the copy is asynchronous:
/// from pageable memory it would wait for the GPU's queued work, and the host could not prepare the next
/// batch meanwhile. LibTorch's pinned allocator keeps the staging block until the copy has finished.
inline torch::Tensor host_to_device(const torch::Tensor& host, const torch::Device& device) {
  if (!device.is_cuda() || !host.device().is_cpu()) return host.to(device);
  return host.pin_memory().to(device, /*non_blocking=*/true);
}

/// Rows `rows` (int64, CPU) of the CPU tensor `values` on `device`. To a GPU they are gathered straight into
/// page-locked memory, so the gather is the only host copy and the upload is asynchronous.
inline torch::Tensor gather_to_device(const torch::Tensor& values, const torch::Tensor& rows, const torch::Device& device) {
  if (!device.is_cuda() || !values.device().is_cpu()) return values.index_select(0, rows.to(values.device())).to(device);
  auto sizes = values.sizes().vec();
  sizes[0] = rows.size(0);
  torch::Tensor staging = torch::empty(sizes, values.options().pinned_memory(true));
  torch::index_select_out(staging, values, 0, rows);
  return staging.to(device, /*non_blocking=*/true);
}

/// Eval mode without gradients while it lives; the module's own mode comes back afterwards. A model at rest is
/// already in eval mode, so const encoding changes nothing (several threads may encode at once); only inside
/// train(), which has the model to itself, does a pass switch a training module over and back.
class EvalPass {
 public:
  explicit EvalPass(torch::nn::Module& module) : module_(module), was_training_(module.is_training()) {
    if (was_training_) module_.eval();
  }
  ~EvalPass() {
    if (was_training_) module_.train(true);
  }
  EvalPass(const EvalPass&) = delete;
  EvalPass& operator=(const EvalPass&) = delete;

 private:
  torch::NoGradGuard no_grad_;
  torch::nn::Module& module_;
  bool was_training_;
};

}  // namespace clipmatch::model
