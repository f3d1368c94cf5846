#include "io/torch_tensor.hpp"

#include "core/fail.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace clipmatch::io {
namespace {

// IEEE-style 8-bit floats with no LibTorch 1.13 counterpart are decoded by hand (OCP FP8 definitions).
float decode_f8_e4m3fn(std::uint8_t bits) {
  const bool negative = bits & 0x80;
  const int exponent = (bits >> 3) & 0xF;
  const int mantissa = bits & 0x7;
  float value;
  if (exponent == 0xF && mantissa == 0x7) {
    value = std::numeric_limits<float>::quiet_NaN();  // e4m3fn has no infinities, one NaN pattern
  } else if (exponent == 0) {
    value = std::ldexp(static_cast<float>(mantissa) / 8.0f, -6);
  } else {
    value = std::ldexp(1.0f + static_cast<float>(mantissa) / 8.0f, exponent - 7);
  }
  return negative ? -value : value;
}

// E5M2 is exactly the upper byte of an IEEE binary16.
float decode_f8_e5m2(std::uint8_t bits) {
  const std::uint16_t half_bits = static_cast<std::uint16_t>(bits) << 8;
  c10::Half half;
  std::memcpy(&half, &half_bits, 2);
  return static_cast<float>(half);
}

template <typename Source, typename Dest, typename Convert>
torch::Tensor convert_elements(const TensorView& view, torch::ScalarType type, Convert convert) {
  torch::Tensor out = torch::empty(view.shape, torch::TensorOptions().dtype(type));
  Dest* dest = out.data_ptr<Dest>();
  const auto* src = static_cast<const unsigned char*>(view.data);
  const std::int64_t count = view.numel();
  for (std::int64_t i = 0; i < count; ++i) {
    Source value;
    std::memcpy(&value, src + i * sizeof(Source), sizeof(Source));  // the mapping need not be aligned
    dest[i] = convert(value);
  }
  return out;
}

torch::Tensor natural_copy(const TensorView& view) {
  switch (view.dtype) {
    case DType::U16:
      return convert_elements<std::uint16_t, std::int32_t>(view, torch::kInt32,
                                                           [](std::uint16_t v) { return std::int32_t{v}; });
    case DType::U32:
      return convert_elements<std::uint32_t, std::int64_t>(view, torch::kInt64,
                                                           [](std::uint32_t v) { return std::int64_t{v}; });
    case DType::U64:
      return convert_elements<std::uint64_t, std::int64_t>(view, torch::kInt64, [&](std::uint64_t v) {
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          fail(ErrorKind::Unsupported, "tensor '{}': U64 value {} does not fit a signed 64-bit tensor", view.name, v);
        }
        return static_cast<std::int64_t>(v);
      });
    case DType::F8_E4M3:
      return convert_elements<std::uint8_t, float>(view, torch::kFloat32, decode_f8_e4m3fn);
    case DType::F8_E5M2:
      return convert_elements<std::uint8_t, float>(view, torch::kFloat32, decode_f8_e5m2);
    default: {
      // Copy the raw bytes into an aligned tensor of the same type; LibTorch converts from there.
      torch::Tensor out = torch::empty(view.shape, torch::TensorOptions().dtype(natural_scalar_type(view.dtype)));
      if (view.nbytes > 0) std::memcpy(out.data_ptr(), view.data, view.nbytes);
      return out;
    }
  }
}

}  // namespace

torch::ScalarType natural_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::F64: return torch::kFloat64;
    case DType::F32: return torch::kFloat32;
    case DType::F16: return torch::kFloat16;
    case DType::BF16: return torch::kBFloat16;
    case DType::I64: return torch::kInt64;
    case DType::I32: return torch::kInt32;
    case DType::I16: return torch::kInt16;
    case DType::I8: return torch::kInt8;
    case DType::U8: return torch::kUInt8;
    case DType::BOOL: return torch::kBool;
    case DType::U16: return torch::kInt32;
    case DType::U32: return torch::kInt64;
    case DType::U64: return torch::kInt64;
    case DType::F8_E4M3: return torch::kFloat32;
    case DType::F8_E5M2: return torch::kFloat32;
  }
  fail(ErrorKind::InvalidArgument, "invalid DType value {}", static_cast<int>(dtype));
}

torch::Tensor to_torch(const TensorView& view, torch::ScalarType target) {
  const std::size_t expected = static_cast<std::size_t>(view.numel()) * dtype_size(view.dtype);
  if (expected != view.nbytes || (view.nbytes > 0 && view.data == nullptr)) {
    fail(ErrorKind::InvalidArgument, "tensor '{}': view holds {} bytes but its shape and {} need {}", view.name,
         view.nbytes, dtype_name(view.dtype), expected);
  }
  torch::Tensor natural = natural_copy(view);
  if (target == kKeepDType || target == natural.scalar_type()) return natural;
  return natural.to(target);
}

torch::Tensor borrow_or_copy(const TensorView& view) {
  const torch::ScalarType type = natural_scalar_type(view.dtype);
  const std::size_t element = dtype_size(view.dtype);
  const bool in_place = element == c10::elementSize(type) && view.data != nullptr &&
                        reinterpret_cast<std::uintptr_t>(view.data) % element == 0 &&
                        static_cast<std::size_t>(view.numel()) * element == view.nbytes;
  if (!in_place) return to_torch(view, kKeepDType);
  return torch::from_blob(const_cast<void*>(view.data), view.shape, torch::TensorOptions().dtype(type));
}

DType dtype_from_torch(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat64: return DType::F64;
    case torch::kFloat32: return DType::F32;
    case torch::kFloat16: return DType::F16;
    case torch::kBFloat16: return DType::BF16;
    case torch::kInt64: return DType::I64;
    case torch::kInt32: return DType::I32;
    case torch::kInt16: return DType::I16;
    case torch::kInt8: return DType::I8;
    case torch::kUInt8: return DType::U8;
    case torch::kBool: return DType::BOOL;
    default:
      fail(ErrorKind::Unsupported, "torch type {} has no safetensors dtype", c10::toString(type));
  }
}

OwnedTensor from_torch(const std::string& name, const torch::Tensor& tensor) {
  if (!tensor.defined()) fail(ErrorKind::InvalidArgument, "tensor '{}' is undefined", name);
  OwnedTensor owned;
  const DType dtype = [&] {
    try {
      return dtype_from_torch(tensor.scalar_type());
    } catch (const Error& e) {
      fail(ErrorKind::Unsupported, "tensor '{}': {}", name, e.what());
    }
  }();
  owned.storage = tensor.detach().to(torch::kCPU).contiguous();
  owned.view.name = name;
  owned.view.dtype = dtype;
  owned.view.shape = owned.storage.sizes().vec();
  owned.view.data = owned.storage.data_ptr();
  owned.view.nbytes = owned.storage.nbytes();
  return owned;
}

}  // namespace clipmatch::io
