#include "text/clip_bpe.hpp"
#include "text/wordpiece.hpp"

#include "test_support.hpp"
#include "tokenizer_golden.hpp"

#include <clipmatch/error.hpp>

#include <chrono>

using clipmatch::text::ClipBpeTokenizer;

namespace {

std::optional<ClipBpeTokenizer> clip_from_gz() {
  const auto merges = clipmatch::test::shared_path("vocab/clip-bpe_simple_vocab_16e6.txt.gz");
  if (!merges) return std::nullopt;
  return ClipBpeTokenizer::from_merges_file(merges->string());
}

}  // namespace

TEST_CASE("CLIP BPE matches the reference tokenizer on the golden texts (both vocab layouts)", "[clip_bpe][golden]") {
  const auto golden = clipmatch::test::load_tokenizer_golden();
  CLIPMATCH_REQUIRE_SHARED(golden, "tokenizer golden");
  const auto vocab_json = clipmatch::test::shared_path("vocab/clip-vocab.json");
  const auto merges_txt = clipmatch::test::shared_path("vocab/clip-merges.txt");
  CLIPMATCH_REQUIRE_SHARED(vocab_json && merges_txt ? vocab_json : std::nullopt, "CLIP vocab.json + merges.txt");
  auto from_gz = clip_from_gz();
  CLIPMATCH_REQUIRE_SHARED(from_gz, "CLIP bpe_simple_vocab_16e6.txt.gz");
  const auto from_hf = ClipBpeTokenizer::from_vocab_and_merges(vocab_json->string(), merges_txt->string());
  const auto expected = golden->ids("clip");
  REQUIRE(expected.size() == golden->texts.size());
  for (const ClipBpeTokenizer* tokenizer : std::vector<const ClipBpeTokenizer*>{&*from_gz, &from_hf}) {
    REQUIRE(tokenizer->vocab_size() == 49408);
    REQUIRE(tokenizer->start_id() == 49406);
    REQUIRE(tokenizer->end_id() == 49407);
    for (std::size_t i = 0; i < golden->texts.size(); ++i) {
      INFO("text " << i << ": " << golden->texts[i]);
      CHECK(tokenizer->encode(golden->texts[i], 0) == expected[i]);
      CHECK(tokenizer->encode(golden->texts[i], 0) == expected[i]);  // again, now from the word cache
    }
  }
}

TEST_CASE("CLIP BPE cleaning: html entities, whitespace, case, special tokens", "[clip_bpe]") {
  CHECK(ClipBpeTokenizer::clean("  A &amp;amp; B\t\n&lt;3 &#233;t&eacute; &copy2026 &#x1F3AC; &#150;  ") ==
        "a & b <3 été ©2026 🎬 –");
  CHECK(ClipBpeTokenizer::clean("&notit; &#0; &bogus; &") == "¬it; \xEF\xBF\xBD &bogus; &");
  CHECK(ClipBpeTokenizer::clean("") == "");
  const auto tokenizer = clip_from_gz();
  CLIPMATCH_REQUIRE_SHARED(tokenizer, "CLIP bpe_simple_vocab_16e6.txt.gz");
  CHECK(tokenizer->encode("", 0) == std::vector<std::int64_t>{49406, 49407});
  CHECK(tokenizer->encode("hello <|endoftext|> world", 0) ==
        std::vector<std::int64_t>{49406, *tokenizer->token_to_id("hello</w>"), 49407,
                                  *tokenizer->token_to_id("world</w>"), 49407});
  CHECK(tokenizer->encode("It'S", 0) == tokenizer->encode("it's", 0));
  CHECK(tokenizer->tokenize("don't stop") == std::vector<std::string>{"don</w>", "'t</w>", "stop</w>"});
  CHECK(tokenizer->decode(tokenizer->encode("A caf\xC3\xA9 in Paris, 1999!", 0)) ==
        "<|startoftext|>a café in paris , 1 9 9 9 ! <|endoftext|>");
}

