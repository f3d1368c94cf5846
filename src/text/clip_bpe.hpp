// CLIP's byte-level BPE tokenizer (openai/CLIP simple_tokenizer.py), id for id, with ftfy.fix_text
// approximated by NFC normalisation.
#pragma once

#include "text/tokenizer.hpp"

#include <array>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace clipmatch::text {

class ClipBpeTokenizer final : public Tokenizer {
 public:
  static constexpr std::size_t kContextLength = 77;

  /// CLIP's own `bpe_simple_vocab_16e6.txt.gz` (gzip, or the same text uncompressed): the vocabulary is
  /// rebuilt from the first 48,894 merges exactly as the reference does (49,408 ids).
  static ClipBpeTokenizer from_merges_file(const std::string& path);
  /// Hugging Face layout: `vocab.json` (token → id) and `merges.txt` ("#version" header, "a b" per line).
  static ClipBpeTokenizer from_vocab_and_merges(const std::string& vocab_json_path, const std::string& merges_path);

  ClipBpeTokenizer(std::unordered_map<std::string, std::int64_t> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, const std::string& origin);
  ClipBpeTokenizer(ClipBpeTokenizer&& other) noexcept;

  /// The text after CLIP's cleaning: NFC, html.unescape twice, whitespace runs → one space, strip, lower.
  static std::string clean(const std::string& utf8);
  /// BPE token strings (byte-encoded, "</w>" ending each word) without start/end tokens.
  std::vector<std::string> tokenize(const std::string& utf8) const;
  /// <|startoftext|> ids… <|endoftext|>. With max_length > 0 (CLIP uses kContextLength) a longer result is cut
  /// to max_length and its last id replaced by <|endoftext|>, as clip.tokenize(truncate=True) does; the
  /// text is never silently shortened otherwise. Invalid UTF-8 is read as U+FFFD.
  std::vector<std::int64_t> encode(const std::string& utf8, std::size_t max_length) const override;
  /// CLIP pads with 0 (the id of "!"); the attention mask, not the id, marks padding.
  std::int64_t pad_id() const override { return 0; }
  std::size_t vocab_size() const override { return id_to_token_.size(); }

  std::int64_t start_id() const { return start_id_; }
  std::int64_t end_id() const { return end_id_; }
  std::optional<std::int64_t> token_to_id(const std::string& token) const;
  /// Reverses encode(): byte-decodes the tokens, "</w>" becomes a space, special tokens are kept verbatim.
  std::string decode(const std::vector<std::int64_t>& ids) const;

 private:
  void bpe_word(const std::string& word, std::vector<std::int64_t>& ids, std::vector<std::string>* pieces) const;
  std::vector<std::string> merge(const std::string& byte_encoded) const;

  std::unordered_map<std::string, std::int64_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<std::string, std::size_t> merge_ranks_;  // key "left right"
  std::array<std::string, 256> byte_to_symbol_;
  std::unordered_map<std::string, unsigned char> symbol_to_byte_;
  std::int64_t start_id_ = 0, end_id_ = 0;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::string>> cache_;
};

}  // namespace clipmatch::text
