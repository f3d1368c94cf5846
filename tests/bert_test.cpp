#include "core/precision.hpp"
#include "hf_fixture_support.hpp"
#include "nn/bert.hpp"
#include "nn/transformer_factory.hpp"

#include <clipmatch/error.hpp>
#include <clipmatch/names.hpp>

#include <fstream>

using namespace clipmatch;
using clipmatch::test::fs::path;
using Catch::Matchers::Contains;

namespace {

void check_bert_parity(const path& model_folder, const path& fixture_folder) {
  const auto io_tensors = test::read_tensors(fixture_folder / "io.safetensors");
  const auto model = nn::load_bert(model_folder.string(), {nn::TokenPooling::Pooler});
  const torch::Tensor ids = io_tensors.at("in.input_ids");
  const torch::Tensor mask = io_tensors.count("in.attention_mask") ? io_tensors.at("in.attention_mask") : torch::Tensor();
  const torch::Tensor types =
      io_tensors.count("in.token_type_ids") ? io_tensors.at("in.token_type_ids") : torch::Tensor();
  torch::NoGradGuard no_grad;
  const nn::BertEncoderImpl::Outputs outputs = model->forward_all(ids, mask, types);
  const std::map<std::string, torch::Tensor> produced = {{"last_hidden_state", outputs.last_hidden_state},
                                                         {"pooler_output", outputs.pooler_output}};
  const std::vector<std::string> names = test::output_names(io_tensors);
  REQUIRE_FALSE(names.empty());
  for (const std::string& name : names) {
    INFO("output " << name);
    REQUIRE(produced.count(name) == 1);
    const double error = test::max_abs_error(produced.at(name), io_tensors.at("out." + name));
    INFO("max abs error " << error);
    CHECK(error <= test::kParityTolerance);
  }
  // The TextEncoder entry point (no token types) agrees with forward_all on the same ids and mask.
  const nn::BertEncoderImpl::Outputs untyped = model->forward_all(ids, mask, torch::Tensor());
  CHECK(torch::allclose(model->forward(text::TokenBatch{ids, mask}), untyped.pooler_output));
  const auto cls_model = nn::load_bert(model_folder.string());
  CHECK(torch::allclose(cls_model->forward(text::TokenBatch{ids, mask}), untyped.last_hidden_state.select(1, 0)));
}

}  // namespace

TEST_CASE("BERT reproduces transformers' BertModel outputs on a padded batch", "[bert][hf]") {
  const auto fixture = test::hf_fixture("bert_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/bert_tiny");
  check_bert_parity(*fixture, *fixture);
}

TEST_CASE("BERT loads bert.-prefixed checkpoints with legacy gamma/beta and pre-training heads", "[bert][hf]") {
  const auto fixture = test::hf_fixture("bert_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/bert_tiny");
  std::map<std::string, torch::Tensor> legacy;
  for (const auto& [name, tensor] : test::read_tensors(*fixture / "model.safetensors")) {
    std::string renamed = "bert." + name;
    const auto replace_tail = [&](const std::string& from, const std::string& to) {
      if (renamed.size() >= from.size() && renamed.compare(renamed.size() - from.size(), from.size(), from) == 0) {
        renamed = renamed.substr(0, renamed.size() - from.size()) + to;
      }
    };
    replace_tail("LayerNorm.weight", "LayerNorm.gamma");
    replace_tail("LayerNorm.bias", "LayerNorm.beta");
    legacy[renamed] = tensor;
  }
  legacy["cls.predictions.bias"] = torch::zeros({7});
  legacy["bert.embeddings.position_ids"] = torch::arange(5).unsqueeze(0);
  test::TempDir dir;
  test::write_checkpoint(dir.path(), legacy, *fixture);
  check_bert_parity(dir.path(), *fixture);
}