TEST_CASE("CLIP BPE truncation keeps <|endoftext|>, batches pad with 0 and a mask", "[clip_bpe]") {
  const auto tokenizer = clip_from_gz();
  CLIPMATCH_REQUIRE_SHARED(tokenizer, "CLIP bpe_simple_vocab_16e6.txt.gz");
  std::string long_text;
  for (int i = 0; i < 60; ++i) long_text += "poster synopsis ";
  const auto full = tokenizer->encode(long_text, 0);
  REQUIRE(full.size() == 122);
  const auto cut = tokenizer->encode(long_text, ClipBpeTokenizer::kContextLength);
  REQUIRE(cut.size() == 77);
  CHECK(cut.front() == 49406);
  CHECK(cut.back() == 49407);
  CHECK(std::equal(cut.begin(), cut.end() - 1, full.begin()));

  const auto batch = tokenizer->encode_batch({long_text, "a cat"}, ClipBpeTokenizer::kContextLength, true);
  REQUIRE(batch.ids.sizes() == torch::IntArrayRef({2, 77}));
  CHECK(clipmatch::test::values(batch.attention_mask.sum(1)) == std::vector<std::int64_t>{77, 4});
  CHECK(batch.ids[1].slice(0, 4).eq(0).all().item<bool>());
  CHECK(batch.ids[1][3].item<std::int64_t>() == 49407);
}

TEST_CASE("CLIP BPE reads invalid UTF-8 as U+FFFD and rejects broken vocab files", "[clip_bpe]") {
  const auto tokenizer = clip_from_gz();
  CLIPMATCH_REQUIRE_SHARED(tokenizer, "CLIP bpe_simple_vocab_16e6.txt.gz");
  const std::string bad = "ok\xFF\xC3 fine\xED\xA0\x80";
  // A surrogate's bytes are no valid prefix, so each of the three is its own U+FFFD (as in Python).
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(tokenizer->encode(bad, 0) == tokenizer->encode("ok" + fffd + fffd + " fine" + fffd + fffd + fffd, 0));
  CHECK(tokenizer->encode(std::string("\xC3", 1), 77).size() > 2);

  clipmatch::test::TempDir dir;
  {
    std::ofstream(dir / "short.txt") << "#version: 0.2\ni n\n";
  }
  CHECK_THROWS_WITH(ClipBpeTokenizer::from_merges_file((dir / "short.txt").string()), Catch::Contains("short.txt"));
  {
    std::ofstream(dir / "vocab.json") << "{\"a\": 0, ";
  }
  CHECK_THROWS_AS(ClipBpeTokenizer::from_vocab_and_merges((dir / "vocab.json").string(), (dir / "short.txt").string()),
                  clipmatch::Error);
  CHECK_THROWS_AS(ClipBpeTokenizer::from_merges_file((dir / "missing.gz").string()), clipmatch::Error);
}

// Hidden throughput check: ./clipmatch_tests "[tokenizer_bench]"
TEST_CASE("Tokenizer throughput on the golden texts", "[.][tokenizer_bench]") {
  const auto golden = clipmatch::test::load_tokenizer_golden();
  CLIPMATCH_REQUIRE_SHARED(golden, "tokenizer golden");
  const auto clip = clip_from_gz();
  const auto bert_vocab = clipmatch::test::shared_path("vocab/bert-base-uncased-vocab.txt");
  CLIPMATCH_REQUIRE_SHARED(bert_vocab, "bert vocab");
  const auto bert = clipmatch::text::WordPieceTokenizer::from_vocab_file(bert_vocab->string());
  const auto time_it = [&](const clipmatch::text::Tokenizer& tokenizer, const char* name) {
    constexpr int kRounds = 200;
    std::size_t tokens = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int round = 0; round < kRounds; ++round)
      for (const auto& text : golden->texts) tokens += tokenizer.encode(text, 0).size();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    WARN(name << ": " << kRounds * golden->texts.size() / seconds << " texts/s, " << tokens / seconds << " tokens/s");
  };
  time_it(bert, "WordPiece");
  time_it(*clip, "CLIP BPE (warm cache)");
}
