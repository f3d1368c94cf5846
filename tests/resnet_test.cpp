#include "conv_test_support.hpp"
#include "io/checkpoint.hpp"
#include "nn/conv_factory.hpp"
#include "test_support.hpp"

#include <clipmatch/error.hpp>
#include <clipmatch/safetensors.hpp>

#include <filesystem>

using namespace clipmatch;
using clipmatch::test::max_abs_diff;

namespace {

torch::Tensor run(nn::ResNet& model, const torch::Tensor& x, bool fast) {
  model->set_fast_inference(fast);
  torch::NoGradGuard no_grad;
  return model->forward(x);
}

}  // namespace

TEST_CASE("ResNet from scratch: config, folded fast path equals the module path", "[resnet]") {
  torch::manual_seed(0);
  for (const auto& config : {nn::ResNetConfig::tiny(), [] {
         nn::ResNetConfig c;  // a small ResNeXt-style Bottleneck network
         c.layers = {1, 2, 1, 1};
         c.stem_width = 16;
         c.base_planes = 8;
         c.groups = 2;
         c.width_per_group = 32;
         c.num_classes = 5;
         return c;
       }()}) {
    nn::ResNet model(config);
    test::perturb_batchnorms(*model);
    model->eval();
    CHECK(model->num_blocks() == 4);
    const auto x = torch::randn({3, 3, 64, 64});
    const auto slow = run(model, x, false);
    const auto fast = run(model, x, true);
    REQUIRE(slow.sizes() == std::vector<std::int64_t>{3, config.feature_dim()});
    CHECK(max_abs_diff(slow, fast) < 1e-4);

    // The structure is recovered from names and shapes alone.
    const auto inferred = nn::ResNetConfig::infer(test::shapes_of_module(*model));
    CHECK(inferred.block == config.block);
    CHECK(inferred.layers == config.layers);
    CHECK(inferred.stem_width == config.stem_width);
    CHECK(inferred.base_planes == config.base_planes);
    CHECK(inferred.groups == config.groups);
    CHECK(inferred.width_per_group == config.width_per_group);
    CHECK(inferred.num_classes == config.num_classes);
  }
  CHECK(nn::ResNetConfig::tiny().feature_dim() == 128);
  CHECK(nn::ResNetConfig::resnet50().feature_dim() == 2048);
}

TEST_CASE("ResNet-50 structure: names and shapes of torchvision's resnet50", "[resnet]") {
  nn::ResNet model(nn::ResNetConfig::resnet50());
  const auto shapes = test::shapes_of_module(*model);
  CHECK(shapes.at("layer1.0.conv1.weight") == std::vector<std::int64_t>{64, 64, 1, 1});
  CHECK(shapes.at("layer1.0.downsample.0.weight") == std::vector<std::int64_t>{256, 64, 1, 1});
  CHECK(shapes.at("layer3.5.conv2.weight") == std::vector<std::int64_t>{256, 256, 3, 3});
  CHECK(shapes.at("layer4.0.downsample.1.running_var") == std::vector<std::int64_t>{2048});
  CHECK_FALSE(shapes.contains("layer4.3.conv1.weight"));
  std::int64_t parameters = 0;
  for (const auto& p : model->parameters()) parameters += p.numel();
  CHECK(parameters == 23508032);  // torchvision resnet50 without fc (25,557,032 − 2,049,000)
}

TEST_CASE("ResNet set_trainable_top freezes whole stages from the bottom", "[resnet]") {
  nn::ResNet model(nn::ResNetConfig::tiny());
  auto trainable = [&](const std::string& prefix) {
    for (const auto& item : model->named_parameters()) {
      if (item.key().rfind(prefix, 0) == 0) return item.value().requires_grad();
    }
    FAIL("no parameter under " << prefix);
    return false;
  };
  model->set_trainable_top(1);
  CHECK(trainable("layer4."));
  CHECK_FALSE(trainable("layer3."));
  CHECK_FALSE(trainable("conv1."));
  model->set_trainable_top(3);
  CHECK(trainable("layer2."));
  CHECK_FALSE(trainable("layer1."));
  CHECK_FALSE(trainable("bn1."));
  model->set_trainable_top(4);  // all stages: the stem is unfrozen too
  CHECK(trainable("layer1."));
  CHECK(trainable("conv1."));
  CHECK(trainable("bn1."));
  model->set_trainable_top(0);
  CHECK_FALSE(trainable("layer4."));

  // With trainable stages, eval-mode forward takes the module path so gradients reach them.
  model->set_trainable_top(1);
  model->eval();
  model->forward(torch::randn({2, 3, 64, 64})).sum().backward();
  for (const auto& item : model->named_parameters()) {
    if (item.key().rfind("layer4.", 0) == 0) CHECK(item.value().grad().defined());
  }
}

