// libFuzzer target: CLIP's byte-level BPE tokenizer (src/text/clip_bpe.cpp, with text/html_unescape.cpp,
// text/unicode.cpp (ICU) and text/utf8.cpp underneath), fuzzing the text with a small vocabulary built here.
//
// The vocabulary is laid out as from_merges_file builds CLIP's: the 256 byte symbols (GPT-2's byte →
// printable-character table), the same with "</w>", one token per merge, then <|startoftext|> and
// <|endoftext|>. The ~300 merges spell common English words and a few UTF-8 byte pairs letter by letter,
// so that real merging happens. One tokenizer lives for the whole run, as in the library's own use (its
// word cache is deterministic: a cached word gives what merging it again would).
//
// Checked: encode(text, 0) = start + ids of tokenize(text) + end; encode(text, 77) is that sequence cut to
// 77 with <|endoftext|> last; encode(text, 2) is [start, end]; decode() accepts every id encode returns.
#include "text/clip_bpe.hpp"

#include "fuzz_common.hpp"
#include "text/utf8.hpp"

#include <algorithm>
#include <array>

namespace {

using clipmatch::text::ClipBpeTokenizer;

// GPT-2 / CLIP bytes_to_unicode(): printable bytes map to themselves, the others to 256, 257, ...
std::array<std::string, 256> byte_symbols() {
  std::array<std::string, 256> out;
  std::array<bool, 256> direct{};
  for (int b = 0; b < 256; ++b) direct[b] = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const char32_t cp = direct[b] ? static_cast<char32_t>(b) : next++;
    out[b] = clipmatch::text::encode_utf8(std::u32string(1, cp));
  }
  return out;
}

ClipBpeTokenizer make_tokenizer() {
  const auto symbols = byte_symbols();
  std::vector<std::string> tokens;
  // from_merges_file order: printable bytes first, then the rest (ids differ from byte values; fine here).
  for (int b = 0; b < 256; ++b) tokens.push_back(symbols[b]);
  for (int b = 0; b < 256; ++b) tokens.push_back(symbols[b] + "</w>");

  std::vector<std::pair<std::string, std::string>> merges;
  const auto add_merge = [&](const std::string& left, const std::string& right) {
    merges.emplace_back(left, right);
    tokens.push_back(left + right);
  };
  // Each word is merged left to right: "m o", "mo v", "mov i", "movi e</w>".
  const char* words[] = {"the",  "and",   "of",   "to",    "in",     "is",    "his",   "her",   "a",     "movie",
                         "film", "story", "love", "world", "young",  "man",   "woman", "war",   "life",  "must",
                         "find", "after", "when", "with",  "family", "new",   "york",  "toy",   "space", "star",
                         "dark", "night", "home", "back",  "time",   "city",  "james", "bond",  "'s",    "'t",
                         "'re",  "'ve",   "'m",   "'ll",   "'d",     "ing",   "er",    "ed",    "es",    "un",
                         "1995", "2001",  "!!",   "...",   "--",     "&amp;", "<|",    "|>",    "ok",    "café"};
  for (const char* word : words) {
    std::string bytes;
    for (const unsigned char c : std::string(word)) bytes += symbols[c];
    // Split the byte-encoded word back into symbols (each symbol is one code point).
    const std::u32string cps = clipmatch::text::decode_utf8_lossy(bytes);
    std::vector<std::string> pieces;
    for (const char32_t cp : cps) pieces.push_back(clipmatch::text::encode_utf8(std::u32string(1, cp)));
    if (pieces.size() < 2) continue;
    pieces.back() += "</w>";
    std::string acc = pieces[0];
    for (std::size_t i = 1; i < pieces.size(); ++i) {
      add_merge(acc, pieces[i]);
      acc += pieces[i];
    }
  }
  // Frequent pairs as mid-word merges too, and UTF-8 lead/continuation pairs (é, ü, 日...).
  const char* pairs[][2] = {{"t", "h"}, {"i", "n"}, {"e", "r"}, {"o", "n"}, {"a", "n"}, {"r", "e"},
                            {"e", "s"}, {"o", "r"}, {"t", "e"}, {"a", "t"}, {"s", "t"}, {"e", "n"}};
  for (const auto& pair : pairs) add_merge(pair[0], pair[1]);
  for (const unsigned char lead : {0xC3u, 0xC5u, 0xE6u, 0xE3u}) {
    for (const unsigned char cont : {0xA9u, 0xBCu, 0x97u, 0x81u, 0x80u}) add_merge(symbols[lead], symbols[cont]);
  }
  add_merge(symbols[0xC3], symbols[0xA9] + "</w>");
  add_merge("t", "h");  // a duplicate merge keeps its earlier (better) rank
  tokens.emplace_back("<|startoftext|>");
  tokens.emplace_back("<|endoftext|>");

  std::unordered_map<std::string, std::int64_t> vocab;
  // Dense ids, as every real vocab.json has (a token listed twice keeps its first id).
  for (const auto& token : tokens) {
    const auto id = static_cast<std::int64_t>(vocab.size());
    vocab.emplace(token, id);
  }
  return ClipBpeTokenizer(std::move(vocab), merges, "fuzz vocabulary");
}

const ClipBpeTokenizer& tokenizer() {
  static const ClipBpeTokenizer tok = [] {
    try {
      return make_tokenizer();
    } catch (const clipmatch::Error& e) {
      fuzz::finding("harness setup: the fuzz vocabulary was rejected", e.what());
    }
  }();
  return tok;
}

void check(const ClipBpeTokenizer& tok, const std::string& text) {
  const std::vector<std::string> pieces = tok.tokenize(text);
  std::vector<std::int64_t> expected{tok.start_id()};
  for (const std::string& piece : pieces) {
    const auto id = tok.token_to_id(piece);
    FUZZ_CHECK(id.has_value(), "tokenize produced a piece outside the vocabulary");
    expected.push_back(*id);
  }
  expected.push_back(tok.end_id());
  const std::vector<std::int64_t> full = tok.encode(text, 0);
  FUZZ_CHECK(full == expected, "encode(text, 0) differs from start + tokenize(text) + end");

  const std::size_t n = ClipBpeTokenizer::kContextLength;
  const std::vector<std::int64_t> cut = tok.encode(text, n);
  if (full.size() <= n) {
    FUZZ_CHECK(cut == full, "encode(text, 77) changed a short sequence");
  } else {
    FUZZ_CHECK(cut.size() == n && cut.back() == tok.end_id() && std::equal(cut.begin(), cut.end() - 1, full.begin()),
               "encode(text, 77) is not the cut sequence ending in <|endoftext|>");
  }
  const std::vector<std::int64_t> two = tok.encode(text, 2);
  FUZZ_CHECK(two.size() == 2 || full.size() < 2, "encode(text, 2) does not have two ids");
  FUZZ_CHECK(two.front() == tok.start_id() && two.back() == tok.end_id(), "encode(text, 2) lost the special tokens");

  const std::string decoded = tok.decode(full);
  FUZZ_CHECK(clipmatch::text::sanitize_utf8(decoded) == decoded, "decode() returned invalid UTF-8");
  (void)ClipBpeTokenizer::clean(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ClipBpeTokenizer& tok = tokenizer();
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::guarded("ClipBpeTokenizer", [&] { check(tok, text); });
  return 0;
}
