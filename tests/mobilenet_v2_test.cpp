#include "conv_test_support.hpp"
#include "core/precision.hpp"
#include "io/checkpoint.hpp"
#include "nn/conv_factory.hpp"
#include "nn/direct_conv.hpp"
#include "test_support.hpp"

#include <clipmatch/error.hpp>
#include <clipmatch/image.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace clipmatch;
using clipmatch::test::max_abs_diff;

namespace {

torch::Tensor run(nn::MobileNetV2& model, const torch::Tensor& x, bool fast) {
  model->set_fast_inference(fast);
  torch::NoGradGuard no_grad;
  return model->forward(x);
}

}  // namespace

TEST_CASE("MobileNetV2 structure: torchvision's names, shapes and parameter count", "[mobilenet_v2]") {
  nn::MobileNetV2Config config;
  config.num_classes = 1000;
  nn::MobileNetV2 model(config);
  const auto shapes = test::shapes_of_module(*model);
  CHECK(shapes.at("features.0.0.weight") == std::vector<std::int64_t>{32, 3, 3, 3});
  CHECK(shapes.at("features.1.conv.0.0.weight") == std::vector<std::int64_t>{32, 1, 3, 3});
  CHECK(shapes.at("features.1.conv.1.weight") == std::vector<std::int64_t>{16, 32, 1, 1});
  CHECK(shapes.at("features.2.conv.3.running_var") == std::vector<std::int64_t>{24});
  CHECK(shapes.at("features.18.0.weight") == std::vector<std::int64_t>{1280, 320, 1, 1});
  CHECK(shapes.at("classifier.1.weight") == std::vector<std::int64_t>{1000, 1280});
  std::int64_t parameters = 0;
  for (const auto& p : model->parameters()) parameters += p.numel();
  CHECK(parameters == 3504872);  // torchvision mobilenet_v2()
  CHECK(model->num_blocks() == 19);
  CHECK(model->feature_dim() == 1280);
}

TEST_CASE("MobileNetV2 from scratch: folded fast path equals the module path, top-k freezing", "[mobilenet_v2]") {
  torch::manual_seed(0);
  nn::MobileNetV2 model(nn::MobileNetV2Config::tiny());
  test::perturb_batchnorms(*model);
  model->eval();
  const auto x = torch::randn({3, 3, 64, 64});
  const auto slow = run(model, x, false);
  const auto fast = run(model, x, true);
  REQUIRE(slow.sizes() == std::vector<std::int64_t>{3, 256});
  CHECK(max_abs_diff(slow, fast) < 1e-4);

  model->set_trainable_top(2);
  std::int64_t trainable = 0;
  for (const auto& item : model->named_parameters()) {
    const bool top = item.key().rfind("features.6.", 0) == 0 || item.key().rfind("features.7.", 0) == 0;
    CHECK(item.value().requires_grad() == top);
    trainable += item.value().requires_grad();
  }
  CHECK(trainable > 0);
  model->forward(x).sum().backward();  // eval mode, but trainable blocks: the module path keeps the graph
  for (const auto& item : model->named_parameters()) {
    if (item.value().requires_grad()) CHECK(item.value().grad().defined());
  }
}

