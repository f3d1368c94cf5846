// LibTorch's CPU thread count. Debian's OpenMP build can start with one thread on a multi-core machine
// (omp_get_max_threads() = 1 with OMP_NUM_THREADS unset was seen here), leaving cores idle.
#pragma once

namespace clipmatch {

/// Once per process: unless OMP_NUM_THREADS says otherwise, use every core for intra-op parallelism.
void ensure_compute_threads();

/// Sets how many OpenMP threads LibTorch and oneDNN use for work started from the calling thread, while it
/// lives (the previous count comes back afterwards). Unlike torch::set_num_threads, which is process-wide, this
/// changes the calling thread's OpenMP setting only, so several threads can each run a model on their own
/// share of the cores. The OpenMP runtime is the one LibTorch loaded (found at run time: pip builds bundle
/// their own libgomp). Where LibTorch does not use OpenMP, `available()` is false and nothing changes.
class ThreadComputeScope {
 public:
  explicit ThreadComputeScope(int threads);
  ~ThreadComputeScope();
  ThreadComputeScope(const ThreadComputeScope&) = delete;
  ThreadComputeScope& operator=(const ThreadComputeScope&) = delete;

  static bool available();

 private:
  int previous_ = 0;
};

}  // namespace clipmatch
