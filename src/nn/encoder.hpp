// The two encoder roles of clipmatch. Every architecture in src/nn/ implements one of them; the model, the
// trainer and the feature cache only see these interfaces.
#pragma once

#include "text/tokenizer.hpp"

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace clipmatch::nn {

/// Maps a batch of preprocessed images, float32 [B, 3, H, W] (already normalised with the encoder's mean/std),
/// to features [B, feature_dim()].
class ImageEncoderImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& pixel_values) = 0;
  virtual std::int64_t feature_dim() const = 0;
  /// Trainable "depth units" from the top (transformer blocks, ResNet stages, MobileNet blocks); used by
  /// top-K unfreezing. `set_trainable_top(k)` freezes everything but the top k units (and the final norm).
  virtual std::int64_t num_blocks() const = 0;
  virtual void set_trainable_top(std::int64_t k) = 0;
};

/// Maps a token batch to features [B, feature_dim()].
class TextEncoderImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const text::TokenBatch& batch) = 0;
  virtual std::int64_t feature_dim() const = 0;
  virtual std::int64_t num_blocks() const = 0;
  virtual void set_trainable_top(std::int64_t k) = 0;
};

}  // namespace clipmatch::nn
