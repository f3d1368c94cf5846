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

  /// Split forward for top-K unfreezing, so the trainer can encode the frozen part once and cache it:
  /// forward(x) == forward_upper(forward_lower(x, k), k) for 0 <= k < num_blocks(). `forward_lower` is
  /// everything below the top `top_k` units; its output is batch-first, contiguous, and its shape depends
  /// on k (k == 0: the final features). The defaults serve k == 0 only and throw Unsupported otherwise;
  /// k outside [0, num_blocks()) throws InvalidArgument (k >= num_blocks() leaves nothing to cache).
  virtual torch::Tensor forward_lower(const torch::Tensor& pixel_values, std::int64_t top_k);
  virtual torch::Tensor forward_upper(const torch::Tensor& lower, std::int64_t top_k);

 protected:
  /// Throws InvalidArgument unless 0 <= top_k < num_blocks(); `encoder` names the caller in the message.
  void check_split(std::int64_t top_k, const char* encoder) const;
};

/// Maps a token batch to features [B, feature_dim()].
class TextEncoderImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const text::TokenBatch& batch) = 0;
  virtual std::int64_t feature_dim() const = 0;
  virtual std::int64_t num_blocks() const = 0;
  virtual void set_trainable_top(std::int64_t k) = 0;

  /// Split forward for top-K unfreezing (see ImageEncoderImpl). Transformers: lower = hidden states
  /// [B, T, D] after the embeddings and the first num_blocks() - k blocks (T = the batch's padded length);
  /// upper = the remaining blocks, final norm and pooling/projection, given the same attention mask [B, T].
  /// Hidden states at valid positions do not depend on padding, so a caller may keep each item's rows
  /// [:len] and re-pad them with zeros to any length. k == 0: lower = the final features [B, F] and upper
  /// is the identity.
  virtual torch::Tensor forward_lower(const text::TokenBatch& batch, std::int64_t top_k);
  virtual torch::Tensor forward_upper(const torch::Tensor& lower, const torch::Tensor& attention_mask,
                                      std::int64_t top_k);

 protected:
  /// Throws InvalidArgument unless 0 <= top_k < num_blocks(); `encoder` names the caller in the message.
  void check_split(std::int64_t top_k, const char* encoder) const;
};

/// Validates the input of a transformer text encoder's forward_upper: `hidden` [B, T, hidden_size] and
/// `attention_mask` [B, T] (or undefined); throws InvalidArgument naming `encoder` otherwise.
void check_split_hidden(const torch::Tensor& hidden, const torch::Tensor& attention_mask, std::int64_t hidden_size,
                        const char* encoder);

}  // namespace clipmatch::nn