TEST_CASE("BERT padding is masked: padded positions do not change real tokens", "[bert]") {
  torch::manual_seed(7);
  nn::BertEncoderImpl model(nn::BertConfig::tiny());
  model.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor ids = torch::randint(1, 1000, {1, 9});
  const torch::Tensor padded = torch::cat({ids, torch::randint(1, 1000, {1, 4})}, 1);
  const torch::Tensor mask = torch::cat({torch::ones({1, 9}, torch::kLong), torch::zeros({1, 4}, torch::kLong)}, 1);
  const torch::Tensor alone = model.forward_all(ids, torch::Tensor(), torch::Tensor()).last_hidden_state;
  const torch::Tensor with_pad = model.forward_all(padded, mask, torch::Tensor()).last_hidden_state.slice(1, 0, 9);
  CHECK(test::max_abs_error(with_pad, alone) < 1e-5);
  CHECK_THROWS_AS(model.forward_all(torch::zeros({1, model.config().max_position_embeddings + 1}, torch::kLong),
                                    torch::Tensor(), torch::Tensor()),
                  Error);
}

TEST_CASE("BERT without padding attends without a mask and gives the same features in every precision", "[bert]") {
  torch::manual_seed(7);
  nn::BertEncoderImpl model(nn::BertConfig::tiny());
  model.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor ids = torch::randint(1, 1000, {3, 11});
  const text::TokenBatch masked{ids, torch::ones({3, 11}, torch::kLong)};
  const text::TokenBatch unmasked{ids, torch::ones({3, 11}, torch::kLong), /*padded=*/false};
  for (const Precision precision : {Precision::Fp32, Precision::Bf16, Precision::Int8}) {
    INFO(to_name(precision));
    PrecisionScope scope(precision, /*cuda=*/false);
    CHECK(test::max_abs_error(model.forward(unmasked), model.forward(masked)) < 1e-6);
    CHECK(test::max_abs_error(model.forward_lower(unmasked, 1), model.forward_lower(masked, 1)) < 1e-6);
  }
  // The flag really removes the mask: with padded = false a mask that hides tokens is not applied at all.
  auto hiding = torch::ones({3, 11}, torch::kLong);
  hiding.slice(1, 6).zero_();
  const auto ignored = model.forward(text::TokenBatch{ids, hiding, /*padded=*/false});
  CHECK(test::max_abs_error(ignored, model.forward(masked)) < 1e-6);
  CHECK(test::max_abs_error(ignored, model.forward(text::TokenBatch{ids, hiding})) > 1e-3);
}

TEST_CASE("BERT config errors name the field", "[bert]") {
  test::TempDir dir;
  {
    std::ofstream out(dir / "config.json");
    out << R"({"model_type": "bert", "vocab_size": 10, "hidden_size": "64"})";
  }
  REQUIRE_THROWS_WITH(nn::load_bert(dir.path().string()), Contains("hidden_size") && Contains("integer"));
  {
    std::ofstream out(dir / "config.json");
    out << R"({"model_type": "bert", "vocab_size": 10, "hidden_size": 64})";
  }
  REQUIRE_THROWS_WITH(nn::load_bert(dir.path().string()), Contains("num_hidden_layers") && Contains("missing"));
}

TEST_CASE("BERT set_trainable_top keeps embeddings frozen until every block trains", "[bert]") {
  nn::BertEncoderImpl model(nn::BertConfig::tiny());
  model.set_trainable_top(2);
  std::int64_t trainable_blocks = 0;
  for (const auto& item : model.named_parameters()) {
    if (item.key().rfind("word_embed", 0) == 0) CHECK_FALSE(item.value().requires_grad());
    if (item.key().find("attn.q_proj.weight") != std::string::npos && item.value().requires_grad()) ++trainable_blocks;
  }
  CHECK(trainable_blocks == 2);
  model.set_trainable_top(model.num_blocks());
  for (const auto& parameter : model.parameters()) CHECK(parameter.requires_grad());
}
