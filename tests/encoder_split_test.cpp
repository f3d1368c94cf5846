// Split forward for top-K unfreezing: forward_upper(forward_lower(x, k), k) must reproduce forward(x) for
// every k, on the golden checkpoints where they exist and on random small networks otherwise; text hidden
// states must survive being cut to each item's length and re-padded with zeros, as the trainer caches them.
#include "conv_test_support.hpp"
#include "hf_fixture_support.hpp"
#include "io/checkpoint.hpp"
#include "nn/conv_factory.hpp"
#include "nn/mobilenet_v2.hpp"
#include "nn/resnet.hpp"
#include "nn/transformer_factory.hpp"
#include "nn/word_vectors.hpp"

#include <clipmatch/error.hpp>

#include <algorithm>
#include <functional>
#include <string>

using namespace clipmatch;
using Catch::Matchers::Contains;

namespace {

constexpr double kSplitTolerance = 1e-5;

// max |actual − expected| relative to the output's magnitude (absolute below magnitude 1).
double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  return test::max_abs_error(actual, expected) / scale;
}

void check_invalid_top_k(const std::function<void(std::int64_t)>& call, std::int64_t blocks) {
  for (const std::int64_t k : {std::int64_t{-1}, blocks, blocks + 3}) {
    INFO("top_k " << k);
    CHECK_THROWS_AS(call(k), Error);
    try {
      call(k);
    } catch (const Error& error) {
      CHECK(error.kind() == ErrorKind::InvalidArgument);
      CHECK_THAT(error.what(), Contains("top_k"));
    }
  }
}

/// Checks every split of `encoder` on `pixels` in eval mode without gradients; returns the largest error.
double check_image_split(nn::ImageEncoderImpl& encoder, const torch::Tensor& pixels, bool conv_layout) {
  encoder.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor expected = encoder.forward(pixels);
  double worst = 0.0;
  for (std::int64_t k = 0; k < encoder.num_blocks(); ++k) {
    INFO("top_k " << k);
    const torch::Tensor lower = encoder.forward_lower(pixels, k);
    CHECK(lower.size(0) == pixels.size(0));
    CHECK(lower.is_contiguous());  // NCHW for conv nets, whichever path computed it
    if (k > 0) CHECK(lower.dim() == (conv_layout ? 4 : 3));
    const double error = relative_error(encoder.forward_upper(lower, k), expected);
    CHECK(error <= kSplitTolerance);
    worst = std::max(worst, error);
  }
  check_invalid_top_k([&](std::int64_t k) { encoder.forward_lower(pixels, k); }, encoder.num_blocks());
  check_invalid_top_k([&](std::int64_t k) { encoder.forward_upper(pixels, k); }, encoder.num_blocks());
  return worst;
}

/// Each item's hidden rows [:length], zero-padded to `padded_length`, with the matching mask.
std::pair<torch::Tensor, torch::Tensor> repad(const torch::Tensor& hidden, const torch::Tensor& lengths,
                                              std::int64_t padded_length) {
  const std::int64_t batch = hidden.size(0);
  torch::Tensor out = torch::zeros({batch, padded_length, hidden.size(2)}, hidden.options());
  torch::Tensor mask = torch::zeros({batch, padded_length}, torch::kLong);
  for (std::int64_t i = 0; i < batch; ++i) {
    const std::int64_t length = lengths[i].item<std::int64_t>();
    out[i].slice(0, 0, length).copy_(hidden[i].slice(0, 0, length).clone());
    mask[i].slice(0, 0, length).fill_(1);
  }
  return {out, mask};
}

/// Checks every split of a transformer text encoder on a padded batch, and that the cached rows survive
/// re-padding to the exact longest length and to a longer one. Returns the largest error.
double check_text_split(nn::TextEncoderImpl& encoder, const text::TokenBatch& batch) {
  encoder.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor expected = encoder.forward(batch);
  const torch::Tensor lengths = batch.attention_mask.sum(1);
  const std::int64_t longest = lengths.max().item<std::int64_t>();
  REQUIRE(lengths.min().item<std::int64_t>() < longest);  // the batch really mixes lengths
  double worst = 0.0;
  for (std::int64_t k = 0; k < encoder.num_blocks(); ++k) {
    INFO("top_k " << k);
    const torch::Tensor lower = encoder.forward_lower(batch, k);
    CHECK(lower.is_contiguous());
    const double error = relative_error(encoder.forward_upper(lower, batch.attention_mask, k), expected);
    CHECK(error <= kSplitTolerance);
    worst = std::max(worst, error);
    if (k == 0) {
      CHECK(lower.sizes() == expected.sizes());
      continue;
    }
    REQUIRE(lower.sizes() == std::vector<std::int64_t>{batch.ids.size(0), batch.ids.size(1), lower.size(2)});
    for (const std::int64_t padded_length : {longest, batch.ids.size(1) + 7}) {
      INFO("re-padded to " << padded_length);
      const auto [hidden, mask] = repad(lower, lengths, padded_length);
      const double repad_error = relative_error(encoder.forward_upper(hidden, mask, k), expected);
      CHECK(repad_error <= kSplitTolerance);
      worst = std::max(worst, repad_error);
    }
  }
  check_invalid_top_k([&](std::int64_t k) { encoder.forward_lower(batch, k); }, encoder.num_blocks());
  check_invalid_top_k([&](std::int64_t k) { encoder.forward_upper(expected, batch.attention_mask, k); },
                      encoder.num_blocks());
  return worst;
}

