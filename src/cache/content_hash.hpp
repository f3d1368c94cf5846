// Content fingerprints for the feature cache: 128-bit XXH3 of file bytes, strings and module weights.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace clipmatch::cache {

struct ContentKey {
  std::uint64_t high = 0, low = 0;
  bool operator==(const ContentKey& other) const { return high == other.high && low == other.low; }
  std::string hex() const;
};

struct ContentKeyHash {
  std::size_t operator()(const ContentKey& key) const noexcept { return static_cast<std::size_t>(key.low ^ key.high); }
};

/// Hash of a file's bytes (read in blocks); throws clipmatch::Error naming the file when it cannot be read.
ContentKey hash_file(const std::filesystem::path& path);
/// Hash of a string, salted (e.g. with the tokenizer settings) so different pipelines never share entries.
ContentKey hash_text(const std::string& text, const std::string& salt = {});
/// 64-bit checksum of one feature-cache entry: its key and the bytes of its stored row.
std::uint64_t entry_checksum(const ContentKey& key, const void* row, std::size_t bytes);
/// Hash of every parameter and buffer of `module` (names, shapes and values) plus `extra` (preprocessing,
/// pooling, split depth): identifies "the same encoder" across runs without trusting file names.
ContentKey hash_module(const torch::nn::Module& module, const std::string& extra);

}  // namespace clipmatch::cache
