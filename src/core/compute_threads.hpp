// LibTorch's CPU thread count. Debian's OpenMP build can start with one thread on a multi-core machine
// (omp_get_max_threads() = 1 with OMP_NUM_THREADS unset was seen here), leaving cores idle.
#pragma once

namespace clipmatch {

/// Once per process: unless OMP_NUM_THREADS says otherwise, use every core for intra-op parallelism.
void ensure_compute_threads();

}  // namespace clipmatch