/// A batch of `lengths` random tokens in [low, high) padded with `pad` (and `last` as each row's final token
/// when given, as CLIP's EOS).
text::TokenBatch random_batch(const std::vector<std::int64_t>& lengths, std::int64_t padded_length, std::int64_t low,
                              std::int64_t high, std::int64_t pad, std::int64_t last = -1) {
  const auto batch = static_cast<std::int64_t>(lengths.size());
  torch::Tensor ids = torch::full({batch, padded_length}, pad, torch::kLong);
  torch::Tensor mask = torch::zeros({batch, padded_length}, torch::kLong);
  for (std::int64_t i = 0; i < batch; ++i) {
    const std::int64_t length = lengths[static_cast<std::size_t>(i)];
    ids[i].slice(0, 0, length).copy_(torch::randint(low, high, {length}, torch::kLong));
    if (last >= 0) ids[i][length - 1] = last;
    mask[i].slice(0, 0, length).fill_(1);
  }
  return {ids, mask};
}

/// An encoder with several units and no split of its own: the base class's defaults.
class UnsplitImageEncoder : public nn::ImageEncoderImpl {
 public:
  torch::Tensor forward(const torch::Tensor& pixel_values) override { return pixel_values.mean({2, 3}); }
  std::int64_t feature_dim() const override { return 3; }
  std::int64_t num_blocks() const override { return 3; }
  void set_trainable_top(std::int64_t /*k*/) override {}
};

}  // namespace

TEST_CASE("Split forward of ViT equals forward for every top_k", "[encoder_split]") {
  torch::manual_seed(1);
  {
    nn::ViTEncoderImpl vit(nn::ViTConfig::tiny(), nn::TokenPooling::Pooler);
    const double error = check_image_split(vit, torch::randn({2, 3, 64, 64}), false);
    WARN("ViT tiny (random): max relative error " << error);
  }
  const auto fixture = test::hf_fixture("vit_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/vit_tiny");
  const auto io_tensors = test::read_tensors(*fixture / "io.safetensors");
  for (const auto pooling : {nn::TokenPooling::Cls, nn::TokenPooling::Pooler}) {
    const auto vit = nn::load_vit(fixture->string(), {pooling});
    const double error = check_image_split(*vit, io_tensors.at("in.pixel_values"), false);
    WARN("ViT vit_tiny fixture (" << (pooling == nn::TokenPooling::Cls ? "CLS" : "pooler")
                                  << "): max relative error " << error);
  }
}

TEST_CASE("Split forward of CLIP vision equals forward for every top_k", "[encoder_split]") {
  const auto fixture = test::hf_fixture("clip_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/clip_tiny");
  const auto io_tensors = test::read_tensors(*fixture / "io.safetensors");
  const auto vision = nn::load_clip_vision(fixture->string());
  const double error = check_image_split(*vision, io_tensors.at("in.pixel_values"), false);
  WARN("CLIP vision clip_tiny fixture: max relative error " << error);
}

TEST_CASE("Split forward of BERT equals forward, also after re-padding the cached rows", "[encoder_split]") {
  torch::manual_seed(2);
  {
    nn::BertConfig config = nn::BertConfig::tiny();
    config.vocab_size = 1000;
    nn::BertEncoderImpl bert(config, nn::TokenPooling::Pooler);
    const double error = check_text_split(bert, random_batch({9, 4, 13}, 16, 1, 1000, 0));
    WARN("BERT tiny (random): max relative error " << error);
  }
  const auto fixture = test::hf_fixture("bert_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/bert_tiny");
  const auto io_tensors = test::read_tensors(*fixture / "io.safetensors");
  const text::TokenBatch batch{io_tensors.at("in.input_ids"), io_tensors.at("in.attention_mask")};
  for (const auto pooling : {nn::TokenPooling::Cls, nn::TokenPooling::Pooler}) {
    const auto bert = nn::load_bert(fixture->string(), {pooling});
    const double error = check_text_split(*bert, batch);
    WARN("BERT bert_tiny fixture (" << (pooling == nn::TokenPooling::Cls ? "CLS" : "pooler")
                                    << "): max relative error " << error);
  }
}

