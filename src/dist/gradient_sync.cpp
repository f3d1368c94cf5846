#include "dist/gradient_sync.hpp"

#include <functional>

namespace clipmatch::dist {

namespace {

/// Runs `collective` once on all of `tensors` laid end to end in one float buffer (one message instead of one per
/// tensor), then copies the result back into each.
void through_one_buffer(const std::vector<torch::Tensor>& tensors,
                        const std::function<void(torch::Tensor&)>& collective) {
  if (tensors.empty()) return;
  std::vector<torch::Tensor> flat;
  for (const auto& t : tensors) flat.push_back(t.reshape({-1}).to(torch::kFloat32));
  auto buffer = torch::cat(flat).contiguous();
  collective(buffer);
  torch::NoGradGuard no_grad;
  std::int64_t offset = 0;
  for (auto t : tensors) {
    t.copy_(buffer.slice(0, offset, offset + t.numel()).view_as(t));
    offset += t.numel();
  }
}

}  // namespace

void sum_gradients(Group& group, const std::vector<torch::Tensor>& per_row,
                   const std::vector<torch::Tensor>& shared) {
  std::vector<torch::Tensor> grads, shared_grads;
  for (const auto* list : {&per_row, &shared}) {
    for (const auto& p : *list) {
      if (!p.grad().defined()) continue;  // the same on every rank: all run the same graph
      grads.push_back(p.mutable_grad());
      if (list == &shared) shared_grads.push_back(p.mutable_grad());
    }
  }
  through_one_buffer(grads, [&](torch::Tensor& buffer) { group.all_reduce_sum(buffer); });
  for (auto& g : shared_grads) g.div_(static_cast<double>(group.size()));
}

void broadcast_buffers(Group& group, torch::nn::Module& net) {
  std::vector<torch::Tensor> buffers;
  for (const auto& buffer : net.buffers(true)) {
    if (buffer.is_floating_point()) buffers.push_back(buffer);
  }
  through_one_buffer(buffers, [&](torch::Tensor& buffer) { group.broadcast_from_rank0(buffer); });
}

}  // namespace clipmatch::dist
