// A bag-of-word-vectors text encoder (GloVe and the like) and the tokenizer that feeds it.
//
// Tokenization (WordVectorTokenizer::split): ASCII is lower-cased; a word is a run of ASCII letters/digits
// and non-ASCII UTF-8 characters, with inner hyphens kept when the hyphenated word is itself in the vocabulary
// ("well-known") and split into its parts otherwise. GloVe's corpus went through the Stanford tokenizer, which
// splits English clitics off ("don't" -> "do" "n't", "king's" -> "king" "'s"); the same is done here, and a
// clitic or any other word missing from the vocabulary is skipped. Other punctuation separates words.
//
// Pooling: Mean averages the vectors of the known words. Sif weights each word by a / (a + p(w)) (Arora et
// al. 2017, "smooth inverse frequency", without the common-component removal) and divides by the number of
// words; p(w) is, by default, Zipf's law over the vocabulary rank (p(rank r) = 1 / (r · H_V), valid because
// GloVe vocabularies are sorted by corpus frequency), or the normalised counts given to set_word_counts().
// A text with no known word encodes to the zero vector.
#pragma once

#include "nn/encoder.hpp"
#include "text/tokenizer.hpp"

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace clipmatch::nn {

enum class WordPooling { Mean, Sif };

/// Parses "mean" or "sif"; throws clipmatch::Error (InvalidArgument) otherwise.
WordPooling word_pooling_from_name(const std::string& name);

class WordVectorTokenizer : public text::Tokenizer {
 public:
  /// `vocabulary[i]` is the word of embedding row i. Duplicate words keep their first row.
  explicit WordVectorTokenizer(std::vector<std::string> vocabulary);

  /// Vocabulary ids of the known words of `utf8`, in order, at most `max_length` (0 = no limit). There are
  /// no special tokens.
  std::vector<std::int64_t> encode(const std::string& utf8, std::size_t max_length) const override;
  /// vocab_size(): one past the last row, never a valid id; the attention mask marks it as padding.
  std::int64_t pad_id() const override { return static_cast<std::int64_t>(vocabulary_.size()); }
  std::size_t vocab_size() const override { return vocabulary_.size(); }

  /// The candidate words of `utf8` before the vocabulary look-up (see the file comment).
  std::vector<std::string> split(const std::string& utf8) const;
  /// The row of `word`, or -1.
  std::int64_t id(const std::string& word) const;
  const std::vector<std::string>& vocabulary() const { return vocabulary_; }

 private:
  std::vector<std::string> vocabulary_;
  std::unordered_map<std::string, std::int64_t> ids_;
};

struct WordVectorConfig {
  std::int64_t vocab_size = 0;
  std::int64_t dim = 0;
  WordPooling pooling = WordPooling::Mean;
  double sif_a = 1e-3;     // SIF smoothing constant a
  bool trainable = false;  // whether the embedding table receives gradients
  void validate() const;
};

class WordVectorEncoderImpl : public TextEncoderImpl {
 public:
  /// Random N(0, 1/dim) vectors; load_embeddings() or the factory put real ones in.
  explicit WordVectorEncoderImpl(const WordVectorConfig& config);

  /// Pooled vectors [B, dim]. Ids under a zero mask are ignored; an id outside [0, vocab_size) under a
  /// non-zero mask is an error naming its position.
  torch::Tensor forward(const text::TokenBatch& batch) override;
  std::int64_t feature_dim() const override { return config_.dim; }
  /// One unit: the embedding table.
  std::int64_t num_blocks() const override { return 1; }
  void set_trainable_top(std::int64_t k) override { embeddings.set_requires_grad(k >= 1); }

  /// Copies `table` [vocab_size, dim] into the embeddings.
  void load_embeddings(const torch::Tensor& table);
  /// Replaces the Zipf estimate of p(w) by `counts[i] + 1` normalised (size vocab_size); affects Sif only.
  void set_word_counts(const std::vector<double>& counts);
  /// The per-row pooling weights (all ones for Mean).
  const torch::Tensor& word_weights() const { return word_weights_; }
  const WordVectorConfig& config() const { return config_; }

  torch::Tensor embeddings;

 private:
  void set_probabilities(const torch::Tensor& probabilities);

  WordVectorConfig config_;
  torch::Tensor word_weights_;
};
TORCH_MODULE(WordVectorEncoder);

}  // namespace clipmatch::nn
