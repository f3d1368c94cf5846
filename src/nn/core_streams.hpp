// Convolutional encoders on the CPU run best as one stream of small batches per core.
//
// Why: a MobileNetV2 pass is ~50 memory-bound layers; split across cores (LibTorch's intra-op parallelism),
// every layer ends in a barrier and a batch's activations (77 MB at batch 32 in bf16) stream through the
// shared L3. Run instead as independent streams, each core on its own micro-batch of 8 images with one
// OpenMP thread, the layers need no barriers and a micro-batch's activations stay in cache. On the 2-core
// test machine two streams encode MobileNetV2 ~1.2x as fast as one two-thread pass over the same batches
// (docs/benchmarks.md).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>

namespace clipmatch::nn {

/// Images per micro-batch: 4-8 were fastest for MobileNetV2 on one core (PyTorch at batch 1/2/4/8/32, one
/// thread: 135/157/175/179/147 img/s).
inline constexpr std::int64_t kCoreStreamMicroBatch = 8;

/// fn(x) computed as fn over micro-batches of x (dim 0) of at most `micro_batch` rows, concatenated in order.
/// On the CPU, with more than one compute thread and more than one micro-batch, the micro-batches run on as
/// many streams as the calling thread has compute threads, each stream with an equal share of them (one each
/// when they divide evenly). The calling thread's precision and grad mode hold in every stream. Elsewhere
/// (CUDA, one thread, no OpenMP) fn runs on the whole batch.
torch::Tensor forward_in_core_streams(const torch::Tensor& x, std::int64_t micro_batch,
                                      const std::function<torch::Tensor(const torch::Tensor&)>& fn);

}  // namespace clipmatch::nn
