#include "core/compute_threads.hpp"

#include <torch/torch.h>

#include <cstdlib>
#include <mutex>
#include <thread>

namespace clipmatch {

void ensure_compute_threads() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("OMP_NUM_THREADS") != nullptr) return;
    const auto cores = static_cast<int>(std::thread::hardware_concurrency());
    if (cores > torch::get_num_threads()) torch::set_num_threads(cores);
  });
}

}  // namespace clipmatch
