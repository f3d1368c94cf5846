// Encoder outputs computed once for a whole dataset and kept in the persistent feature cache: the final
// features of a frozen encoder, or, under top-K unfreezing, the output of its frozen lower part. Training and
// evaluation both read them from here, so a second run (or the evaluation after training) encodes nothing.
#pragma once

#include "model/model_state.hpp"
#include "cache/feature_cache.hpp"

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace clipmatch::model {

struct StageCache {
  std::filesystem::path dir;             ///< empty: entries live in memory for this call only
  bool verbose = false;                  ///< progress bars while encoding misses
  cache::CacheStats* stats = nullptr;    ///< hits / misses are added here when set
  /// Set: what `dir` lacks is encoded and saved here instead (a distributed rank's share; rank 0 merges them).
  std::filesystem::path share_dir;
};

/// The cache key of an encoder's stage at depth top_k: its current weights, preprocessing / tokenizer
/// settings and the depth. Taken before training, it stays the key of the (frozen) lower part afterwards.
cache::ContentKey image_stage_key(const Model::Impl& m, std::int64_t top_k);
cache::ContentKey text_stage_key(const Model::Impl& m, std::int64_t top_k);

/// forward_lower(pixels, top_k) of every poster, float32 CPU [N, ...]; top_k 0 = the encoder's features.
/// `key`: the stage's cache key when the encoder's weights have changed since it was taken (else computed).
torch::Tensor cached_image_stage(const Model::Impl& m, const std::vector<std::string>& posters, std::int64_t top_k,
                                 const StageCache& cache, const std::optional<cache::ContentKey>& key = {});

/// Text counterpart. top_k 0: features [N, F]. top_k > 0: hidden states [N, max_tokens, D], zero past each
/// intro's length, with `lengths` (int64 [N]) the token counts the upper part's attention mask is built from.
struct TextStage {
  torch::Tensor values;
  torch::Tensor lengths;
};
TextStage cached_text_stage(const Model::Impl& m, const std::vector<std::string>& intros, std::int64_t top_k,
                            const StageCache& cache, const std::optional<cache::ContentKey>& key = {});

/// The cache folder of a training run: options.cache_dir, else <run_dir>/../.clipmatch-cache; empty when
/// options.use_cache is off.
std::filesystem::path training_cache_dir(const TrainOptions& options);

}  // namespace clipmatch::model
