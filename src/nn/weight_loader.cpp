#include "nn/weight_loader.hpp"

#include "core/fail.hpp"
#include "io/torch_tensor.hpp"

#include <ATen/Parallel.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>

namespace clipmatch::nn {

std::vector<std::string> LoadReport::skipped() const {
  std::vector<std::string> all = ignored;
  all.insert(all.end(), unexpected.begin(), unexpected.end());
  return all;
}

namespace {

/// Whether no element's exponent field is all ones (IEEE infinities and NaNs), for the IEEE element type of
/// width `Bits` with exponent mask `mask`. One read pass on the intra-op threads; no temporaries.
template <typename Bits>
bool exponents_finite(const torch::Tensor& t, Bits mask) {
  const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
  std::atomic<bool> finite{true};
  at::parallel_for(0, t.numel(), 1 << 16, [&](std::int64_t begin, std::int64_t end) {
    bool bad = false;
    for (std::int64_t i = begin; i < end; ++i) {
      Bits bits;
      std::memcpy(&bits, bytes + i * sizeof(Bits), sizeof(Bits));  // compiles to a plain load
      bad |= (bits & mask) == mask;
    }
    if (bad) finite = false;
  });
  return finite;
}

}  // namespace

bool all_finite(const torch::Tensor& tensor) {
  if (!tensor.is_floating_point()) return true;
  const torch::Tensor t = tensor.is_contiguous() && tensor.device().is_cpu() ? tensor : tensor.contiguous().cpu();
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return exponents_finite<std::uint32_t>(t, 0x7F800000u);
    case torch::kFloat64:
      return exponents_finite<std::uint64_t>(t, 0x7FF0000000000000ull);
    case torch::kFloat16:
      return exponents_finite<std::uint16_t>(t, 0x7C00u);
    case torch::kBFloat16:
      return exponents_finite<std::uint16_t>(t, 0x7F80u);
    default:
      return torch::isfinite(t).all().item<bool>();
  }
}

std::string shape_string(at::IntArrayRef shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

LoadReport load_weights(torch::nn::Module& module, const io::CheckpointReader& reader,
                        const CheckpointRename& rename, bool strict) {
  std::map<std::string, torch::Tensor> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) targets.emplace(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true)) targets.emplace(item.key(), item.value());

  LoadReport report;
  std::map<std::string, std::string> source_of;  // module name → checkpoint name
  torch::NoGradGuard no_grad;
  for (const std::string& checkpoint_name : reader.names()) {
    const std::optional<std::string> target_name = rename(checkpoint_name);
    if (!target_name) {
      report.ignored.push_back(checkpoint_name);
      continue;
    }
    const auto target = targets.find(*target_name);
    if (target == targets.end()) {
      if (strict) {
        fail(ErrorKind::Checkpoint, "{}: unexpected tensor '{}' (mapped to '{}', which the {} module does not have)",
             reader.path(), checkpoint_name, *target_name, module.name());
      }
      report.unexpected.push_back(checkpoint_name);
      continue;
    }
    const auto [previous, inserted] = source_of.emplace(*target_name, checkpoint_name);
    if (!inserted) {
      fail(ErrorKind::Checkpoint, "{}: tensors '{}' and '{}' both map to '{}'", reader.path(), previous->second,
           checkpoint_name, *target_name);
    }
    const TensorView& view = reader.tensor(checkpoint_name);
    if (!target->second.sizes().equals(view.shape)) {
      fail(ErrorKind::Checkpoint, "{}: tensor '{}' has shape {} but '{}' expects {}", reader.path(), checkpoint_name,
           shape_string(view.shape), *target_name, shape_string(target->second.sizes()));
    }
    // Read in place from the file where possible, checked, then converted into the parameter: one pass over
    // the file's bytes (a 440 MB BERT-base is read once, not copied, checked and copied again).
    const torch::Tensor value = io::borrow_or_copy(view);
    // Caught here, a NaN names its tensor and file; caught later, it is only a non-finite gradient norm.
    const auto non_finite = [&] {
      fail(ErrorKind::Checkpoint, "{}: tensor '{}' contains NaN or infinite values", reader.path(), checkpoint_name);
    };
    if (!all_finite(value)) non_finite();
    target->second.copy_(value);
    // A float64 value may overflow the parameter's narrower type.
    if (value.scalar_type() == torch::kFloat64 && !all_finite(target->second)) non_finite();
    report.loaded.push_back(*target_name);
  }
  for (const auto& [name, tensor] : targets) {
    if (source_of.count(name) != 0) continue;
    if (strict) {
      fail(ErrorKind::Checkpoint, "{}: missing tensor for '{}' (shape {})", reader.path(), name,
           shape_string(tensor.sizes()));
    }
    report.missing.push_back(name);
  }
  return report;
}

}  // namespace clipmatch::nn
