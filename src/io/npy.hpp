// NumPy's .npy format (version 1.0 written; 1.0–3.0 read), for handing embeddings and rankings to Python and
// reading them back. Only what the library exchanges: little-endian float32 ('<f4') and int64 ('<i8'),
// C order, any rank.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace clipmatch::io {

enum class NpyType { Float32, Int64 };

/// A loaded .npy array: exactly one of `f32` / `i64` is filled, according to `type`.
struct NpyArray {
  NpyType type = NpyType::Float32;
  std::vector<std::int64_t> shape;
  std::vector<float> f32;
  std::vector<std::int64_t> i64;

  std::int64_t numel() const;
};

/// Writes `data` (C order, numel(shape) elements) to `path` atomically. Throws clipmatch::Error naming the path.
void write_npy(const std::filesystem::path& path, const float* data, const std::vector<std::int64_t>& shape);
void write_npy(const std::filesystem::path& path, const std::int64_t* data, const std::vector<std::int64_t>& shape);
/// A float32 or int64 tensor (any device or layout; copied to contiguous CPU first).
void write_npy(const std::filesystem::path& path, const torch::Tensor& tensor);

/// Reads a '<f4' or '<i8' C-order array; throws clipmatch::Error (Format) naming the file and the problem.
NpyArray read_npy(const std::filesystem::path& path);
/// read_npy as a CPU tensor (kFloat32 or kInt64).
torch::Tensor read_npy_tensor(const std::filesystem::path& path);

}  // namespace clipmatch::io
