#include "nn/conv_factory.hpp"
#include "test_support.hpp"

#include <clipmatch/error.hpp>

using namespace clipmatch;

namespace {

/// Pads the encodings of `texts` with the tokenizer's pad id, mask 0 on padding.
text::TokenBatch batch_of(const nn::WordVectorTokenizer& tokenizer, const std::vector<std::string>& texts) {
  std::vector<std::vector<std::int64_t>> rows;
  std::size_t length = 1;
  for (const auto& text : texts) {
    rows.push_back(tokenizer.encode(text, 0));
    length = std::max(length, rows.back().size());
  }
  text::TokenBatch batch;
  batch.ids = torch::full({static_cast<std::int64_t>(texts.size()), static_cast<std::int64_t>(length)},
                          tokenizer.pad_id(), torch::kInt64);
  batch.attention_mask = torch::zeros_like(batch.ids);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (std::size_t j = 0; j < rows[i].size(); ++j) {
      batch.ids[i][j] = rows[i][j];
      batch.attention_mask[i][j] = 1;
    }
  }
  return batch;
}

double cosine(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::cosine_similarity(a.unsqueeze(0), b.unsqueeze(0)).item<double>();
}

}  // namespace

TEST_CASE("Word-vector tokenizer splits like GloVe's corpus", "[word_vectors]") {
  nn::WordVectorTokenizer tokenizer({"the", "king", "do", "n't", "well-known", "rock", "roll", "oneill", "café", "2001"});
  using Words = std::vector<std::string>;
  CHECK(tokenizer.split("The KING's crown!") == Words{"the", "king", "'s", "crown"});
  CHECK(tokenizer.split("don't") == Words{"do", "n't"});
  CHECK(tokenizer.split("don\xE2\x80\x99t") == Words{"do", "n't"});  // typographic apostrophe
  CHECK(tokenizer.split("a well-known rock-roll O'Neill") == Words{"a", "well-known", "rock", "roll", "oneill"});
  CHECK(tokenizer.split("\xE2\x80\x9C" "Café\xE2\x80\x9D -- 2001...") == Words{"café", "2001"});
  CHECK(tokenizer.split("  ,;!  ").empty());
  CHECK(tokenizer.split("'quoted' -dash-").size() == 2);
  CHECK(tokenizer.split(std::string("bad\xFF\xFEutf8")) == Words{"bad", "utf8"});
  CHECK(tokenizer.encode("The king don't dance", 0) == std::vector<std::int64_t>{0, 1, 2, 3});
  CHECK(tokenizer.encode("The king don't dance", 2) == std::vector<std::int64_t>{0, 1});
  CHECK(tokenizer.pad_id() == 10);
  CHECK(tokenizer.vocab_size() == 10);
}

TEST_CASE("Word-vector encoder pools mean and SIF, ignores padding, zero for empty text", "[word_vectors]") {
  nn::WordVectorTokenizer tokenizer({"a", "b", "c"});
  nn::WordVectorConfig config;
  config.vocab_size = 3;
  config.dim = 2;
  nn::WordVectorEncoder mean(config);
  const auto table = torch::tensor({1.0f, 0.0f, 0.0f, 2.0f, 4.0f, 4.0f}).view({3, 2});
  mean->load_embeddings(table);
  const auto batch = batch_of(tokenizer, {"a b c", "a", "", "zzz qqq"});
  const auto out = mean->forward(batch);
  CHECK(torch::allclose(out[0], torch::tensor({5.0f / 3, 2.0f})));
  CHECK(torch::allclose(out[1], torch::tensor({1.0f, 0.0f})));
  CHECK(torch::equal(out[2], torch::zeros({2})));
  CHECK(torch::equal(out[3], torch::zeros({2})));
  CHECK_FALSE(out.isnan().any().item<bool>());
  CHECK_FALSE(mean->embeddings.requires_grad());

  config.pooling = nn::WordPooling::Sif;
  nn::WordVectorEncoder sif(config);
  sif->load_embeddings(table);
  // Zipf over 3 ranks: p = (1, 1/2, 1/3) / (11/6).
  const double a = config.sif_a;
  const std::vector<double> p{6.0 / 11, 3.0 / 11, 2.0 / 11};
  const auto sif_out = sif->forward(batch);
  const double expected_x = (a / (a + p[0]) * 1 + a / (a + p[2]) * 4) / 3;
  CHECK(sif_out[0][0].item<double>() == Approx(expected_x).epsilon(1e-5));
  sif->set_word_counts({10.0, 0.0, 0.0});
  CHECK(sif->word_weights()[1].item<double>() == Approx(a / (a + 1.0 / 13)).epsilon(1e-5));

  text::TokenBatch bad{torch::tensor({{0, 7}}, torch::kInt64), torch::ones({1, 2}, torch::kInt64)};
  CHECK_THROWS_WITH(mean->forward(bad), Catch::Contains("[0, 1]"));
  CHECK_THROWS_AS(nn::word_pooling_from_name("max"), Error);
}

TEST_CASE("Word-vector encoder trains its table only when asked", "[word_vectors]") {
  nn::WordVectorConfig config;
  config.vocab_size = 4;
  config.dim = 3;
  config.trainable = true;
  nn::WordVectorEncoder encoder(config);
  text::TokenBatch batch{torch::tensor({{1, 2, 4}}, torch::kInt64), torch::tensor({{1, 1, 0}}, torch::kInt64)};
  encoder->forward(batch).sum().backward();
  const auto grad = encoder->embeddings.grad();
  REQUIRE(grad.defined());
  CHECK(grad[1].abs().sum().item<double>() > 0);
  CHECK(grad[0].abs().sum().item<double>() == 0);
  encoder->set_trainable_top(0);
  CHECK_FALSE(encoder->embeddings.requires_grad());
  CHECK(encoder->num_blocks() == 1);
}

TEST_CASE("GloVe 6B vectors: related words are closer than unrelated ones", "[word_vectors][weights]") {
  const auto folder = test::shared_path("weights/glove_6b_100d_top100k", "CLIPMATCH_GLOVE");
  CLIPMATCH_REQUIRE_SHARED(folder, "GloVe 6B 100d vectors");
  for (auto pooling : {nn::WordPooling::Mean, nn::WordPooling::Sif}) {
    auto model = nn::load_word_vectors(folder->string(), pooling);
    REQUIRE(model.tokenizer->vocab_size() == 100000);
    REQUIRE(model.encoder->feature_dim() == 100);
    CHECK(model.tokenizer->id("the") == 0);
    torch::NoGradGuard no_grad;
    const auto out = model.encoder->forward(batch_of(*model.tokenizer,
        {"king", "queen", "banana", "", "xqzzyv blorptastic", "The king and his queen ruled the kingdom.",
         "A monarch's wife sat on the throne.", "She peeled a ripe banana for breakfast."}));
    const double king_queen = cosine(out[0], out[1]);
    const double king_banana = cosine(out[0], out[2]);
    WARN("cos(king, queen) = " << king_queen << ", cos(king, banana) = " << king_banana);
    CHECK(king_queen > king_banana + 0.3);
    CHECK(torch::equal(out[3], torch::zeros({100})));
    CHECK(torch::equal(out[4], torch::zeros({100})));
    CHECK_FALSE(out.isnan().any().item<bool>());
    CHECK(cosine(out[5], out[6]) > cosine(out[5], out[7]));
  }
}

TEST_CASE("Word-vector folder errors name the file", "[word_vectors]") {
  test::TempDir dir;
  CHECK_THROWS_WITH(nn::load_word_vectors(dir.path().string(), nn::WordPooling::Mean), Catch::Contains("vocab.txt"));
}
