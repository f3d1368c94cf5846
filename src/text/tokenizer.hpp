// The tokenizer interface every text encoder consumes.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace clipmatch::text {

/// A padded batch of token ids: `ids` and `attention_mask` are int64 [batch, length]; mask is 1 on real
/// tokens and 0 on padding.
struct TokenBatch {
  torch::Tensor ids;
  torch::Tensor attention_mask;
  /// false: known (on the host) that no row is padded, so encoders may attend without a mask. Lets a GPU's
  /// fused attention take its fastest kernel, which takes no mask, without reading the mask back to check.
  bool padded = true;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  /// The ids of one text, with the model's special tokens ([CLS]…[SEP], <|startoftext|>…<|endoftext|>) and
  /// truncated to `max_length` (0 = no limit) so that the closing special token is kept. Called from several
  /// threads at once (encode_batch, concurrent encoding), so implementations keep no unguarded mutable state.
  virtual std::vector<std::int64_t> encode(const std::string& utf8, std::size_t max_length) const = 0;
  /// Encodes each text (on the shared pool's threads) and pads to the longest (or to `max_length` when `pad_to_max` is set) with pad_id().
  TokenBatch encode_batch(const std::vector<std::string>& texts, std::size_t max_length, bool pad_to_max) const;
  virtual std::int64_t pad_id() const = 0;
  virtual std::size_t vocab_size() const = 0;
};

}  // namespace clipmatch::text
