#include "dist/gradient_sync.hpp"

namespace clipmatch::dist {

void sum_gradients(Group& group, const std::vector<torch::Tensor>& per_row,
                   const std::vector<torch::Tensor>& shared) {
  std::vector<torch::Tensor> grads;
  std::vector<bool> is_shared;
  for (const auto* list : {&per_row, &shared}) {
    for (const auto& p : *list) {
      if (!p.grad().defined()) continue;  // the same on every rank: all run the same graph
      grads.push_back(p.mutable_grad());
      is_shared.push_back(list == &shared);
    }
  }
  if (grads.empty()) return;
  std::vector<torch::Tensor> flat;
  for (const auto& g : grads) flat.push_back(g.reshape({-1}));
  auto buffer = torch::cat(flat).contiguous();
  group.all_reduce_sum(buffer);
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const auto n = grads[i].numel();
    auto part = buffer.slice(0, offset, offset + n).view_as(grads[i]);
    if (is_shared[i]) part = part / static_cast<double>(group.size());
    grads[i].copy_(part);
    offset += n;
  }
}

void broadcast_buffers(Group& group, torch::nn::Module& net) {
  std::vector<torch::Tensor> buffers;
  for (const auto& buffer : net.buffers(true)) {
    if (buffer.is_floating_point()) buffers.push_back(buffer);
  }
  if (buffers.empty()) return;
  std::vector<torch::Tensor> flat;
  for (const auto& b : buffers) flat.push_back(b.reshape({-1}).to(torch::kFloat32));
  auto buffer = torch::cat(flat).contiguous();
  group.broadcast_from_rank0(buffer);
  std::int64_t offset = 0;
  torch::NoGradGuard no_grad;
  for (auto& b : buffers) {
    b.copy_(buffer.slice(0, offset, offset + b.numel()).view_as(b));
    offset += b.numel();
  }
}

}  // namespace clipmatch::dist
