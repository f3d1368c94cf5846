// Reuse of large CPU tensor blocks between batches.
//
// Why: LibTorch allocates CPU tensors with posix_memalign, and glibc serves every block above its mmap threshold
// (32 MiB at most) with a fresh mmap() and gives it back with munmap() on free. An encoder pass frees and
// allocates the same activation sizes batch after batch, so each batch faults its memory in again and the kernel
// zeroes every page: 13 % of a BERT-base int8 pass and a third of a MobileNetV2 bf16 pass at batch 32 on the
// 2-core test machine went there. This allocator keeps freed blocks of 1 MiB or more (best fit, at most twice
// the request) up to a byte cap, and leaves smaller ones to LibTorch's own allocator.
//
// It replaces LibTorch's CPU allocator for the whole process (c10::SetCPUAllocator), so the tensors of a host
// program that embeds clipmatch (a notebook's torch) use it too. CLIPMATCH_CPU_CACHE_MB sets the cap; 0 leaves
// LibTorch's allocator alone.
#pragma once

#include <cstddef>

namespace clipmatch {

/// The cap the environment asks for: CLIPMATCH_CPU_CACHE_MB (MiB, 0 = off) when set and valid, else
/// min(1 GiB, physical memory / 8). `value` is the variable's text (nullptr: unset). Throws Error
/// (InvalidArgument) naming the variable when the text is not a whole number of MiB.
std::size_t cpu_block_cache_capacity(const char* value);

/// Once per process: installs the block cache as LibTorch's CPU allocator, with the capacity from the
/// environment. Later calls do nothing.
void ensure_cpu_block_cache();

struct CpuBlockCacheStats {
  bool installed = false;
  std::size_t capacity_bytes = 0;
  std::size_t cached_bytes = 0;   ///< freed blocks held for reuse now
  std::size_t reused = 0;         ///< allocations served from a held block
  std::size_t fresh = 0;          ///< large allocations that needed new memory
};
CpuBlockCacheStats cpu_block_cache_stats();

/// Frees every held block (the blocks in use stay theirs).
void release_cpu_block_cache();

}  // namespace clipmatch
