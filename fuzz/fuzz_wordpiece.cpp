// libFuzzer target: the WordPiece tokenizer (src/text/wordpiece.cpp, with text/unicode.cpp (ICU) and
// text/utf8.cpp underneath), fuzzing the text with two small vocabularies built here.
//
// The vocabulary (~400 tokens) has BERT's special tokens, single characters (ASCII, accented Latin, Greek,
// Cyrillic, CJK, kana), their "##" continuations, common words and suffixes. Two tokenizers: BERT-uncased
// defaults (lowercase + strip accents), and a cased one without text cleaning and with a short word limit.
// The last input byte picks the tokenizer; the text is the whole input.
//
// Checked: encode(text, 0) = [CLS] + ids of tokenize(text) + [SEP]; encode(text, n) for n in {2, 3, 16} has at
// most n ids, starts with [CLS], ends with [SEP], and is that same sequence cut; every id is in the vocabulary.
#include "text/wordpiece.hpp"

#include "fuzz_common.hpp"

#include <algorithm>

namespace {

using clipmatch::text::WordPieceOptions;
using clipmatch::text::WordPieceTokenizer;

std::vector<std::string> make_vocab() {
  std::vector<std::string> vocab{"[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  const char* singles[] = {
      "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v",
      "w", "x", "y", "z", "A", "B", "C", "T", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "!", "\"", "#", "$",
      "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/", ":", ";", "<", "=", ">", "?", "@", "[", "\\", "]", "^",
      "_", "`", "{", "|", "}", "~", "é", "è", "ü", "ß", "ñ", "ç", "å", "ø", "œ", "æ", "α", "β", "γ", "δ", "π", "ω",
      "а", "б", "в", "г", "д", "е", "ж", "и", "к", "л", "м", "н", "о", "п", "р", "с", "т", "日", "本", "映", "画",
      "中", "国", "人", "大", "の", "は", "に", "を", "ア", "イ", "ン", "ー", "한", "국", "¡", "¿", "«", "»", "—", "–",
      "…", "€", "£", "°", "©", "’", "“", "”", "·", "ı", "İ", "ǰ", "ﬁ", "ﬀ", "ǅ"};
  for (const char* s : singles) vocab.emplace_back(s);
  for (const char* s : singles) vocab.push_back(std::string("##") + s);
  const char* words[] = {"the",    "a",       "an",     "and",    "of",      "to",     "in",      "is",      "his",
                         "her",    "their",   "movie",  "film",   "story",   "young",  "man",     "woman",   "world",
                         "war",    "love",    "life",   "family", "friends", "new",    "york",    "paris",   "city",
                         "must",   "find",    "after",  "when",   "with",    "from",   "who",     "on",      "by",
                         "un",     "re",      "over",   "star",   "space",   "toy",    "story",   "james",   "bond",
                         "café",   "cafe",    "naïve",  "über",   "straße",  "東京",   "ok",      "don",     "won",
                         "can",    "time",    "back",   "home",   "house",   "night",  "day",     "dark",    "light"};
  for (const char* s : words) vocab.emplace_back(s);
  const char* suffixes[] = {"##s",   "##es",   "##ed",  "##ing", "##er",  "##ers",  "##est",  "##ly",  "##tion",
                            "##ness", "##able", "##ful", "##less", "##ment", "##ous", "##ist", "##ism", "##ity",
                            "##'s",  "##n't", "##ie",  "##ies", "##y",   "##ish",  "##en",  "##ize", "##al"};
  for (const char* s : suffixes) vocab.emplace_back(s);
  vocab.emplace_back("duplicate");
  vocab.emplace_back("duplicate");  // a repeated token keeps its last id
  vocab.emplace_back("");           // an empty line in vocab.txt is a token too
  vocab.emplace_back(" lead");      // tokens may start with a space (vocab.txt trims only the end)
  return vocab;
}

const WordPieceTokenizer& tokenizer(int which) {
  static const std::vector<std::string> vocab = make_vocab();
  static const WordPieceTokenizer uncased(vocab, WordPieceOptions{}, "fuzz vocabulary (uncased)");
  static const WordPieceTokenizer cased = [] {
    WordPieceOptions options;
    options.lowercase = false;
    options.strip_accents = false;
    options.clean_text = false;
    options.handle_chinese_chars = false;
    options.max_input_chars_per_word = 8;
    return WordPieceTokenizer(vocab, options, "fuzz vocabulary (cased)");
  }();
  return which == 0 ? uncased : cased;
}

void check(const WordPieceTokenizer& tok, const std::string& text) {
  const std::vector<std::string> pieces = tok.tokenize(text);
  std::vector<std::int64_t> expected{tok.cls_id()};
  for (const std::string& piece : pieces) {
    const auto id = tok.token_to_id(piece);
    FUZZ_CHECK(id.has_value(), "tokenize produced a piece outside the vocabulary: '" + piece + "'");
    expected.push_back(*id);
  }
  expected.push_back(tok.sep_id());
  const std::vector<std::int64_t> full = tok.encode(text, 0);
  FUZZ_CHECK(full == expected, "encode(text, 0) differs from [CLS] + tokenize(text) + [SEP]");
  for (const std::size_t max_length : {std::size_t{2}, std::size_t{3}, std::size_t{16}}) {
    const std::vector<std::int64_t> cut = tok.encode(text, max_length);
    FUZZ_CHECK(cut.size() <= max_length && cut.size() >= 2 && cut.size() <= full.size(),
               "encode(text, n) has a bad length");
    FUZZ_CHECK(cut.front() == tok.cls_id() && cut.back() == tok.sep_id(), "encode(text, n) lost [CLS] or [SEP]");
    FUZZ_CHECK(std::equal(cut.begin(), cut.end() - 1, full.begin()), "encode(text, n) is not a cut of encode(text, 0)");
  }
  for (const std::int64_t id : full) {
    FUZZ_CHECK(id >= 0 && static_cast<std::size_t>(id) < tok.vocab_size(), "id outside the vocabulary");
    (void)tok.id_to_token(id);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const int which = size > 0 ? data[size - 1] & 1 : 0;
  fuzz::guarded("WordPiece", [&] { check(tokenizer(which), text); });
  return 0;
}
