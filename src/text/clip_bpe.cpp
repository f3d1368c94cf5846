#include "text/clip_bpe.hpp"

#include "core/fail.hpp"
#include "text/html_unescape.hpp"
#include "text/unicode.hpp"
#include "text/utf8.hpp"

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <fstream>
#include <limits>
#include <sstream>

namespace clipmatch::text {

namespace {

constexpr const char* kStartToken = "<|startoftext|>";
constexpr const char* kEndToken = "<|endoftext|>";
constexpr const char* kWordEnd = "</w>";
// The reference keeps merges[1 : 49152 - 256 - 2 + 1] of the file.
constexpr std::size_t kClipMerges = 49152 - 256 - 2;
// The word cache is bounded so that a long-running process over an open vocabulary cannot grow without end.
constexpr std::size_t kMaxCachedWords = 1 << 18;

// GPT-2's byte → printable character table: the bytes in `printable` map to themselves, the rest to 256+n.
std::array<char32_t, 256> byte_symbols(std::vector<unsigned char>* order) {
  std::array<char32_t, 256> table{};
  std::array<bool, 256> assigned{};
  for (int b = 0; b < 256; ++b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
      table[static_cast<std::size_t>(b)] = static_cast<char32_t>(b);
      assigned[static_cast<std::size_t>(b)] = true;
      if (order) order->push_back(static_cast<unsigned char>(b));
    }
  }
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    if (assigned[static_cast<std::size_t>(b)]) continue;
    table[static_cast<std::size_t>(b)] = next++;
    if (order) order->push_back(static_cast<unsigned char>(b));
  }
  return table;
}

std::string read_maybe_gzip(const std::string& path) {
  // gzread reads plain files transparently, so one path serves both forms.
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) fail(ErrorKind::Io, "{}: cannot open CLIP BPE merges", path);
  std::string content;
  char buffer[1 << 16];
  int got = 0;
  while ((got = gzread(file, buffer, sizeof(buffer))) > 0) content.append(buffer, static_cast<std::size_t>(got));
  int errnum = 0;
  const char* message = gzerror(file, &errnum);
  const std::string error_text = message ? message : "";
  gzclose(file);
  if (got < 0 || (errnum != Z_OK && errnum != Z_STREAM_END))
    fail(ErrorKind::Format, "{}: corrupt gzip data ({})", path, error_text);
  return content;
}

std::vector<std::string> split_lines(const std::string& content) {
  std::vector<std::string> lines;
  std::istringstream stream(content);
  std::string line;
  while (std::getline(stream, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::pair<std::string, std::string> parse_merge(const std::string& line, const std::string& path, std::size_t number) {
  const auto space = line.find(' ');
  if (space == std::string::npos || space == 0 || space + 1 >= line.size() || line.find(' ', space + 1) != std::string::npos)
    fail(ErrorKind::Format, "{}: line {}: expected two symbols separated by one space, got '{}'", path, number, line);
  return {line.substr(0, space), line.substr(space + 1)};
}

bool is_regex_space(char32_t cp) { return unicode::is_python_space(cp) || unicode::is_white_space(cp); }

// Case-insensitive match of an ASCII literal at text[pos], as the reference regex runs with IGNORECASE.
bool matches_at(const std::u32string& text, std::size_t pos, std::string_view literal) {
  if (pos + literal.size() > text.size()) return false;
  for (std::size_t k = 0; k < literal.size(); ++k) {
    const auto expected = static_cast<char32_t>(static_cast<unsigned char>(literal[k]));
    if (unicode::fold_case(text[pos + k]) != unicode::fold_case(expected)) return false;
  }
  return true;
}

// The reference pattern, alternatives tried in order at each position:
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
std::vector<std::u32string> pre_tokenize(const std::u32string& text) {
  static constexpr std::string_view kLiterals[] = {"<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re",
                                                   "'ve",             "'m",            "'ll", "'d"};
  std::vector<std::u32string> words;
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    bool matched = false;
    for (const auto literal : kLiterals) {
      if (matches_at(text, i, literal)) {
        words.push_back(text.substr(i, literal.size()));
        i += literal.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    const char32_t c = text[i];
    std::size_t end = i + 1;
    if (unicode::is_letter(c)) {
      while (end < n && unicode::is_letter(text[end])) ++end;
    } else if (unicode::is_number(c)) {
      // a single digit per token
    } else if (is_regex_space(c)) {
      ++i;
      continue;
    } else {
      while (end < n && !is_regex_space(text[end]) && !unicode::is_letter(text[end]) && !unicode::is_number(text[end]))
        ++end;
    }
    words.push_back(text.substr(i, end - i));
    i = end;
  }
  return words;
}

std::u32string strip_python_space(const std::u32string& text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && unicode::is_python_space(text[begin])) ++begin;
  while (end > begin && unicode::is_python_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

}  // namespace

ClipBpeTokenizer ClipBpeTokenizer::from_merges_file(const std::string& path) {
  const std::vector<std::string> lines = split_lines(read_maybe_gzip(path));
  if (lines.size() < kClipMerges + 1)
    fail(ErrorKind::Format, "{}: {} lines, CLIP's BPE file needs at least {} (a header and {} merges)", path,
         lines.size(), kClipMerges + 1, kClipMerges);
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(kClipMerges);
  for (std::size_t i = 1; i <= kClipMerges; ++i) merges.push_back(parse_merge(lines[i], path, i + 1));

  std::vector<unsigned char> order;
  const auto symbols = byte_symbols(&order);
  std::vector<std::string> tokens;
  tokens.reserve(2 * 256 + merges.size() + 2);
  for (const unsigned char b : order) tokens.push_back(encode_utf8(std::u32string(1, symbols[b])));
  for (std::size_t i = 0; i < 256; ++i) tokens.push_back(tokens[i] + kWordEnd);
  for (const auto& [left, right] : merges) tokens.push_back(left + right);
  tokens.emplace_back(kStartToken);
  tokens.emplace_back(kEndToken);
  std::unordered_map<std::string, std::int64_t> vocab;
  vocab.reserve(tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) vocab.emplace(tokens[i], static_cast<std::int64_t>(i));
  return ClipBpeTokenizer(std::move(vocab), merges, path);
}

ClipBpeTokenizer ClipBpeTokenizer::from_vocab_and_merges(const std::string& vocab_json_path,
                                                         const std::string& merges_path) {
  std::ifstream in(vocab_json_path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "{}: cannot open CLIP vocabulary", vocab_json_path);
  nlohmann::json json;
  try {
    in >> json;
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::Format, "{}: invalid JSON: {}", vocab_json_path, e.what());
  }
  if (!json.is_object()) fail(ErrorKind::Format, "{}: expected an object of token → id", vocab_json_path);
  std::unordered_map<std::string, std::int64_t> vocab;
  vocab.reserve(json.size());
  for (const auto& [token, id] : json.items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0)
      fail(ErrorKind::Format, "{}: token '{}': id must be a non-negative integer", vocab_json_path, token);
    vocab.emplace(token, id.get<std::int64_t>());
  }
  std::ifstream merges_in(merges_path, std::ios::binary);
  if (!merges_in) fail(ErrorKind::Io, "{}: cannot open BPE merges", merges_path);
  std::stringstream content;
  content << merges_in.rdbuf();
  const std::vector<std::string> lines = split_lines(content.str());
  std::vector<std::pair<std::string, std::string>> merges;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty() || (i == 0 && lines[i].rfind("#version", 0) == 0)) continue;
    merges.push_back(parse_merge(lines[i], merges_path, i + 1));
  }
  return ClipBpeTokenizer(std::move(vocab), merges, vocab_json_path + " + " + merges_path);
}