TEST_CASE("Split forward of CLIP text pools at the EOS token, also after re-padding", "[encoder_split]") {
  const auto fixture = test::hf_fixture("clip_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/clip_tiny");
  const auto io_tensors = test::read_tensors(*fixture / "io.safetensors");
  const auto text_encoder = nn::load_clip_text(fixture->string());
  const text::TokenBatch batch{io_tensors.at("in.input_ids"), io_tensors.at("in.attention_mask")};
  {
    // The fixture's rows are 10, 30 and 77 tokens: the longest fills every position.
    const double error = check_text_split(*text_encoder, batch);
    WARN("CLIP text clip_tiny fixture: max relative error " << error);
  }
  {
    // Shorter padding than the position table, EOS (999) ending each row, pad 0.
    torch::manual_seed(3);
    const double error = check_text_split(*text_encoder, random_batch({6, 17, 11}, 20, 1, 998, 0, 999));
    WARN("CLIP text clip_tiny, random batch: max relative error " << error);
  }
  // The split pools at the last valid position, so a row whose EOS is not there is refused.
  text::TokenBatch misplaced = random_batch({6, 17}, 20, 1, 998, 0, 999);
  misplaced.attention_mask[0].slice(0, 0, 8).fill_(1);
  CHECK_THROWS_WITH(text_encoder->forward_lower(misplaced, 1), Contains("EOS") && Contains("row 0"));
}

TEST_CASE("Split forward of ResNet equals forward on both paths, lower is NCHW", "[encoder_split]") {
  torch::manual_seed(4);
  {
    nn::ResNet resnet(nn::ResNetConfig::tiny());
    test::perturb_batchnorms(*resnet);
    const torch::Tensor x = torch::randn({2, 3, 64, 64});
    for (const bool fast : {true, false}) {
      resnet->set_fast_inference(fast);
      const double error = check_image_split(*resnet, x, true);
      WARN("ResNet tiny (random, " << (fast ? "fused" : "module") << " path): max relative error " << error);
    }
  }
  const auto root = test::shared_path("fixtures/torchvision", "CLIPMATCH_TORCHVISION_FIXTURES");
  CLIPMATCH_REQUIRE_SHARED(root, "torchvision fixtures");
  const auto folder = *root / "resnet_bottleneck_1111_w16";
  REQUIRE(test::fs::exists(folder / "model.safetensors"));
  auto resnet = nn::load_resnet(folder.string());
  const auto io_file = io::CheckpointReader::open((folder / "io.safetensors").string());
  const double error = check_image_split(*resnet, io_file.load("in.pixel_values"), true);
  WARN("ResNet torchvision fixture (fused path): max relative error " << error);
}

TEST_CASE("Split forward of MobileNetV2 equals forward on both paths, lower is NCHW", "[encoder_split]") {
  torch::manual_seed(5);
  {
    nn::MobileNetV2 mobilenet(nn::MobileNetV2Config::tiny());
    test::perturb_batchnorms(*mobilenet);
    const torch::Tensor x = torch::randn({2, 3, 64, 64});
    for (const bool fast : {true, false}) {
      mobilenet->set_fast_inference(fast);
      const double error = check_image_split(*mobilenet, x, true);
      WARN("MobileNetV2 tiny (random, " << (fast ? "fused" : "module") << " path): max relative error " << error);
    }
  }
  const auto folder = test::shared_path("weights/mobilenet_v2_imagenet", "CLIPMATCH_MOBILENET_V2");
  CLIPMATCH_REQUIRE_SHARED(folder, "MobileNetV2 ImageNet weights");
  auto mobilenet = nn::load_mobilenet_v2(folder->string());
  const auto io_file = io::CheckpointReader::open((*folder / "io.safetensors").string());
  const double error = check_image_split(*mobilenet, io_file.load("in.pixel_values"), true);
  WARN("MobileNetV2 ImageNet weights (fused path): max relative error " << error);
}

