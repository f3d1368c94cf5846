// SentencePiece models (unigram or BPE) as a Tokenizer, and training new ones from a corpus. All calls go
// through the privately loaded shim module (sentencepiece_library.hpp).
#pragma once

#include "text/tokenizer.hpp"

#include <cstdint>
#include <string>
#include <vector>

struct clipmatch_spm;

namespace clipmatch::text {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  /// Loads a `.model` file.
  explicit SentencePieceTokenizer(const std::string& model_path);
  /// Loads a serialized model held in memory; `origin` names it in error messages.
  static SentencePieceTokenizer from_bytes(const std::string& serialized, const std::string& origin = "model bytes");
  ~SentencePieceTokenizer() override;
  SentencePieceTokenizer(SentencePieceTokenizer&& other) noexcept;
  SentencePieceTokenizer& operator=(SentencePieceTokenizer&& other) noexcept;
  SentencePieceTokenizer(const SentencePieceTokenizer&) = delete;
  SentencePieceTokenizer& operator=(const SentencePieceTokenizer&) = delete;

  /// The model's piece ids for `utf8` without <s>/</s> (invalid UTF-8 is read as U+FFFD first).
  std::vector<std::int64_t> encode_pieces(const std::string& utf8) const;
  /// <s> ids… </s> (each only if the model defines it); with max_length > 0 the pieces are cut so that
  /// the result fits and still ends in </s>.
  std::vector<std::int64_t> encode(const std::string& utf8, std::size_t max_length) const override;
  /// Text of `ids`; control pieces (<s>, </s>, <pad>) decode to nothing.
  std::string decode(const std::vector<std::int64_t>& ids) const;
  /// The model's <pad>, or 0 when it has none (the attention mask marks padding either way).
  std::int64_t pad_id() const override;
  std::size_t vocab_size() const override;
  std::int64_t unk_id() const;
  std::int64_t bos_id() const;  ///< -1 when the model has no <s>
  std::int64_t eos_id() const;  ///< -1 when the model has no </s>

 private:
  SentencePieceTokenizer(clipmatch_spm* model, std::string origin);
  clipmatch_spm* model_ = nullptr;
  std::string origin_;
};

enum class SentencePieceModelType { Unigram, Bpe };

/// Trains a SentencePiece model on `texts` (one sentence each; line breaks inside a text become spaces) and
/// writes it atomically to `out_model_path`. The model gets <pad>=0, <unk>=1, <s>=2, </s>=3, full character
/// coverage, and `vocab_size` as a soft limit (a small corpus yields a smaller vocabulary instead of failing).
void train_sentencepiece(const std::vector<std::string>& texts, const std::string& out_model_path,
                         std::size_t vocab_size, SentencePieceModelType model_type = SentencePieceModelType::Unigram);

}  // namespace clipmatch::text
