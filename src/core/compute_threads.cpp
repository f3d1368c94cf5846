#include "core/compute_threads.hpp"

#include <torch/torch.h>

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <thread>

namespace clipmatch {

namespace {

/// omp_get_max_threads / omp_set_num_threads of the OpenMP runtime LibTorch's CPU library depends on. Looked
/// up through that library's handle, so a runtime loaded privately with it (Python's dlopen, a bundled
/// libgomp-<hash>.so) is found too; null where LibTorch has none.
struct OpenMpRuntime {
  int (*get_max_threads)() = nullptr;
  void (*set_num_threads)(int) = nullptr;

  static const OpenMpRuntime& get() {
    static const OpenMpRuntime runtime = [] {
      OpenMpRuntime r;
      Dl_info info{};
      // Any function of libtorch_cpu names the library to open again (already loaded: RTLD_NOLOAD).
      if (dladdr(reinterpret_cast<void*>(&at::get_num_threads), &info) == 0 || info.dli_fname == nullptr) return r;
      void* torch_cpu = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
      if (torch_cpu == nullptr) return r;
      r.get_max_threads = reinterpret_cast<int (*)()>(dlsym(torch_cpu, "omp_get_max_threads"));
      r.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(torch_cpu, "omp_set_num_threads"));
      if (r.get_max_threads == nullptr || r.set_num_threads == nullptr) r = {};
      // The handle stays open: LibTorch is loaded for the life of the process anyway.
      return r;
    }();
    return runtime;
  }
};

}  // namespace

void ensure_compute_threads() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("OMP_NUM_THREADS") != nullptr) return;
    const auto cores = static_cast<int>(std::thread::hardware_concurrency());
    if (cores > torch::get_num_threads()) torch::set_num_threads(cores);
  });
}

bool ThreadComputeScope::available() { return OpenMpRuntime::get().set_num_threads != nullptr; }

ThreadComputeScope::ThreadComputeScope(int threads) {
  const auto& omp = OpenMpRuntime::get();
  if (omp.set_num_threads == nullptr) return;
  previous_ = omp.get_max_threads();
  omp.set_num_threads(std::max(1, threads));
}

ThreadComputeScope::~ThreadComputeScope() {
  if (previous_ > 0) OpenMpRuntime::get().set_num_threads(previous_);
}

}  // namespace clipmatch
