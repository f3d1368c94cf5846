#include "text/wordpiece.hpp"

#include "test_support.hpp"
#include "tokenizer_golden.hpp"

#include <clipmatch/error.hpp>

#include <random>

using clipmatch::text::WordPieceOptions;
using clipmatch::text::WordPieceTokenizer;

namespace {

std::optional<WordPieceTokenizer> bert_uncased() {
  const auto vocab = clipmatch::test::shared_path("vocab/bert-base-uncased-vocab.txt");
  if (!vocab) return std::nullopt;
  return WordPieceTokenizer::from_vocab_file(vocab->string());
}

// A small hand-made vocabulary for the cased / edge-case tests.
WordPieceTokenizer tiny(bool lowercase) {
  const std::vector<std::string> vocab{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "Paris", "paris", "caf", "##é", "##e",
                                       "cafe", "un",    "##able", ",",     "!",     "$",     "5"};
  WordPieceOptions options;
  options.lowercase = lowercase;
  return WordPieceTokenizer(vocab, options, "tiny vocab");
}

}  // namespace

TEST_CASE("WordPiece matches Hugging Face BertWordPieceTokenizer on the golden texts", "[wordpiece][golden]") {
  const auto golden = clipmatch::test::load_tokenizer_golden();
  CLIPMATCH_REQUIRE_SHARED(golden, "tokenizer golden");
  const auto tokenizer = bert_uncased();
  CLIPMATCH_REQUIRE_SHARED(tokenizer, "bert-base-uncased vocab");
  REQUIRE(tokenizer->vocab_size() == 30522);
  REQUIRE(tokenizer->pad_id() == 0);
  const auto expected = golden->ids("bert_uncased");
  const auto expected_128 = golden->ids("bert_uncased_max128");
  REQUIRE(expected.size() == golden->texts.size());
  for (std::size_t i = 0; i < golden->texts.size(); ++i) {
    INFO("text " << i << ": " << golden->texts[i]);
    CHECK(tokenizer->encode(golden->texts[i], 0) == expected[i]);
    CHECK(tokenizer->encode(golden->texts[i], 128) == expected_128[i]);
  }
}

TEST_CASE("WordPiece truncation keeps [SEP] and batches pad with a mask", "[wordpiece]") {
  const auto tokenizer = bert_uncased();
  CLIPMATCH_REQUIRE_SHARED(tokenizer, "bert-base-uncased vocab");
  const std::string long_text = "the quick brown fox jumps over the lazy dog again and again";
  const auto full = tokenizer->encode(long_text, 0);
  REQUIRE(full.size() == 14);
  const auto cut = tokenizer->encode(long_text, 6);
  REQUIRE(cut == std::vector<std::int64_t>{101, full[1], full[2], full[3], full[4], 102});
  CHECK(tokenizer->encode(long_text, 2) == std::vector<std::int64_t>{101, 102});
  CHECK_THROWS_AS(tokenizer->encode(long_text, 1), clipmatch::Error);

  const auto batch = tokenizer->encode_batch({long_text, "hello", ""}, 8, false);
  REQUIRE(batch.ids.sizes() == torch::IntArrayRef({3, 8}));
  CHECK(clipmatch::test::values(batch.attention_mask.sum(1)) == std::vector<std::int64_t>{8, 3, 2});
  CHECK(batch.ids[0][7].item<std::int64_t>() == 102);
  CHECK(clipmatch::test::values(batch.ids[1]) == std::vector<std::int64_t>{101, 7592, 102, 0, 0, 0, 0, 0});
  CHECK(clipmatch::test::values(batch.attention_mask[2]) == std::vector<std::int64_t>{1, 1, 0, 0, 0, 0, 0, 0});

  const auto shortest = tokenizer->encode_batch({"hello", "hi"}, 16, false);
  CHECK(shortest.ids.size(1) == 3);
  const auto fixed = tokenizer->encode_batch({"hello", "hi"}, 16, true);
  CHECK(fixed.ids.size(1) == 16);
  CHECK(fixed.attention_mask.sum().item<std::int64_t>() == 6);
}