ClipBpeTokenizer::ClipBpeTokenizer(std::unordered_map<std::string, std::int64_t> vocab,
                                   const std::vector<std::pair<std::string, std::string>>& merges,
                                   const std::string& origin)
    : vocab_(std::move(vocab)) {
  // Ids are 0..N-1 in every real vocabulary; checking that before allocating keeps a hostile vocab.json
  // ({"x": 9e18}) from asking for exabytes.
  const auto size = static_cast<std::int64_t>(vocab_.size());
  for (const auto& [token, id] : vocab_) {
    if (id < 0 || id >= size)
      fail(ErrorKind::Format, "{}: token '{}' has id {}, outside 0..{} (ids must number the {} tokens)", origin, token,
           id, size - 1, size);
  }
  id_to_token_.resize(static_cast<std::size_t>(size));
  for (const auto& [token, id] : vocab_) id_to_token_[static_cast<std::size_t>(id)] = token;
  merge_ranks_.reserve(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    merge_ranks_.emplace(left + " " + right, rank);  // an earlier duplicate keeps its (better) rank
    if (vocab_.count(left + right) == 0)
      fail(ErrorKind::Format, "{}: merge {} ('{} {}') produces a token missing from the vocabulary", origin, rank + 1,
           left, right);
  }
  const auto symbols = byte_symbols(nullptr);
  for (int b = 0; b < 256; ++b) {
    auto& symbol = byte_to_symbol_[static_cast<std::size_t>(b)];
    symbol = encode_utf8(std::u32string(1, symbols[static_cast<std::size_t>(b)]));
    symbol_to_byte_.emplace(symbol, static_cast<unsigned char>(b));
    if (vocab_.count(symbol) == 0 || vocab_.count(symbol + kWordEnd) == 0)
      fail(ErrorKind::Format, "{}: byte symbol '{}' (byte {}) is missing from the vocabulary", origin, symbol, b);
  }
  const auto special = [&](const char* token) {
    const auto it = vocab_.find(token);
    if (it == vocab_.end()) fail(ErrorKind::Format, "{}: special token {} is missing", origin, token);
    cache_[token] = {token};
    return it->second;
  };
  start_id_ = special(kStartToken);
  end_id_ = special(kEndToken);
}

ClipBpeTokenizer::ClipBpeTokenizer(ClipBpeTokenizer&& other) noexcept
    : vocab_(std::move(other.vocab_)),
      id_to_token_(std::move(other.id_to_token_)),
      merge_ranks_(std::move(other.merge_ranks_)),
      byte_to_symbol_(std::move(other.byte_to_symbol_)),
      symbol_to_byte_(std::move(other.symbol_to_byte_)),
      start_id_(other.start_id_),
      end_id_(other.end_id_) {
  const std::lock_guard<std::mutex> lock(other.cache_mutex_);
  cache_ = std::move(other.cache_);
}

