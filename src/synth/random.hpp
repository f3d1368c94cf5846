// Sampling helpers over std::mt19937_64 whose results are the same with every standard library (the
// engine is fully specified; std::uniform_*_distribution are not).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace clipmatch::synth {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  /// Uniform in [0, n); n must be > 0. Rejection sampling removes modulo bias.
  std::size_t below(std::size_t n) {
    const std::uint64_t range = n;
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    std::uint64_t x;
    do {
      x = engine_();
    } while (x >= limit);
    return static_cast<std::size_t>(x % range);
  }
  /// Uniform in [lo, hi] (inclusive).
  int between(int lo, int hi) { return lo + static_cast<int>(below(static_cast<std::size_t>(hi - lo + 1))); }
  /// Uniform in [0, 1) with 53 random bits.
  double unit() { return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
  bool chance(double p) { return unit() < p; }
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }

 private:
  std::mt19937_64 engine_;
};

/// A well-mixed seed for stream `index` of `seed` (SplitMix64), so each movie draws from its own stream.
inline std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace clipmatch::synth
