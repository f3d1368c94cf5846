#include <clipmatch/error.hpp>

#include "core/cpu_block_cache.hpp"

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <thread>
#include <vector>

using clipmatch::cpu_block_cache_capacity;
using clipmatch::cpu_block_cache_stats;

namespace {

constexpr std::int64_t kMiB = 1 << 20;

/// Installs the cache as the library does at Model creation; false when the environment turned it off.
bool cache_in_force() {
  clipmatch::ensure_cpu_block_cache();
  return cpu_block_cache_stats().installed;
}

}  // namespace

TEST_CASE("cpu_block_cache: capacity from CLIPMATCH_CPU_CACHE_MB", "[cpu_block_cache]") {
  const auto by_default = cpu_block_cache_capacity(nullptr);
  CHECK(by_default > 0);
  CHECK(by_default <= std::size_t{1024} * kMiB);
  CHECK(cpu_block_cache_capacity("") == by_default);
  CHECK(cpu_block_cache_capacity("0") == 0);
  CHECK(cpu_block_cache_capacity("256") == std::size_t{256} * kMiB);
  for (const char* bad : {"abc", "-1", "12x", "1.5", "99999999999999999999"}) {
    INFO(bad);
    CHECK_THROWS_WITH(cpu_block_cache_capacity(bad), Catch::Contains("CLIPMATCH_CPU_CACHE_MB") && Catch::Contains(bad));
  }
}

TEST_CASE("cpu_block_cache: a freed large block serves the next tensor of that size", "[cpu_block_cache]") {
  if (!cache_in_force()) {
    WARN("CLIPMATCH_CPU_CACHE_MB=0: the block cache is off in this process");
    return;
  }
  clipmatch::release_cpu_block_cache();
  const auto before = cpu_block_cache_stats();
  CHECK(before.cached_bytes == 0);
  void* first = nullptr;
  {
    auto t = torch::empty({4 * kMiB}, torch::kUInt8);
    t.fill_(7);
    first = t.data_ptr();
  }
  const auto after_first = cpu_block_cache_stats();
  CHECK(after_first.fresh == before.fresh + 1);
  CHECK(after_first.cached_bytes >= std::size_t(4 * kMiB));

  // The same size again, and a slightly smaller one (an intro batch a few tokens shorter): the held block.
  for (const std::int64_t size : {4 * kMiB, 4 * kMiB - 5000}) {
    auto t = torch::zeros({size}, torch::kUInt8);
    CHECK(t.data_ptr() == first);
    CHECK(t.max().item<int>() == 0);  // what a reused block held is never seen through zeros()
  }
  const auto after_reuse = cpu_block_cache_stats();
  CHECK(after_reuse.reused == after_first.reused + 2);
  CHECK(after_reuse.fresh == after_first.fresh);

  // Small tensors stay with LibTorch's allocator; a block more than twice the request is not handed out.
  { auto small = torch::empty({1024}, torch::kUInt8); }
  { auto half = torch::empty({kMiB + kMiB / 2}, torch::kUInt8); CHECK(half.data_ptr() != first); }
  const auto after_small = cpu_block_cache_stats();
  CHECK(after_small.reused == after_reuse.reused);
  CHECK(after_small.fresh == after_reuse.fresh + 1);

  clipmatch::release_cpu_block_cache();
  CHECK(cpu_block_cache_stats().cached_bytes == 0);
}

TEST_CASE("cpu_block_cache: never holds more than its capacity", "[cpu_block_cache]") {
  if (!cache_in_force()) {
    WARN("CLIPMATCH_CPU_CACHE_MB=0: the block cache is off in this process");
    return;
  }
  clipmatch::release_cpu_block_cache();
  const auto capacity = static_cast<std::int64_t>(cpu_block_cache_stats().capacity_bytes);
  {
    // Pages are never touched, so this costs address space, not memory.
    std::vector<torch::Tensor> live;
    for (std::int64_t held = 0; held < capacity + 64 * kMiB; held += 32 * kMiB) {
      live.push_back(torch::empty({32 * kMiB}, torch::kUInt8));
    }
  }
  const auto stats = cpu_block_cache_stats();
  CHECK(stats.cached_bytes <= std::size_t(capacity));
  CHECK(stats.cached_bytes + 32 * kMiB > std::size_t(capacity));  // full up to the last block that fitted
  clipmatch::release_cpu_block_cache();
}

TEST_CASE("cpu_block_cache: threads allocating at once keep their own data", "[cpu_block_cache]") {
  if (!cache_in_force()) {
    WARN("CLIPMATCH_CPU_CACHE_MB=0: the block cache is off in this process");
    return;
  }
  const std::int64_t sizes[] = {kMiB + 3, 3 * kMiB, 6 * kMiB + 100};
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int id = 0; id < 4; ++id) {
    threads.emplace_back([&, id] {
      for (int i = 0; i < 150; ++i) {
        auto t = torch::full({sizes[(i + id) % 3] / 4}, static_cast<float>(id + 1));
        std::this_thread::yield();
        if (t.min().item<float>() != id + 1 || t.max().item<float>() != id + 1) ++wrong[id];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(wrong == std::vector<int>(4, 0));
  CHECK(cpu_block_cache_stats().reused > 0);
}
