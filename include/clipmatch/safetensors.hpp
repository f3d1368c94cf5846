// clipmatch — the safetensors format: a memory-mapped reader and an atomic writer.
//
// Format (https://huggingface.co/docs/safetensors): 8-byte little-endian header length N, N bytes of UTF-8
// JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the
// byte buffer. The reader validates everything the spec demands and names the file and tensor in each error.
#pragma once

#include <clipmatch/export.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace clipmatch {

/// Element types of the safetensors format.
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, U16, U32, U64, F8_E4M3, F8_E5M2 };

/// Bytes per element of `dtype`.
CLIPMATCH_API std::size_t dtype_size(DType dtype);
/// The format's spelling of `dtype` ("F32", "BF16", ...).
CLIPMATCH_API const char* dtype_name(DType dtype);
/// Parses a format spelling; throws clipmatch::Error (Format) for an unknown name.
CLIPMATCH_API DType dtype_from_name(const std::string& name);

/// A tensor's description and a pointer to its bytes (little-endian, row-major). Non-owning: valid as long
/// as the SafetensorsFile it came from (reader) or the caller's buffer (writer).
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
  std::size_t nbytes = 0;

  std::int64_t numel() const;
};

/// A read-only, memory-mapped safetensors file.
class CLIPMATCH_API SafetensorsFile {
 public:
  /// Maps and validates `path`; throws clipmatch::Error naming the file and the problem.
  static SafetensorsFile open(const std::string& path);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::string& path() const;
  /// Tensor names in the order of their data offsets.
  const std::vector<std::string>& names() const;
  bool contains(const std::string& name) const;
  /// The named tensor; throws clipmatch::Error naming the tensor and the file when it is absent.
  const TensorView& tensor(const std::string& name) const;
  /// The `__metadata__` map (empty when the file has none).
  const std::map<std::string, std::string>& metadata() const;

 private:
  struct Impl;
  explicit SafetensorsFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Writes `tensors` (any order; written sorted by name, 8-byte aligned header) and `metadata` to `path`
/// atomically: a temporary file in the same folder is written, flushed and renamed over `path`.
/// Throws clipmatch::Error on duplicate names, byte counts that disagree with shape × dtype, or I/O failure.
CLIPMATCH_API void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                                     const std::map<std::string, std::string>& metadata = {});

}  // namespace clipmatch