TEST_CASE("WordPiece truncation of long texts equals tokenising all of it and cutting", "[wordpiece]") {
  // encode(text, max) reads only a growing prefix of a long text; the ids must be those of the whole text cut.
  // The texts put a cut point next to what normalisation decides by context: combining accents, a word-final
  // capital sigma, CJK ideographs, control characters, punctuation runs and words longer than 100 characters.
  const auto tokenizer = bert_uncased();
  CLIPMATCH_REQUIRE_SHARED(tokenizer, "bert-base-uncased vocab");
  const std::vector<std::string> parts{
      "Caf\u00e9 ", "cafe\xcc\x81 ", "\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3\xce\x95\xce\xa5\xce\xa3 ",
      "\xe4\xb8\x9c\xe4\xba\xac ", "tab\there\r\nnext ", "!?...-- ", std::string(120, 'x') + " ",
      "Star Wars: Episode IV \xe2\x80\x94 a long time ago, ", "don't stop-believing ", "\x01\x7f ", "  ", "a "};
  std::mt19937 rng(7);
  for (int round = 0; round < 40; ++round) {
    std::string text;
    const std::size_t pieces = 20 + rng() % 600;
    for (std::size_t i = 0; i < pieces; ++i) text += parts[rng() % parts.size()];
    const auto all = tokenizer->encode(text, 0);
    for (const std::size_t max : {2u, 3u, 17u, 128u, 512u}) {
      std::vector<std::int64_t> expected(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size() - 1, max - 1)));
      expected.push_back(all.back());
      INFO("round " << round << ", max " << max << ", " << text.size() << " bytes");
      CHECK(tokenizer->encode(text, max) == expected);
    }
  }
}

TEST_CASE("WordPiece survives invalid UTF-8 and empty input", "[wordpiece]") {
  const auto tokenizer = bert_uncased();
  CLIPMATCH_REQUIRE_SHARED(tokenizer, "bert-base-uncased vocab");
  CHECK(tokenizer->encode("", 0) == std::vector<std::int64_t>{101, 102});
  // Stray continuation, truncated sequence, overlong NUL, surrogate, byte 0xFF: each becomes U+FFFD, which
  // BERT's text cleaning removes, so the words around them are intact.
  const std::string bad = "hello\x80world \xE2\x82 \xC0\x80\xED\xA0\x80\xFF dog";
  CHECK(tokenizer->tokenize(bad) == std::vector<std::string>{"hello", "##world", "dog"});
  CHECK(tokenizer->encode(std::string("a\0b", 3), 0) == tokenizer->encode("ab", 0));
}

TEST_CASE("WordPiece cased keeps case and accents, uncased folds them", "[wordpiece]") {
  const auto cased = tiny(false);
  CHECK(cased.tokenize("Paris, café!") == std::vector<std::string>{"Paris", ",", "caf", "##é", "!"});
  CHECK(cased.tokenize("paris unable $5") == std::vector<std::string>{"paris", "un", "##able", "$", "5"});
  CHECK(cased.tokenize("PARIS") == std::vector<std::string>{"[UNK]"});
  const auto uncased = tiny(true);
  CHECK(uncased.tokenize("PARIS, CAFÉ!") == std::vector<std::string>{"paris", ",", "cafe", "!"});
  // A word with an unmatchable tail is one [UNK], not a partial match.
  CHECK(uncased.tokenize("cafex") == std::vector<std::string>{"[UNK]"});
  CHECK(uncased.encode("cafe", 0) == std::vector<std::int64_t>{2, 9, 3});
}

TEST_CASE("WordPiece maps a word over 100 characters to [UNK] and rejects a vocab without specials",
          "[wordpiece]") {
  const auto tokenizer = tiny(true);
  CHECK(tokenizer.tokenize("caf" + std::string(97, 'e')).size() == 97);  // 100 characters: cafe + 96 × ##e
  CHECK(tokenizer.tokenize("caf" + std::string(98, 'e')) == std::vector<std::string>{"[UNK]"});
  CHECK_THROWS_AS(WordPieceTokenizer({"[PAD]", "[UNK]", "[CLS]"}, WordPieceOptions{}, "no sep"), clipmatch::Error);
  CHECK_THROWS_WITH(WordPieceTokenizer::from_vocab_file("/nonexistent/vocab.txt"), Catch::Contains("/nonexistent/vocab.txt"));
}
