// Scaled dot-product attention over [batch, heads, length, head_dim] tensors, and the masks it takes.
//
// LibTorch ≥ 2 has a fused kernel (at::scaled_dot_product_attention: flash / memory-efficient on CUDA); 1.13
// has not, so the explicit matmul-softmax path is kept as the fallback and as the reference the fused path
// is tested against.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

namespace clipmatch::nn {

/// softmax(q kᵀ / sqrt(head_dim) + mask) v. `additive_mask` (may be undefined) broadcasts to
/// [B, H, Lq, Lk] and holds 0 where attention is allowed and a large negative value where it is not.
/// `causal` additionally hides keys after the query position.
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& additive_mask, bool causal);

/// The same computation with explicit matmul + softmax; what attend() runs on LibTorch < 2.
torch::Tensor attend_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& additive_mask, bool causal);

/// True when attend() uses the fused kernel in this build.
bool fused_attention_available();

/// int/bool [B, L] (1 = real token, 0 = padding) → additive float [B, 1, 1, L] of `dtype`: 0 on real tokens,
/// the dtype's lowest value on padding (not -inf, so a row with every key hidden stays finite, as in
/// Hugging Face). An undefined `attention_mask` (no padding) gives an undefined mask.
torch::Tensor padding_to_additive_mask(const torch::Tensor& attention_mask, torch::ScalarType dtype);

/// Additive [L, L] mask hiding future positions (lowest value above the diagonal).
torch::Tensor causal_additive_mask(std::int64_t length, torch::ScalarType dtype, const torch::Device& device);

}  // namespace clipmatch::nn
