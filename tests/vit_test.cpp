#include "hf_fixture_support.hpp"
#include "io/checkpoint.hpp"
#include "nn/transformer_factory.hpp"
#include "nn/vit.hpp"
#include "nn/weight_loader.hpp"

#include <clipmatch/error.hpp>

using namespace clipmatch;
using clipmatch::test::fs::path;
using Catch::Matchers::Contains;

namespace {

// Runs the model on in.pixel_values and compares every out.* tensor; fails on outputs it cannot produce.
void check_vit_parity(const path& model_folder, const path& fixture_folder) {
  const auto io_tensors = test::read_tensors(fixture_folder / "io.safetensors");
  const auto model = nn::load_vit(model_folder.string(), {nn::TokenPooling::Pooler});
  torch::NoGradGuard no_grad;
  const nn::ViTEncoderImpl::Outputs outputs = model->forward_all(io_tensors.at("in.pixel_values"));
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
  // The default feature is the CLS row of the last hidden state; Pooler pooling gives the pooler output.
  CHECK(torch::equal(model->forward(io_tensors.at("in.pixel_values")), outputs.pooler_output));
  const auto cls_model = nn::load_vit(model_folder.string());
  CHECK(torch::allclose(cls_model->forward(io_tensors.at("in.pixel_values")), outputs.last_hidden_state.select(1, 0)));
  CHECK(cls_model->feature_dim() == outputs.last_hidden_state.size(2));
}

}  // namespace

TEST_CASE("ViT reproduces transformers' ViTModel outputs", "[vit][hf]") {
  const auto fixture = test::hf_fixture("vit_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/vit_tiny");
  check_vit_parity(*fixture, *fixture);
}

TEST_CASE("ViT loads a vit.-prefixed classification checkpoint, ignoring the classifier", "[vit][hf]") {
  const auto fixture = test::hf_fixture("vit_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/vit_tiny");
  std::map<std::string, torch::Tensor> prefixed;
  std::int64_t hidden = 0;
  for (const auto& [name, tensor] : test::read_tensors(*fixture / "model.safetensors")) {
    prefixed["vit." + name] = tensor;
    if (name == "layernorm.weight") hidden = tensor.size(0);
  }
  prefixed["classifier.weight"] = torch::zeros({10, hidden});
  prefixed["classifier.bias"] = torch::zeros({10});
  test::TempDir dir;
  test::write_checkpoint(dir.path(), prefixed, *fixture);
  check_vit_parity(dir.path(), *fixture);
}

TEST_CASE("ViT checkpoint errors name the tensor", "[vit][hf]") {
  const auto fixture = test::hf_fixture("vit_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/vit_tiny");
  const auto tensors = test::read_tensors(*fixture / "model.safetensors");
  test::TempDir dir;

  SECTION("wrong shape: names the tensor and both shapes") {
    auto edited = tensors;
    const std::int64_t hidden = edited.at("layernorm.weight").size(0);
    edited["layernorm.weight"] = torch::ones({hidden + 1});
    test::write_checkpoint(dir.path(), edited, *fixture);
    const std::string expected = "[" + std::to_string(hidden) + "]", actual = "[" + std::to_string(hidden + 1) + "]";
    REQUIRE_THROWS_WITH(nn::load_vit(dir.path().string()),
                        Contains("layernorm.weight") && Contains(expected) && Contains(actual));
  }
  SECTION("missing tensor: names it") {
    auto edited = tensors;
    edited.erase("layernorm.bias");
    test::write_checkpoint(dir.path(), edited, *fixture);
    REQUIRE_THROWS_WITH(nn::load_vit(dir.path().string()), Contains("missing") && Contains("norm.bias"));
  }
  SECTION("unexpected tensor: strict names it, non-strict lists it with the ignored classifier") {
    auto edited = tensors;
    edited["classifier.weight"] = torch::zeros({10, edited.at("layernorm.weight").size(0)});
    edited["encoder.extra_table"] = torch::zeros({3});
    test::write_checkpoint(dir.path(), edited, *fixture);
    REQUIRE_THROWS_WITH(nn::load_vit(dir.path().string()), Contains("unexpected") && Contains("encoder.extra_table"));

    const auto config = nn::ViTConfig::from_json(nn::JsonConfig::load((*fixture / "config.json").string()));
    nn::ViTEncoderImpl model(config);
    const auto reader = io::CheckpointReader::open(dir.path().string());
    const nn::LoadReport report = nn::load_weights(model, reader, nn::vit_checkpoint_rename(), /*strict=*/false);
    const std::vector<std::string> skipped = report.skipped();
    CHECK(std::find(skipped.begin(), skipped.end(), "classifier.weight") != skipped.end());
    CHECK(std::find(skipped.begin(), skipped.end(), "encoder.extra_table") != skipped.end());
    CHECK(report.unexpected == std::vector<std::string>{"encoder.extra_table"});
    CHECK(report.missing.empty());
    CHECK(report.loaded.size() == model.named_parameters().size());
  }
  SECTION("non-strict reports missing tensors instead of throwing") {
    auto edited = tensors;
    edited.erase("pooler.dense.bias");
    test::write_checkpoint(dir.path(), edited, *fixture);
    const auto config = nn::ViTConfig::from_json(nn::JsonConfig::load((*fixture / "config.json").string()));
    nn::ViTEncoderImpl model(config);
    const auto reader = io::CheckpointReader::open(dir.path().string());
    const nn::LoadReport report = nn::load_weights(model, reader, nn::vit_checkpoint_rename(), /*strict=*/false);
    CHECK(report.missing == std::vector<std::string>{"pooler.bias"});
  }
}

