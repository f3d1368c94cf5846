// BERT's WordPiece tokenizer, matching Hugging Face `tokenizers` BertWordPieceTokenizer (BertNormalizer +
// BertPreTokenizer + WordPiece + [CLS]/[SEP] template) id for id.
#pragma once

#include "text/tokenizer.hpp"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace clipmatch::text {

struct WordPieceOptions {
  bool lowercase = true;                  ///< false for cased vocabularies
  std::optional<bool> strip_accents;      ///< NFD + drop Mn; defaults to `lowercase` as in BertNormalizer
  bool clean_text = true;                 ///< drop NUL, U+FFFD and C* characters; whitespace → ' '
  bool handle_chinese_chars = true;       ///< put spaces around CJK ideographs so each is its own word
  std::size_t max_input_chars_per_word = 100;
  std::string continuing_prefix = "##";
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
};

class WordPieceTokenizer final : public Tokenizer {
 public:
  /// Reads a BERT `vocab.txt` (one token per line; the line number is the id).
  static WordPieceTokenizer from_vocab_file(const std::string& path, WordPieceOptions options = {});
  /// `vocab[i]` is the token with id i. `origin` names the source in error messages.
  WordPieceTokenizer(const std::vector<std::string>& vocab, WordPieceOptions options,
                     const std::string& origin = "vocabulary");

  /// The word pieces of `utf8` without special tokens (invalid UTF-8 is read as U+FFFD and then dropped by
  /// text cleaning, like the U+FFFD characters BertNormalizer removes).
  std::vector<std::string> tokenize(const std::string& utf8) const;
  /// [CLS] pieces… [SEP]; with max_length > 0 the pieces are cut so that the result has at most max_length
  /// ids and still ends in [SEP] (max_length must then be at least 2).
  std::vector<std::int64_t> encode(const std::string& utf8, std::size_t max_length) const override;
  std::int64_t pad_id() const override { return pad_id_; }
  std::size_t vocab_size() const override { return id_to_token_.size(); }

  std::optional<std::int64_t> token_to_id(const std::string& token) const;
  const std::string& id_to_token(std::int64_t id) const;
  std::int64_t cls_id() const { return cls_id_; }
  std::int64_t sep_id() const { return sep_id_; }
  std::int64_t unk_id() const { return unk_id_; }

 private:
  std::u32string normalize(const std::u32string& text) const;
  void word_pieces(const std::u32string& word, std::vector<std::string>& out) const;
  /// The pieces of `raw` (not yet normalised), stopping once there are at least `limit`.
  std::vector<std::string> pieces_of(const std::u32string& raw, std::size_t limit) const;
  /// The first `limit` pieces of `utf8`, equal to tokenize(utf8) cut to `limit`.
  std::vector<std::string> leading_pieces(const std::string& utf8, std::size_t limit) const;
  std::int64_t required_id(const std::string& token, const std::string& origin) const;

  WordPieceOptions options_;
  std::unordered_map<std::string, std::int64_t> token_to_id_;
  std::vector<std::string> id_to_token_;
  std::int64_t unk_id_ = 0, cls_id_ = 0, sep_id_ = 0, pad_id_ = 0;
};

}  // namespace clipmatch::text
