// Helpers of the clipmatch::Model tests: a small synthetic dataset in a scratch folder.
#pragma once

#include "test_support.hpp"

#include <clipmatch/dataset.hpp>
#include <clipmatch/synth.hpp>

#include <cstddef>
#include <cstdint>

namespace clipmatch::test {

/// Generates `n` synthetic movies into `dir`/data and loads them.
inline Dataset synthetic_dataset(const TempDir& dir, std::size_t n, std::uint64_t seed) {
  SynthOptions options;
  options.out = (dir / "data").string();
  options.n = n;
  options.seed = seed;
  synthesize_dataset(options);
  return load_dataset(options.out);
}

}  // namespace clipmatch::test
