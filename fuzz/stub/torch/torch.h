// A compile-only stand-in for <torch/torch.h>, used ONLY by the fuzz build (fuzz/CMakeLists.txt puts
// fuzz/stub first on the include path).
//
// Why: the parsers the fuzz targets exercise live in translation units that include LibTorch only for a
// declaration or two (io/image_impl.hpp declares batch helpers returning torch::Tensor, text/tokenizer.hpp
// holds a TokenBatch of tensors, io/npy.cpp has write_npy(Tensor) / read_npy_tensor beside the real
// reader). Compiling those files against the real LibTorch headers costs ~30 s each and linking them pulls
// in libtorch; against this stub they compile in a second and link with nothing.
//
// Contract: this header declares just enough for those files to compile. Every member function aborts:
// no fuzz target calls any code path that uses a tensor. If a library file starts using more of LibTorch,
// the fuzz build fails to compile (add the member here, still aborting) rather than silently changing
// behaviour.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace clipmatch_fuzz_stub {
[[noreturn]] inline void torch_called(const char* what) {
  std::fprintf(stderr, "fuzz build: LibTorch stub '%s' was called; the fuzz targets must not reach tensor code\n",
               what);
  std::abort();
}
}  // namespace clipmatch_fuzz_stub

namespace c10 {
enum class ScalarType : std::int8_t { Float, Long, Other };
enum class DeviceType : std::int8_t { CPU, CUDA };
inline const char* toString(ScalarType) { clipmatch_fuzz_stub::torch_called("c10::toString"); }
}  // namespace c10

namespace torch {

constexpr c10::ScalarType kFloat32 = c10::ScalarType::Float;
constexpr c10::ScalarType kInt64 = c10::ScalarType::Long;
constexpr c10::DeviceType kCPU = c10::DeviceType::CPU;

struct IntArrayRefStub {
  std::vector<std::int64_t> vec() const { clipmatch_fuzz_stub::torch_called("IntArrayRef::vec"); }
};

class Tensor {
 public:
  bool defined() const { clipmatch_fuzz_stub::torch_called("Tensor::defined"); }
  Tensor detach() const { clipmatch_fuzz_stub::torch_called("Tensor::detach"); }
  Tensor to(c10::DeviceType) const { clipmatch_fuzz_stub::torch_called("Tensor::to"); }
  Tensor contiguous() const { clipmatch_fuzz_stub::torch_called("Tensor::contiguous"); }
  Tensor clone() const { clipmatch_fuzz_stub::torch_called("Tensor::clone"); }
  IntArrayRefStub sizes() const { clipmatch_fuzz_stub::torch_called("Tensor::sizes"); }
  c10::ScalarType scalar_type() const { clipmatch_fuzz_stub::torch_called("Tensor::scalar_type"); }
  template <typename T>
  T* data_ptr() const {
    clipmatch_fuzz_stub::torch_called("Tensor::data_ptr");
  }
};

inline Tensor from_blob(void*, const std::vector<std::int64_t>&, c10::ScalarType) {
  clipmatch_fuzz_stub::torch_called("torch::from_blob");
}

}  // namespace torch
