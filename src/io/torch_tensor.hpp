// Bridges between safetensors views and LibTorch tensors. Both directions copy or share ownership explicitly,
// so no torch::Tensor ever aliases a memory-mapped file that might be unmapped under it.
#pragma once

#include <clipmatch/safetensors.hpp>

#include <torch/torch.h>

#include <string>

namespace clipmatch::io {

/// Pass as `target` to keep the file's element type (see to_torch).
inline constexpr torch::ScalarType kKeepDType = torch::ScalarType::Undefined;

/// The torch element type that holds every value of `dtype` exactly: the same type where LibTorch has one;
/// U16 → Int, U32 and U64 → Long (U64 values above 2^63-1 are rejected on conversion); F8 → Float.
torch::ScalarType natural_scalar_type(DType dtype);

/// A fresh, contiguous CPU tensor with the values of `view`, converted to `target` (default float32, the
/// type encoders compute in; F16/BF16/F64/integers are converted). With kKeepDType the result has
/// natural_scalar_type(view.dtype). Throws clipmatch::Error naming the tensor on values it cannot represent.
torch::Tensor to_torch(const TensorView& view, torch::ScalarType target = torch::kFloat32);

/// The values of `view` in its natural type (see natural_scalar_type), without a copy where LibTorch can read
/// the bytes in place (its own element type, aligned): the result then aliases the view's file and must not
/// outlive it, nor be written. Otherwise a fresh copy. For reading a tensor once, e.g. into a parameter.
torch::Tensor borrow_or_copy(const TensorView& view);

/// A tensor ready for write_safetensors: keeps a contiguous CPU copy (or a shared reference, when the input
/// already is one) alive for as long as `view` is used. Do not modify the source tensor in place until written.
struct OwnedTensor {
  torch::Tensor storage;
  TensorView view;
};

/// Wraps `tensor` (any device, any layout) under `name`. Throws clipmatch::Error (Unsupported) for torch
/// types safetensors cannot hold (complex, quantized).
OwnedTensor from_torch(const std::string& name, const torch::Tensor& tensor);

/// The safetensors dtype of a torch scalar type; throws clipmatch::Error (Unsupported) when there is none.
DType dtype_from_torch(torch::ScalarType type);

}  // namespace clipmatch::io