TEST_CASE("ViT converts F16 checkpoints to float32", "[vit][hf]") {
  const auto fixture = test::hf_fixture("vit_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/vit_tiny");
  auto tensors = test::read_tensors(*fixture / "model.safetensors");
  for (auto& [name, tensor] : tensors) tensor = tensor.to(torch::kHalf);
  test::TempDir dir;
  test::write_checkpoint(dir.path(), tensors, *fixture);
  const auto model = nn::load_vit(dir.path().string());
  for (const auto& parameter : model->parameters()) CHECK(parameter.scalar_type() == torch::kFloat);
  const auto reference = nn::load_vit(fixture->string());
  const auto pixels = test::read_tensors(*fixture / "io.safetensors").at("in.pixel_values");
  torch::NoGradGuard no_grad;
  // F16 rounding of the weights moves the output a little, not a lot.
  CHECK(test::max_abs_error(model->forward(pixels), reference->forward(pixels)) < 0.05);
}

TEST_CASE("ViT tiny preset runs from scratch, other image sizes interpolate positions", "[vit]") {
  nn::ViTEncoderImpl model(nn::ViTConfig::tiny());
  const auto config = model.config();
  const torch::Tensor features = model.forward(torch::randn({2, 3, config.image_size, config.image_size}));
  CHECK(features.sizes() == torch::IntArrayRef({2, model.feature_dim()}));
  const auto outputs = model.forward_all(torch::randn({1, 3, config.image_size * 2, config.image_size}));
  CHECK(outputs.last_hidden_state.size(1) == 1 + config.grid() * 2 * config.grid());
  CHECK_THROWS_AS(model.forward(torch::randn({1, 3, config.image_size + 1, config.image_size})), Error);
}

TEST_CASE("ViT set_trainable_top freezes all but the top blocks and the head", "[vit]") {
  nn::ViTEncoderImpl model(nn::ViTConfig::tiny());
  const auto trainable = [&] {
    std::set<std::string> names;
    for (const auto& item : model.named_parameters()) {
      if (item.value().requires_grad()) names.insert(item.key());
    }
    return names;
  };
  model.set_trainable_top(0);
  CHECK(trainable().empty());
  model.set_trainable_top(1);
  const auto top = trainable();
  const std::string last = "encoder.blocks." + std::to_string(model.num_blocks() - 1) + ".";
  CHECK(top.count(last + "attn.q_proj.weight") == 1);
  CHECK(top.count("norm.weight") == 1);
  CHECK(top.count("encoder.blocks.0.attn.q_proj.weight") == 0);
  CHECK(top.count("pos_embed") == 0);
  model.set_trainable_top(model.num_blocks());
  CHECK(trainable().size() == model.named_parameters().size());
  CHECK_THROWS_AS(model.set_trainable_top(-1), Error);
}
