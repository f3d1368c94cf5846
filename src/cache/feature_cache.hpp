// A persistent cache of encoder outputs. With frozen encoders (or the frozen lower part under top-K
// unfreezing) every poster and intro is encoded once; epochs then touch only what trains, and a second run
// with the same encoder, preprocessing and inputs reads the features back instead of re-encoding.
//
// Entries are keyed by content (file bytes / intro text, salted with the pipeline settings); the file is keyed
// by the encoder's weights fingerprint. A changed poster or intro misses only its own entry.
#pragma once

#include "cache/content_hash.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace clipmatch::cache {

struct CacheStats {
  std::size_t hits = 0;
  std::size_t misses = 0;
};

class FeatureCache {
 public:
  /// `dir` empty = in-memory only (nothing persists). `encoder_key` identifies the encoder + preprocessing.
  FeatureCache(std::filesystem::path dir, ContentKey encoder_key);

  /// Features for `keys` in order, float32 CPU [keys.size(), ...]. `compute(missing_positions)` must return
  /// the features of those positions (in that order) as a [missing.size(), ...] tensor; it is called once
  /// with all misses (batching is the caller's business). New entries are saved atomically: into this cache, or,
  /// when `fresh_to` is set, alone into a cache of the same key in that folder (a distributed rank's share, merged
  /// into this one later with merge_from).
  torch::Tensor get_or_compute(const std::vector<ContentKey>& keys,
                               const std::function<torch::Tensor(const std::vector<std::size_t>&)>& compute,
                               CacheStats* stats = nullptr, const std::filesystem::path& fresh_to = {});

  /// The cache file of this encoder (may not exist yet).
  std::filesystem::path file() const;

  /// Takes the entries of `other` (a cache of the same encoder key, e.g. a distributed rank's share) that this
  /// one lacks; returns how many. Entries of another feature shape are ignored.
  std::size_t merge_from(const FeatureCache& other);
  /// Writes the entries to file() atomically (nothing when the cache is in memory only or empty).
  void save() const;

 private:
  void load();

  std::filesystem::path dir_;
  ContentKey encoder_key_;
  std::vector<ContentKey> keys_;
  torch::Tensor features_;  // [keys_.size(), ...] float32 CPU, undefined when empty
};

}  // namespace clipmatch::cache
