#include "nn/core_streams.hpp"

#include "core/compute_threads.hpp"
#include "core/precision.hpp"
#include "core/thread_pool.hpp"

#include <atomic>
#include <vector>

namespace clipmatch::nn {

torch::Tensor forward_in_core_streams(const torch::Tensor& x, std::int64_t micro_batch,
                                      const std::function<torch::Tensor(const torch::Tensor&)>& fn) {
  const std::int64_t rows = x.size(0);
  const std::int64_t chunks = micro_batch > 0 ? (rows + micro_batch - 1) / micro_batch : 1;
  const int threads = at::get_num_threads();
  const auto streams = static_cast<std::size_t>(std::min<std::int64_t>(threads, chunks));
  if (!x.device().is_cpu() || streams < 2 || !ThreadComputeScope::available()) return fn(x);

  const int threads_per_stream = std::max(1, threads / static_cast<int>(streams));
  const Precision precision = current_precision();
  const bool grad = torch::GradMode::is_enabled();
  std::vector<torch::Tensor> parts(static_cast<std::size_t>(chunks));
  std::atomic<std::int64_t> next{0};
  // Each stream takes the next micro-batch until none is left, so a slow one holds up no other.
  ThreadPool::shared().parallel_for(streams, [&](std::size_t) {
    ThreadComputeScope compute(threads_per_stream);
    PrecisionScope precision_scope(precision, /*on_cuda=*/false);
    torch::AutoGradMode grad_mode(grad);
    for (std::int64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) {
      const std::int64_t begin = c * micro_batch;
      parts[static_cast<std::size_t>(c)] = fn(x.slice(0, begin, std::min(rows, begin + micro_batch)));
    }
  });
  return torch::cat(parts);
}

}  // namespace clipmatch::nn
