// What each tower feeds its head during training, prepared once before the first epoch. The split depth
// top_k decides it: 0 = frozen encoder, its features read from the cache; 0 < top_k < num_blocks = top-K
// unfreezing, the frozen lower part's output read from the cache and only the top k units run each step;
// top_k >= num_blocks = fully trainable, the encoder runs on decoded pixels / token ids each step.
#pragma once

#include "model/encoder_stages.hpp"
#include "model/model_state.hpp"

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace clipmatch::model {

enum class FeedStage { Features, Lower, Raw };

/// The stage a split depth selects for an encoder with `num_blocks` units.
FeedStage feed_stage(std::int64_t top_k, std::int64_t num_blocks);

class ImageFeed {
 public:
  /// `stage_key`: the cached stage's key when the encoder changed since it was taken (see encoder_stages.hpp).
  ImageFeed(const Model::Impl& m, const std::vector<std::string>& posters, std::int64_t top_k,
            const StageCache& cache, const std::optional<cache::ContentKey>& stage_key = {});
  /// Encoder features of `rows` (int64 indices on CPU) on the model's device; gradients reach whatever trains.
  torch::Tensor features(const Model::Impl& m, const torch::Tensor& rows) const;
  /// Features of every item [N, F], computed in chunks (no gradients; bf16 autocast on CUDA when asked).
  torch::Tensor all_features(const Model::Impl& m, bool mixed_precision) const;
  FeedStage stage() const { return stage_; }

 private:
  FeedStage stage_;
  std::int64_t top_k_;
  torch::Tensor values_;  // features (on the device) | lower-part outputs (CPU) | pixels (CPU)
};

class TextFeed {
 public:
  TextFeed(const Model::Impl& m, const std::vector<std::string>& intros, std::int64_t top_k, const StageCache& cache,
           const std::optional<cache::ContentKey>& stage_key = {});
  torch::Tensor features(const Model::Impl& m, const torch::Tensor& rows) const;
  torch::Tensor all_features(const Model::Impl& m, bool mixed_precision) const;
  FeedStage stage() const { return stage_; }

 private:
  FeedStage stage_;
  std::int64_t top_k_;
  torch::Tensor values_;   // features (on the device) | hidden states [N, max_tokens, D] (CPU) | token ids (CPU)
  torch::Tensor lengths_;  // token counts [N] (Lower and Raw)
};

}  // namespace clipmatch::model