TEST_CASE("MobileNetV2 int8 from scratch: split forwards across block 8 and the caller's input stay intact",
          "[mobilenet_v2][precision]") {
  if (!nn::DirectConv::int8_available()) {
    WARN("no int8 convolutions here (no oneDNN, or a CPU without VNNI): int8 leaves MobileNetV2 in fp32");
    return;
  }
  torch::manual_seed(2);
  nn::MobileNetV2 model(nn::MobileNetV2Config{});  // the full 19 blocks, so int8 really starts at block 8
  test::perturb_batchnorms(*model);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({4, 3, 64, 64}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto x_before = x.clone();
  torch::Tensor fp32, int8;
  {
    PrecisionScope scope(Precision::Fp32, false);
    fp32 = model->forward(x);
  }
  PrecisionScope scope(Precision::Int8, false);
  int8 = model->forward(x);
  CHECK(torch::equal(x, x_before));
  REQUIRE(int8.sizes() == fp32.sizes());
  CHECK_FALSE(torch::equal(int8, fp32));  // the int8 path ran
  const double lowest = torch::cosine_similarity(int8, fp32, 1).min().item<double>();
  INFO("int8 against fp32: lowest cosine " << lowest);
  CHECK(lowest >= 0.99);
  // Splits before, at and after the first int8 block: the lower part hands over fp32 features, which the upper
  // part quantises afresh, so the results agree closely rather than exactly.
  for (const std::int64_t top_k : {15, 11, 5}) {
    const auto lower = model->forward_lower(x, top_k);
    CHECK(lower.scalar_type() == torch::kFloat32);
    const auto lower_before = lower.clone();
    const auto upper = model->forward_upper(lower, top_k);
    CHECK(torch::equal(lower, lower_before));
    INFO("top_k " << top_k);
    CHECK(torch::cosine_similarity(upper, int8, 1).min().item<double>() >= 0.99);
  }
}

TEST_CASE("MobileNetV2 ImageNet weights reproduce torchvision", "[mobilenet_v2][weights]") {
  const auto folder = test::shared_path("weights/mobilenet_v2_imagenet", "CLIPMATCH_MOBILENET_V2");
  CLIPMATCH_REQUIRE_SHARED(folder, "MobileNetV2 ImageNet weights");
  auto model = nn::load_mobilenet_v2(folder->string());
  REQUIRE(model->config().num_classes == 1001);
  const auto io_file = io::CheckpointReader::open((*folder / "io.safetensors").string());
  const auto pixels = io_file.load("in.pixel_values");
  const auto expected_features = io_file.load("out.pooled_features");
  const auto expected_logits = io_file.load("out.logits");
  for (bool fast : {false, true}) {
    model->set_fast_inference(fast);
    torch::NoGradGuard no_grad;
    const auto features = model->forward(pixels);
    const auto logits = model->logits(pixels);
    const double feature_error = max_abs_diff(features, expected_features);
    const double logit_error = max_abs_diff(logits, expected_logits);
    WARN("MobileNetV2 " << (fast ? "fast" : "module") << " path: max |Δfeature| = " << feature_error
                        << " (max |feature| " << expected_features.abs().max().item<double>()
                        << "), max |Δlogit| = " << logit_error);
    CHECK(feature_error < 1e-3);
    CHECK(logit_error < 1e-2);
    CHECK(torch::equal(logits.argmax(1), expected_logits.argmax(1)));
  }
}

TEST_CASE("MobileNetV2 classifies the sample photos through the library's image pipeline", "[mobilenet_v2][weights]") {
  const auto folder = test::shared_path("weights/mobilenet_v2_imagenet", "CLIPMATCH_MOBILENET_V2");
  CLIPMATCH_REQUIRE_SHARED(folder, "MobileNetV2 ImageNet weights");
  auto model = nn::load_mobilenet_v2(folder->string());
  const auto pp = ImagePreprocess::mobilenet_v2_tf();
  const std::vector<std::pair<std::string, std::int64_t>> samples{
      {"sample_dog.jpg", 250}, {"sample_eagle.jpg", 22}, {"sample_person.jpg", 356}};
  std::vector<torch::Tensor> images;
  for (const auto& [file, label] : samples) {
    auto chw = preprocess(decode_image_file((*folder / file).string()), pp);
    images.push_back(torch::from_blob(chw.data(), {3, pp.size, pp.size}, torch::kFloat32).clone());
  }
  const auto batch = torch::stack(images);
  torch::NoGradGuard no_grad;
  const auto logits = model->logits(batch);
  // The decoded and resized pixels differ slightly from the reference's (JPEG decoder, resampler), so the
  // features agree loosely with torchvision's while the classes must agree exactly.
  const auto io_file = io::CheckpointReader::open((*folder / "io.safetensors").string());
  WARN("pipeline vs reference pixels: max |Δ| = " << max_abs_diff(batch, io_file.load("in.pixel_values"))
                                                  << ", features max |Δ| = "
                                                  << max_abs_diff(model->forward(batch),
                                                                  io_file.load("out.pooled_features")));
  for (std::size_t i = 0; i < samples.size(); ++i) {
    INFO(samples[i].first);
    CHECK(logits[i].argmax().item<std::int64_t>() == samples[i].second);
  }
}

TEST_CASE("MobileNetV2 checkpoint problems are reported by tensor", "[mobilenet_v2]") {
  nn::CheckpointShapes shapes;
  shapes.source = "model.safetensors";
  for (int i = 0; i < 10; ++i) shapes.shapes[fmt::format("features.{}.0.weight", i)] = {8, 3, 3, 3};
  try {
    nn::MobileNetV2Config::infer(shapes);
    FAIL("a 10-block checkpoint was accepted");
  } catch (const Error& error) {
    CHECK(std::string(error.what()).find("features.9") != std::string::npos);
  }
}

TEST_CASE("MobileNetV2 folders: NaN weights and a contradicting config.json are refused by name", "[mobilenet_v2]") {
  test::TempDir dir;
  torch::manual_seed(0);
  nn::MobileNetV2 model(nn::MobileNetV2Config{});
  const auto folder = dir.path() / "mnv2";
  std::filesystem::create_directories(folder);
  test::save_module(*model, (folder / "model.safetensors").string());
  std::ofstream(folder / "config.json") << R"({"architecture": "mobilenet_v2", "feature_dim": 1280})";
  CHECK(nn::load_mobilenet_v2(folder.string())->config().feature_dim() == 1280);

  std::ofstream(folder / "config.json", std::ios::trunc) << R"({"architecture": "mobilenet_v2", "feature_dim": 2560})";
  CHECK_THROWS_WITH(nn::load_mobilenet_v2(folder.string()),
                    Catch::Contains("config.json") && Catch::Contains("'feature_dim' is 2560") && Catch::Contains("1280"));

  std::filesystem::remove(folder / "config.json");
  {
    torch::NoGradGuard no_grad;
    model->named_parameters()["features.3.conv.1.0.weight"][0][0][0][0] = std::nanf("");
  }
  test::save_module(*model, (folder / "model.safetensors").string());
  CHECK_THROWS_WITH(nn::load_mobilenet_v2(folder.string()),
                    Catch::Contains("model.safetensors") && Catch::Contains("features.3.conv.1.0.weight") &&
                        Catch::Contains("NaN"));
}
