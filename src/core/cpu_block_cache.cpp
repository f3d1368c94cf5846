#include "core/cpu_block_cache.hpp"

#include "core/fail.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace clipmatch {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kSmallest = kMiB;   // smaller blocks stay with LibTorch's allocator (glibc's heap serves them)
constexpr std::size_t kAlignment = 64;    // what LibTorch's own CPU allocator guarantees

/// Sizes are rounded up so that batches of slightly different shapes (intros sorted by length) reuse blocks:
/// 256 KiB steps below 16 MiB, 2 MiB steps above, at most 12.5 % more than asked.
std::size_t rounded(std::size_t n) {
  const std::size_t step = n < 16 * kMiB ? 256 * 1024 : 2 * kMiB;
  return (n + step - 1) / step * step;
}

class BlockCache final : public c10::Allocator {
 public:
  BlockCache(c10::Allocator* small_blocks, std::size_t capacity) : small_blocks_(small_blocks), capacity_(capacity) {}

  c10::DataPtr allocate(std::size_t n) const override {
    if (n < kSmallest) return small_blocks_->allocate(n);
    void* block = take(n);
    if (block == nullptr) block = fresh(rounded(n));
    return {block, block, &give_back_to_instance, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &give_back_to_instance; }

  CpuBlockCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {true, capacity_, cached_bytes_, reused_, fresh_};
  }

  void release() const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [size, block] : held_) {
      sizes_.erase(block);
      std::free(block);
    }
    held_.clear();
    cached_bytes_ = 0;
  }

  /// The installed cache; never destroyed, since tensors may still be freed during static destruction.
  static std::atomic<BlockCache*>& instance() {
    static std::atomic<BlockCache*> cache{nullptr};
    return cache;
  }

 private:
  static void give_back_to_instance(void* block) { instance().load()->give_back(block); }

  /// The smallest held block that fits `n` without being more than twice as large.
  void* take(std::size_t n) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = held_.lower_bound(n);
    if (it == held_.end() || it->first > 2 * n) return nullptr;
    void* block = it->second;
    cached_bytes_ -= it->first;
    held_.erase(it);
    ++reused_;
    return block;
  }

  void* fresh(std::size_t size) const {
    void* block = nullptr;
    if (posix_memalign(&block, kAlignment, size) != 0) {
      release();  // held blocks of other sizes may be what stands in the way
      if (posix_memalign(&block, kAlignment, size) != 0) {
        TORCH_CHECK(false, "clipmatch CPU block cache: not enough memory: you tried to allocate ", size, " bytes");
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_.emplace(block, size);
    ++fresh_;
    return block;
  }

  void give_back(void* block) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = sizes_.find(block);
    if (it == sizes_.end()) return;  // cannot happen: only our own blocks carry this deleter
    if (cached_bytes_ + it->second <= capacity_) {
      held_.emplace(it->second, block);
      cached_bytes_ += it->second;
      return;
    }
    sizes_.erase(it);
    std::free(block);
  }

  c10::Allocator* small_blocks_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, std::size_t> sizes_;  // every block of ours, in use or held
  mutable std::multimap<std::size_t, void*> held_;        // freed blocks by size
  mutable std::size_t cached_bytes_ = 0, reused_ = 0, fresh_ = 0;
};

}  // namespace

std::size_t cpu_block_cache_capacity(const char* value) {
  if (value == nullptr || *value == '\0') {
    const auto pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    const std::size_t physical = pages > 0 && page_size > 0 ? static_cast<std::size_t>(pages) * page_size : 0;
    return physical == 0 ? 1024 * kMiB : std::min<std::size_t>(1024 * kMiB, physical / 8);
  }
  const std::string text(value);
  char* end = nullptr;
  errno = 0;
  const unsigned long long mib = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0' || text.front() == '-' || mib > (std::size_t{1} << 30)) {
    fail(ErrorKind::InvalidArgument, "CLIPMATCH_CPU_CACHE_MB = '{}': expected a whole number of MiB (0 turns the cache off)",
         text);
  }
  return static_cast<std::size_t>(mib) * kMiB;
}

void ensure_cpu_block_cache() {
  static std::once_flag once;
  std::call_once(once, [] {
    const std::size_t capacity = cpu_block_cache_capacity(std::getenv("CLIPMATCH_CPU_CACHE_MB"));
    if (capacity == 0) return;
    auto* cache = new BlockCache(c10::GetCPUAllocator(), capacity);
    BlockCache::instance().store(cache);
    // Priority 1: above LibTorch's default registration, so the cache stays in force if that runs again.
    c10::SetCPUAllocator(cache, /*priority=*/1);
  });
}

CpuBlockCacheStats cpu_block_cache_stats() {
  const BlockCache* cache = BlockCache::instance().load();
  return cache == nullptr ? CpuBlockCacheStats{} : cache->stats();
}

void release_cpu_block_cache() {
  if (const BlockCache* cache = BlockCache::instance().load()) cache->release();
}

}  // namespace clipmatch
