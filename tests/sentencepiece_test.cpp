#include "text/sentencepiece_tokenizer.hpp"

#include "test_support.hpp"

#include <clipmatch/error.hpp>

#include <fstream>

using clipmatch::text::SentencePieceModelType;
using clipmatch::text::SentencePieceTokenizer;

namespace {

std::vector<std::string> corpus() {
  // Real movie synopses would do as well; these keep the test self-contained and fast.
  const std::vector<std::string> lines{
      "A woman with a body writing fetish seeks to find a combined lover and calligrapher.",
      "A private detective investigates a case of adultery that leads him into a web of murder.",
      "Two lovers meet on a night train across Europe and talk until dawn.",
      "An aging patriarch of an organized crime dynasty transfers control to his reluctant son.",
      "A young farm boy joins a rebellion against an evil empire in a galaxy far away.",
      "Café owners in Paris fight over a recipe for the perfect crème brûlée.",
  };
  std::vector<std::string> texts;
  for (int i = 0; i < 20; ++i) texts.insert(texts.end(), lines.begin(), lines.end());
  return texts;
}

}  // namespace

TEST_CASE("SentencePiece trains, encodes and decodes round trip (unigram and BPE)", "[sentencepiece]") {
  clipmatch::test::TempDir dir;
  for (const auto type : {SentencePieceModelType::Unigram, SentencePieceModelType::Bpe}) {
    const std::string path = (dir / (type == SentencePieceModelType::Bpe ? "bpe.model" : "unigram.model")).string();
    clipmatch::text::train_sentencepiece(corpus(), path, 120, type);
    REQUIRE(std::filesystem::exists(path));
    const SentencePieceTokenizer tokenizer(path);
    CHECK(tokenizer.vocab_size() <= 120);
    CHECK(tokenizer.vocab_size() > 40);
    CHECK(tokenizer.pad_id() == 0);
    CHECK(tokenizer.unk_id() == 1);
    CHECK(tokenizer.bos_id() == 2);
    CHECK(tokenizer.eos_id() == 3);

    const std::string sentence = "A detective meets two lovers in Paris.";
    const auto ids = tokenizer.encode(sentence, 0);
    REQUIRE(ids.size() > 4);
    CHECK(ids.front() == 2);
    CHECK(ids.back() == 3);
    CHECK(tokenizer.decode(ids) == sentence);
    CHECK(tokenizer.decode(tokenizer.encode("Crème brûlée in a café.", 0)) == "Crème brûlée in a café.");
    // A character absent from the corpus is <unk>, which decodes to " ⁇ ".
    CHECK(tokenizer.encode_pieces("~").back() == tokenizer.unk_id());

    const auto cut = tokenizer.encode(sentence, 5);
    CHECK(cut.size() == 5);
    CHECK(cut.back() == 3);
    CHECK(std::equal(cut.begin(), cut.end() - 1, ids.begin()));
    CHECK(tokenizer.encode("", 0) == std::vector<std::int64_t>{2, 3});

    const auto batch = tokenizer.encode_batch({sentence, ""}, 0, false);
    CHECK(batch.ids.size(1) == static_cast<std::int64_t>(ids.size()));
    CHECK(batch.attention_mask[1].sum().item<std::int64_t>() == 2);
    CHECK(batch.ids[1][2].item<std::int64_t>() == 0);
  }
}

TEST_CASE("SentencePiece survives invalid UTF-8 and reports bad models and inputs", "[sentencepiece]") {
  clipmatch::test::TempDir dir;
  const std::string path = (dir / "m.model").string();
  clipmatch::text::train_sentencepiece(corpus(), path, 100);
  const SentencePieceTokenizer tokenizer(path);
  const auto ids = tokenizer.encode("bad \xFF\xC3 bytes", 0);
  CHECK(ids.size() > 2);
  CHECK_THROWS_AS(tokenizer.decode({999999}), clipmatch::Error);

  {
    std::ofstream(dir / "junk.model") << "not a protobuf";
  }
  CHECK_THROWS_WITH(SentencePieceTokenizer((dir / "junk.model").string()), Catch::Contains("junk.model"));
  CHECK_THROWS_AS(SentencePieceTokenizer::from_bytes("\x01\x02garbage"), clipmatch::Error);
  CHECK_THROWS_AS(clipmatch::text::train_sentencepiece({"", "  "}, (dir / "empty.model").string(), 100),
                  clipmatch::Error);
  CHECK_FALSE(std::filesystem::exists(dir / "empty.model"));
}