std::string ClipBpeTokenizer::clean(const std::string& utf8) {
  std::u32string text = unicode::normalize(decode_utf8_lossy(utf8), unicode::Form::NFC);
  text = strip_python_space(html_unescape(html_unescape(text)));
  std::u32string collapsed;
  collapsed.reserve(text.size());
  for (const char32_t cp : text) {
    if (unicode::is_python_space(cp)) {
      if (collapsed.empty() || collapsed.back() != U' ') collapsed.push_back(U' ');
    } else {
      collapsed.push_back(cp);
    }
  }
  return encode_utf8(unicode::to_lower(strip_python_space(collapsed)));
}

std::vector<std::string> ClipBpeTokenizer::merge(const std::string& byte_encoded) const {
  // Symbols are the byte-encoded characters; the last one carries the end-of-word marker.
  std::vector<std::string> word;
  const std::u32string chars = decode_utf8_lossy(byte_encoded);
  for (const char32_t c : chars) word.push_back(encode_utf8(std::u32string(1, c)));
  if (word.empty()) return word;
  word.back() += kWordEnd;
  while (word.size() > 1) {
    // The lowest-ranked adjacent pair, then every non-overlapping occurrence of it, left to right.
    std::size_t best_rank = std::numeric_limits<std::size_t>::max();
    std::size_t best_at = 0;
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      const auto it = merge_ranks_.find(word[i] + " " + word[i + 1]);
      if (it != merge_ranks_.end() && it->second < best_rank) {
        best_rank = it->second;
        best_at = i;
      }
    }
    if (best_rank == std::numeric_limits<std::size_t>::max()) break;
    const std::string first = word[best_at], second = word[best_at + 1];
    std::vector<std::string> merged;
    merged.reserve(word.size());
    for (std::size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(word[i]);
        ++i;
      }
    }
    word = std::move(merged);
  }
  return word;
}

void ClipBpeTokenizer::bpe_word(const std::string& word, std::vector<std::int64_t>& ids,
                                std::vector<std::string>* pieces) const {
  std::string byte_encoded;
  for (const char byte : word) byte_encoded += byte_to_symbol_[static_cast<unsigned char>(byte)];
  std::vector<std::string> merged;
  {
    const std::lock_guard<std::mutex> lock(cache_mutex_);
    const auto it = cache_.find(byte_encoded);
    if (it != cache_.end()) merged = it->second;
  }
  if (merged.empty()) {
    merged = merge(byte_encoded);
    const std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kMaxCachedWords) cache_.clear();
    cache_.emplace(byte_encoded, merged);
  }
  for (auto& piece : merged) {
    const auto it = vocab_.find(piece);
    if (it == vocab_.end()) fail(ErrorKind::Internal, "CLIP BPE produced '{}', which is not in the vocabulary", piece);
    ids.push_back(it->second);
    if (pieces) pieces->push_back(std::move(piece));
  }
}

std::vector<std::string> ClipBpeTokenizer::tokenize(const std::string& utf8) const {
  std::vector<std::int64_t> ids;
  std::vector<std::string> pieces;
  for (const auto& word : pre_tokenize(decode_utf8_lossy(clean(utf8)))) bpe_word(encode_utf8(word), ids, &pieces);
  return pieces;
}

std::vector<std::int64_t> ClipBpeTokenizer::encode(const std::string& utf8, std::size_t max_length) const {
  std::vector<std::int64_t> ids{start_id_};
  for (const auto& word : pre_tokenize(decode_utf8_lossy(clean(utf8)))) bpe_word(encode_utf8(word), ids, nullptr);
  ids.push_back(end_id_);
  if (max_length > 0 && ids.size() > max_length) {
    if (max_length < 2)
      fail(ErrorKind::InvalidArgument, "CLIP max_length {} leaves no room for the start and end tokens", max_length);
    ids.resize(max_length);
    ids.back() = end_id_;
  }
  return ids;
}

std::optional<std::int64_t> ClipBpeTokenizer::token_to_id(const std::string& token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

std::string ClipBpeTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::string joined;
  for (const auto id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size())
      fail(ErrorKind::InvalidArgument, "token id {} is outside the CLIP vocabulary of {}", id, id_to_token_.size());
    joined += id_to_token_[static_cast<std::size_t>(id)];
  }
  std::string bytes;
  for (const char32_t c : decode_utf8_lossy(joined)) {
    const std::string symbol = encode_utf8(std::u32string(1, c));
    const auto it = symbol_to_byte_.find(symbol);
    if (it != symbol_to_byte_.end()) bytes.push_back(static_cast<char>(it->second));
    else bytes += symbol;
  }
  std::string text = sanitize_utf8(bytes);
  std::string out;
  for (std::size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, 4, kWordEnd) == 0) {
      out.push_back(' ');
      pos += 4;
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

}  // namespace clipmatch::text
