#include <clipmatch/version.hpp>

#include "core/compute_threads.hpp"
#include "core/cpu_block_cache.hpp"

#include <torch/torch.h>
#include <fmt/format.h>

namespace clipmatch {

std::string version() { return "0.1.0"; }

std::string build_info() {
  ensure_compute_threads();
  ensure_cpu_block_cache();
  const auto block_cache = cpu_block_cache_stats();
  const bool cuda = torch::cuda::is_available();
  return fmt::format("clipmatch {} | LibTorch {}.{}.{} | CUDA {} | {} CPU threads | CPU block cache {}", version(),
                     TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH,
                     cuda ? fmt::format("yes ({} device(s))", torch::cuda::device_count()) : std::string("no"),
                     torch::get_num_threads(),
                     block_cache.installed ? fmt::format("{} MiB", block_cache.capacity_bytes >> 20) : std::string("off"));
}

}  // namespace clipmatch
