#include "hf_fixture_support.hpp"
#include "nn/clip.hpp"
#include "nn/transformer_factory.hpp"

#include <clipmatch/error.hpp>

#include <nlohmann/json.hpp>

#include <fstream>

using namespace clipmatch;
using clipmatch::test::fs::path;
namespace fs = std::filesystem;

namespace {

torch::Tensor normalized(const torch::Tensor& x) { return x / x.norm(2, -1, true); }

// Everything transformers' CLIPModel returns in the fixture, computed from our two towers.
std::map<std::string, torch::Tensor> clip_outputs(const path& model_folder,
                                                  const std::map<std::string, torch::Tensor>& io_tensors) {
  const auto vision = nn::load_clip_vision(model_folder.string());
  const auto text = nn::load_clip_text(model_folder.string());
  const float logit_scale = nn::load_clip_logit_scale(model_folder.string());
  torch::NoGradGuard no_grad;
  const auto image = vision->forward_all(io_tensors.at("in.pixel_values"));
  const torch::Tensor mask =
      io_tensors.count("in.attention_mask") ? io_tensors.at("in.attention_mask") : torch::Tensor();
  const auto words = text->forward_all(io_tensors.at("in.input_ids"), mask);
  const torch::Tensor image_embeds = normalized(image.image_embeds), text_embeds = normalized(words.text_embeds);
  CHECK(torch::equal(vision->forward(io_tensors.at("in.pixel_values")), image.image_embeds));
  CHECK(torch::equal(text->forward(text::TokenBatch{io_tensors.at("in.input_ids"), mask}), words.text_embeds));
  return {
      {"image_embeds", image_embeds},
      {"text_embeds", text_embeds},
      {"logits_per_image", torch::matmul(image_embeds, text_embeds.t()) * std::exp(logit_scale)},
      {"logits_per_text", torch::matmul(text_embeds, image_embeds.t()) * std::exp(logit_scale)},
      {"text_last_hidden_state", words.last_hidden_state},
      {"text_pooler_output", words.pooled},
      {"vision_last_hidden_state", image.last_hidden_state},
      // transformers 5 reports the projected, un-normalised image feature here (see shared/README.md)
      {"vision_pooler_output", image.image_embeds},
  };
}

void check_clip_parity(const path& model_folder, const path& fixture_folder) {
  const auto io_tensors = test::read_tensors(fixture_folder / "io.safetensors");
  const auto produced = clip_outputs(model_folder, io_tensors);
  const std::vector<std::string> names = test::output_names(io_tensors);
  REQUIRE_FALSE(names.empty());
  for (const std::string& name : names) {
    INFO("output " << name);
    REQUIRE(produced.count(name) == 1);
    const double error = test::max_abs_error(produced.at(name), io_tensors.at("out." + name));
    INFO("max abs error " << error);
    CHECK(error <= test::kParityTolerance);
  }
}

}  // namespace

TEST_CASE("CLIP towers reproduce transformers' CLIPModel outputs", "[clip][hf]") {
  const auto fixture = test::hf_fixture("clip_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/clip_tiny");
  check_clip_parity(*fixture, *fixture);
}

TEST_CASE("CLIP text pools at the largest id for legacy configs with eos_token_id 2", "[clip][hf]") {
  const auto fixture = test::hf_fixture("clip_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/clip_tiny");
  const auto io_tensors = test::read_tensors(*fixture / "io.safetensors");
  nlohmann::json config;
  std::ifstream(*fixture / "config.json") >> config;
  const std::int64_t eos = config["text_config"]["eos_token_id"].get<std::int64_t>();
  // Only meaningful when EOS is the largest id in every row, as in the original CLIP vocabulary.
  const torch::Tensor ids = io_tensors.at("in.input_ids");
  REQUIRE(ids.max().item<std::int64_t>() == eos);
  config["text_config"]["eos_token_id"] = 2;
  test::TempDir dir;
  fs::copy_file(*fixture / "model.safetensors", dir / "model.safetensors");
  std::ofstream(dir / "config.json") << config.dump(2);
  const auto legacy = nn::load_clip_text(dir.path().string());
  const auto current = nn::load_clip_text(fixture->string());
  torch::NoGradGuard no_grad;
  const text::TokenBatch batch{ids, io_tensors.at("in.attention_mask")};
  CHECK(torch::equal(legacy->forward(batch), current->forward(batch)));
  // And pooling really follows the EOS position: moving it changes the feature.
  text::TokenBatch shifted{ids.clone(), batch.attention_mask};
  shifted.ids.index_put_({0, 1}, eos);
  CHECK_FALSE(torch::allclose(current->forward(shifted)[0], current->forward(batch)[0]));
}

TEST_CASE("CLIP towers ignore each other's tensors and reject wrong checkpoints", "[clip][hf]") {
  const auto fixture = test::hf_fixture("clip_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/clip_tiny");
  auto tensors = test::read_tensors(*fixture / "model.safetensors");
  tensors.erase("visual_projection.weight");
  test::TempDir dir;
  test::write_checkpoint(dir.path(), tensors, *fixture);
  CHECK_NOTHROW(nn::load_clip_text(dir.path().string()));
  REQUIRE_THROWS_WITH(nn::load_clip_vision(dir.path().string()),
                      Catch::Matchers::Contains("missing") && Catch::Matchers::Contains("projection.weight"));
  const auto vision = nn::load_clip_vision(fixture->string());
  CHECK_THROWS_AS(vision->forward(torch::zeros({1, 3, 17, 17})), Error);
  CHECK(vision->feature_dim() == nn::load_clip_text(fixture->string())->feature_dim());
}

TEST_CASE("CLIP set_trainable_top unfreezes the top blocks, final norm and projection", "[clip][hf]") {
  const auto fixture = test::hf_fixture("clip_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/clip_tiny");
  const auto text = nn::load_clip_text(fixture->string());
  text->set_trainable_top(1);
  for (const auto& item : text->named_parameters()) {
    const std::string& name = item.key();
    const bool top = name.rfind("encoder.blocks." + std::to_string(text->num_blocks() - 1) + ".", 0) == 0 ||
                     name.rfind("final_norm.", 0) == 0 || name.rfind("projection.", 0) == 0;
    INFO(name);
    CHECK(item.value().requires_grad() == top);
  }
}