TEST_CASE("ResNet fast path follows weight changes", "[resnet]") {
  torch::manual_seed(1);
  nn::ResNet model(nn::ResNetConfig::tiny());
  model->eval();
  const auto x = torch::randn({2, 3, 64, 64});
  const auto before = run(model, x, true);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.mul_(1.1);
  }
  const auto after_fast = run(model, x, true);
  const auto after_slow = run(model, x, false);
  CHECK(max_abs_diff(before, after_fast) > 1e-3);
  CHECK(max_abs_diff(after_fast, after_slow) < 1e-4);
}

TEST_CASE("torchvision ResNet fixtures: pooled features and logits match the reference", "[resnet][fixture]") {
  const auto root = test::shared_path("fixtures/torchvision", "CLIPMATCH_TORCHVISION_FIXTURES");
  CLIPMATCH_REQUIRE_SHARED(root, "torchvision fixtures");
  for (const auto& entry : std::filesystem::directory_iterator(*root)) {
    if (!std::filesystem::exists(entry.path() / "io.safetensors")) continue;
    if (entry.path().filename().string().rfind("resnet", 0) != 0) continue;
    SECTION(entry.path().filename().string()) {
      auto model = nn::load_resnet(entry.path().string());
      const auto io_file = io::CheckpointReader::open((entry.path() / "io.safetensors").string());
      const auto pixels = io_file.load("in.pixel_values");
      const auto expected_features = io_file.load("out.pooled_features");
      for (bool fast : {false, true}) {
        const auto features = run(model, pixels, fast);
        torch::Tensor logits;
        {
          torch::NoGradGuard no_grad;
          logits = model->logits(pixels);
        }
        const double feature_error = max_abs_diff(features, expected_features);
        const double logit_error = max_abs_diff(logits, io_file.load("out.logits"));
        WARN(entry.path().filename().string() << (fast ? " fast" : " module") << " path: max |Δfeature| = "
                                              << feature_error << ", max |Δlogit| = " << logit_error);
        CHECK(feature_error < 1e-4);
        CHECK(logit_error < 1e-4);
      }
    }
  }
}

TEST_CASE("ResNet checkpoint errors name the tensor", "[resnet]") {
  test::TempDir dir;
  nn::ResNetConfig config = nn::ResNetConfig::tiny();
  config.num_classes = 3;
  nn::ResNet model(config);
  auto expect_error = [&](const std::string& drop, const std::string& reshape, const std::string& needle) {
    std::filesystem::remove_all(dir / "ckpt");
    std::filesystem::create_directories(dir / "ckpt");
    test::save_module(*model, (dir / "ckpt" / "model.safetensors").string(), drop, reshape);
    try {
      nn::load_resnet((dir / "ckpt").string());
      FAIL("no error for " << needle);
    } catch (const Error& error) {
      INFO(error.what());
      CHECK(std::string(error.what()).find(needle) != std::string::npos);
    }
  };
  expect_error("layer2.0.bn1.running_var", "", "layer2.0.bn1.running_var");
  expect_error("", "layer3.0.conv2.weight", "layer3.0.conv2.weight");
  expect_error("conv1.weight", "", "conv1.weight");
  expect_error("layer1.0.conv1.weight", "", "layer1.0.conv1.weight");
  expect_error("layer2.0.conv1.weight", "", "layer2.0.conv1.weight");

  // The intact checkpoint round-trips.
  std::filesystem::create_directories(dir / "ok");
  test::save_module(*model, (dir / "ok" / "model.safetensors").string());
  auto loaded = nn::load_resnet((dir / "ok").string());
  model->eval();
  const auto x = torch::randn({1, 3, 64, 64});
  CHECK(max_abs_diff(run(model, x, false), run(loaded, x, false)) == 0.0);
}
