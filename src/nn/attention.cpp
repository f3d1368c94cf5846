#include "nn/attention.hpp"

#include <cmath>
#include <limits>

namespace clipmatch::nn {

namespace {

double lowest_of(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kHalf:
      return -65504.0;
    case torch::kBFloat16:
      return -3.3895313892515355e38;
    case torch::kDouble:
      return std::numeric_limits<double>::lowest();
    default:
      return std::numeric_limits<float>::lowest();
  }
}

// The causal mask is folded into the additive one: SDPA refuses is_causal together with attn_mask.
torch::Tensor combined_mask(const torch::Tensor& additive_mask, bool causal, std::int64_t lq, std::int64_t lk,
                            torch::ScalarType dtype, const torch::Device& device) {
  if (!causal) return additive_mask.defined() ? additive_mask.to(dtype) : additive_mask;
  torch::Tensor mask = causal_additive_mask(lk, dtype, device).slice(0, lk - lq, lk);
  if (additive_mask.defined()) {
    // Summing two "lowest" values would overflow to -inf; clamping keeps fully hidden rows finite.
    mask = (mask + additive_mask.to(dtype)).clamp_min(lowest_of(dtype));
  }
  return mask;
}

}  // namespace

torch::Tensor padding_to_additive_mask(const torch::Tensor& attention_mask, torch::ScalarType dtype) {
  if (!attention_mask.defined()) return {};
  const torch::Tensor hidden = attention_mask.eq(0).unsqueeze(1).unsqueeze(2);
  return torch::zeros(hidden.sizes(), torch::TensorOptions().dtype(dtype).device(attention_mask.device()))
      .masked_fill(hidden, lowest_of(dtype));
}

torch::Tensor causal_additive_mask(std::int64_t length, torch::ScalarType dtype, const torch::Device& device) {
  return torch::full({length, length}, lowest_of(dtype), torch::TensorOptions().dtype(dtype).device(device))
      .triu(1);
}

torch::Tensor attend_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& additive_mask, bool causal) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * scale;
  const torch::Tensor mask = combined_mask(additive_mask, causal, q.size(-2), k.size(-2), scores.scalar_type(),
                                           scores.device());
  if (mask.defined()) scores = scores + mask;
  return torch::matmul(torch::softmax(scores, -1), v);
}

bool fused_attention_available() {
#if TORCH_VERSION_MAJOR >= 2
  return true;
#else
  return false;
#endif
}

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& additive_mask, bool causal) {
#if TORCH_VERSION_MAJOR >= 2
  const torch::Tensor mask = combined_mask(additive_mask, causal, q.size(-2), k.size(-2), q.scalar_type(), q.device());
  if (mask.defined()) return at::scaled_dot_product_attention(q, k, v, mask);
  return at::scaled_dot_product_attention(q, k, v);
#else
  return attend_reference(q, k, v, additive_mask, causal);
#endif
}

}  // namespace clipmatch::nn
