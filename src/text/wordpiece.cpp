#include "text/wordpiece.hpp"

#include "core/fail.hpp"
#include "text/unicode.hpp"
#include "text/utf8.hpp"

#include <fstream>
#include <limits>

namespace clipmatch::text {

namespace {

// BertNormalizer counts \t \n \r as whitespace although they are control characters.
bool is_bert_whitespace(char32_t cp) {
  return cp == U'\t' || cp == U'\n' || cp == U'\r' || unicode::is_white_space(cp);
}

bool is_bert_control(char32_t cp) {
  if (cp == U'\t' || cp == U'\n' || cp == U'\r') return false;
  return unicode::is_other(cp);
}

// ASCII symbols such as $ + < = > ^ ` | ~ are not Unicode punctuation, yet BERT splits on them.
bool is_bert_punctuation(char32_t cp) {
  const bool ascii_punct = (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
                           (cp >= 123 && cp <= 126);
  return ascii_punct || unicode::is_punctuation(cp);
}

// The CJK Unified Ideograph blocks BERT isolates (not Hangul or kana, which are written with spaces).
bool is_cjk_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::from_vocab_file(const std::string& path, WordPieceOptions options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "{}: cannot open WordPiece vocabulary", path);
  std::vector<std::string> vocab;
  std::string line;
  while (std::getline(in, line)) {
    // The reference trims trailing whitespace only, so a token may start with a space but not end with one.
    const auto end = line.find_last_not_of(" \t\r\n");
    line.erase(end == std::string::npos ? 0 : end + 1);
    vocab.push_back(line);
  }
  if (in.bad()) fail(ErrorKind::Io, "{}: read error", path);
  if (vocab.empty()) fail(ErrorKind::Format, "{}: empty WordPiece vocabulary", path);
  return WordPieceTokenizer(vocab, std::move(options), path);
}

WordPieceTokenizer::WordPieceTokenizer(const std::vector<std::string>& vocab, WordPieceOptions options,
                                       const std::string& origin)
    : options_(std::move(options)), id_to_token_(vocab) {
  token_to_id_.reserve(vocab.size());
  // A repeated token keeps its last id, as in the reference vocabulary reader.
  for (std::size_t i = 0; i < vocab.size(); ++i) token_to_id_[vocab[i]] = static_cast<std::int64_t>(i);
  unk_id_ = required_id(options_.unk_token, origin);
  cls_id_ = required_id(options_.cls_token, origin);
  sep_id_ = required_id(options_.sep_token, origin);
  pad_id_ = required_id(options_.pad_token, origin);
}

std::int64_t WordPieceTokenizer::required_id(const std::string& token, const std::string& origin) const {
  const auto it = token_to_id_.find(token);
  if (it == token_to_id_.end()) fail(ErrorKind::Format, "{}: special token {} is missing", origin, token);
  return it->second;
}

std::optional<std::int64_t> WordPieceTokenizer::token_to_id(const std::string& token) const {
  const auto it = token_to_id_.find(token);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

const std::string& WordPieceTokenizer::id_to_token(std::int64_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size())
    fail(ErrorKind::InvalidArgument, "token id {} is outside the WordPiece vocabulary of {}", id, id_to_token_.size());
  return id_to_token_[static_cast<std::size_t>(id)];
}

std::u32string WordPieceTokenizer::normalize(const std::u32string& text) const {
  std::u32string out;
  out.reserve(text.size());
  for (const char32_t cp : text) {
    if (options_.clean_text) {
      if (cp == 0 || cp == 0xFFFD || is_bert_control(cp)) continue;
      if (is_bert_whitespace(cp)) {
        out.push_back(U' ');
        continue;
      }
    }
    if (options_.handle_chinese_chars && is_cjk_ideograph(cp)) {
      out.push_back(U' ');
      out.push_back(cp);
      out.push_back(U' ');
      continue;
    }
    out.push_back(cp);
  }
  if (options_.strip_accents.value_or(options_.lowercase)) {
    std::u32string stripped;
    for (const char32_t cp : unicode::normalize(out, unicode::Form::NFD))
      if (!unicode::is_nonspacing_mark(cp)) stripped.push_back(cp);
    out = std::move(stripped);
  }
  if (options_.lowercase) out = unicode::to_lower(out);
  return out;
}

void WordPieceTokenizer::word_pieces(const std::u32string& word, std::vector<std::string>& out) const {
  if (word.size() > options_.max_input_chars_per_word) {
    out.push_back(options_.unk_token);
    return;
  }
  // Byte offsets of each character, so candidates are substrings of one UTF-8 string.
  std::string bytes;
  std::vector<std::size_t> offset;
  offset.reserve(word.size() + 1);
  for (const char32_t cp : word) {
    offset.push_back(bytes.size());
    append_utf8(bytes, cp);
  }
  offset.push_back(bytes.size());
  const std::size_t first_piece = out.size();
  std::size_t start = 0;
  while (start < word.size()) {
    // Greedy longest match first; a word with any unmatched remainder becomes a single [UNK].
    std::size_t end = word.size();
    std::string match;
    bool found = false;
    for (; end > start; --end) {
      std::string candidate = start > 0 ? options_.continuing_prefix : std::string();
      candidate.append(bytes, offset[start], offset[end] - offset[start]);
      if (token_to_id_.count(candidate) != 0) {
        match = std::move(candidate);
        found = true;
        break;
      }
    }
    if (!found) {
      out.resize(first_piece);
      out.push_back(options_.unk_token);
      return;
    }
    out.push_back(std::move(match));
    start = end;
  }
}

std::vector<std::string> WordPieceTokenizer::pieces_of(const std::u32string& raw, std::size_t limit) const {
  const std::u32string text = normalize(raw);
  std::vector<std::string> pieces;
  std::u32string word;
  const auto flush = [&] {
    if (!word.empty()) word_pieces(word, pieces);
    word.clear();
  };
  for (const char32_t cp : text) {
    if (pieces.size() >= limit) break;
    if (unicode::is_white_space(cp)) {
      flush();
    } else if (is_bert_punctuation(cp)) {
      flush();
      word.push_back(cp);
      flush();
    } else {
      word.push_back(cp);
    }
  }
  flush();
  return pieces;
}

std::vector<std::string> WordPieceTokenizer::tokenize(const std::string& utf8) const {
  return pieces_of(decode_utf8_lossy(utf8), std::numeric_limits<std::size_t>::max());
}

std::vector<std::string> WordPieceTokenizer::leading_pieces(const std::string& utf8, std::size_t limit) const {
  // A long synopsis needs only its first `limit` pieces, so only a prefix is normalised and split, grown until it
  // yields enough. A prefix cut just before an ASCII space gives exactly the pieces the whole text starts
  // with: every normalisation step (cleaning, NFD, accent stripping, lower-casing with its final-sigma rule) is
  // decided within a word, and a space ends words.
  const std::u32string raw = decode_utf8_lossy(utf8);
  for (std::size_t want = 8 * limit + 64;; want *= 2) {
    std::size_t cut = raw.size();
    if (want < raw.size()) {
      cut = raw.rfind(U' ', want);
      if (cut == std::u32string::npos || cut == 0) cut = raw.size();
    }
    auto pieces = pieces_of(cut == raw.size() ? raw : raw.substr(0, cut), limit);
    if (pieces.size() >= limit || cut == raw.size()) {
      if (pieces.size() > limit) pieces.resize(limit);
      return pieces;
    }
  }
}

std::vector<std::int64_t> WordPieceTokenizer::encode(const std::string& utf8, std::size_t max_length) const {
  if (max_length == 1) fail(ErrorKind::InvalidArgument, "WordPiece max_length {} leaves no room for [CLS] and [SEP]", max_length);
  const std::vector<std::string> pieces =
      max_length > 0 ? leading_pieces(utf8, max_length - 2) : tokenize(utf8);
  const std::size_t kept = pieces.size();
  std::vector<std::int64_t> ids;
  ids.reserve(kept + 2);
  ids.push_back(cls_id_);
  for (std::size_t i = 0; i < kept; ++i) ids.push_back(token_to_id_.at(pieces[i]));
  ids.push_back(sep_id_);
  return ids;
}

}  // namespace clipmatch::text