TEST_CASE("Training through the upper part: fused frozen lower, module upper, gradients reach the top",
          "[encoder_split]") {
  torch::manual_seed(6);
  SECTION("MobileNetV2") {
    nn::MobileNetV2 mobilenet(nn::MobileNetV2Config::tiny());
    test::perturb_batchnorms(*mobilenet);
    mobilenet->eval();
    const torch::Tensor x = torch::randn({2, 3, 64, 64});
    const std::int64_t k = 3;
    torch::Tensor reference;
    {
      torch::NoGradGuard no_grad;
      mobilenet->set_fast_inference(false);
      reference = mobilenet->forward(x);
      mobilenet->set_fast_inference(true);
    }
    mobilenet->set_trainable_top(k);
    const torch::Tensor lower = mobilenet->forward_lower(x, k);  // frozen part: the folded path, no graph
    CHECK_FALSE(lower.requires_grad());
    const torch::Tensor features = mobilenet->forward_upper(lower.detach(), k);
    REQUIRE(features.requires_grad());
    const double error = relative_error(features.detach(), reference);
    WARN("MobileNetV2 tiny: fused lower + module upper vs module forward: max relative error " << error);
    CHECK(error <= 1e-4);
    features.pow(2).sum().backward();
    const std::int64_t first_top = mobilenet->num_blocks() - k;
    std::int64_t with_grad = 0;
    for (const auto& item : mobilenet->named_parameters()) {
      const int block = std::stoi(item.key().substr(std::string("features.").size()));
      INFO(item.key());
      CHECK(item.value().grad().defined() == (block >= first_top));
      with_grad += item.value().grad().defined();
    }
    CHECK(with_grad > 0);
  }
  SECTION("BERT") {
    nn::BertConfig config = nn::BertConfig::tiny();
    config.vocab_size = 500;
    nn::BertEncoderImpl bert(config, nn::TokenPooling::Pooler);
    bert.eval();
    const text::TokenBatch batch = random_batch({7, 3}, 8, 1, 500, 0);
    bert.set_trainable_top(1);
    const torch::Tensor lower = bert.forward_lower(batch, 1);
    bert.forward_upper(lower.detach(), batch.attention_mask, 1).sum().backward();
    for (const auto& item : bert.named_parameters()) {
      INFO(item.key());
      const bool top = item.key().rfind("encoder.blocks.3.", 0) == 0 || item.key().rfind("pooler.", 0) == 0;
      CHECK(item.value().grad().defined() == top);
    }
  }
}

TEST_CASE("Split forward defaults: top_k 0 only, for word vectors and unsplit encoders", "[encoder_split]") {
  nn::WordVectorConfig config;
  config.vocab_size = 20;
  config.dim = 6;
  nn::WordVectorEncoderImpl words(config);
  const text::TokenBatch batch = random_batch({3, 5}, 5, 0, 20, 0);
  torch::NoGradGuard no_grad;
  const torch::Tensor lower = words.forward_lower(batch, 0);
  CHECK(torch::equal(lower, words.forward(batch)));
  CHECK(torch::equal(words.forward_upper(lower, batch.attention_mask, 0), lower));
  CHECK_THROWS_AS(words.forward_lower(batch, 1), Error);  // k >= num_blocks(): nothing frozen to cache
  CHECK_THROWS_AS(words.forward_upper(lower, batch.attention_mask, 1), Error);
  CHECK_THROWS_AS(words.forward_lower(batch, -1), Error);

  UnsplitImageEncoder unsplit;
  const torch::Tensor x = torch::randn({2, 3, 4, 4});
  CHECK(torch::equal(unsplit.forward_upper(unsplit.forward_lower(x, 0), 0), unsplit.forward(x)));
  try {
    unsplit.forward_lower(x, 1);
    FAIL("expected Unsupported");
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::Unsupported);
    CHECK_THAT(error.what(), Contains("UnsplitImageEncoder"));
  }
  CHECK_THROWS_AS(unsplit.forward_upper(x, 2), Error);
  CHECK_THROWS_AS(unsplit.forward_lower(x, 3), Error);

  // Wrongly shaped cached inputs are reported, not crashed on.
  nn::ResNet resnet(nn::ResNetConfig::tiny());
  resnet->eval();
  CHECK_THROWS_WITH(resnet->forward_upper(torch::zeros({1, 5, 8, 8}), 2), Contains("feature maps"));
  nn::MobileNetV2 mobilenet(nn::MobileNetV2Config::tiny());
  mobilenet->eval();
  CHECK_THROWS_WITH(mobilenet->forward_upper(torch::zeros({1, 5, 8, 8}), 2), Contains("feature maps"));
  nn::BertConfig bert_config = nn::BertConfig::tiny();
  bert_config.vocab_size = 50;
  nn::BertEncoderImpl bert(bert_config);
  CHECK_THROWS_WITH(bert.forward_upper(torch::zeros({2, 4, 128}), torch::ones({2, 5}), 1), Contains("attention_mask"));
  CHECK_THROWS_WITH(bert.forward_upper(torch::zeros({2, 4, 7}), torch::Tensor(), 1), Contains("hidden states"));
}
