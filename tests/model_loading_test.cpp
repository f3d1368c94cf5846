// Loading pretrained encoders fast without changing what is loaded: layers whose random draws a checkpoint
// makes redundant, reading checkpoint tensors in place, and the one-pass finiteness check.
#include "hf_fixture_support.hpp"
#include "io/checkpoint.hpp"
#include "io/torch_tensor.hpp"
#include "nn/bert.hpp"
#include "nn/loadable_layers.hpp"
#include "nn/transformer_factory.hpp"
#include "nn/weight_loader.hpp"

#include <clipmatch/error.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>

using namespace clipmatch;
using Catch::Matchers::Contains;

namespace {

torch::Tensor default_generator_state() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

}  // namespace

TEST_CASE("LinearLayer and EmbeddingTable draw exactly what LibTorch's layers draw", "[loading]") {
  for (const bool with_bias : {true, false}) {
    torch::manual_seed(7);
    torch::nn::Linear reference(torch::nn::LinearOptions(24, 40).bias(with_bias));
    torch::manual_seed(7);
    nn::LinearLayer ours(24, 40, with_bias);
    CHECK(torch::equal(ours->weight, reference->weight));
    CHECK(ours->bias.defined() == with_bias);
    if (with_bias) CHECK(torch::equal(ours->bias, reference->bias));
    const auto x = torch::randn({3, 24});
    CHECK(torch::allclose(ours(x), reference(x)));
    // Same names, so checkpoints and feature-cache keys do not change.
    CHECK(ours->named_parameters().keys() == reference->named_parameters().keys());
  }
  torch::manual_seed(3);
  torch::nn::Embedding reference(50, 16);
  torch::manual_seed(3);
  nn::EmbeddingTable ours(50, 16);
  CHECK(torch::equal(ours->weight, reference->weight));
  const auto ids = torch::tensor({4, 0, 49, 4}, torch::kInt64);
  CHECK(torch::equal(ours(ids), reference(ids)));
}

TEST_CASE("SkipInitialDraws leaves the random stream alone and nests", "[loading]") {
  torch::manual_seed(11);
  const auto before = default_generator_state();
  {
    nn::SkipInitialDraws outer;
    {
      nn::SkipInitialDraws inner;
      nn::BertEncoderImpl bert(nn::BertConfig::tiny());
    }
    CHECK(nn::SkipInitialDraws::active());
    nn::LinearLayer layer(8, 8);
    CHECK(layer->weight.sizes() == torch::IntArrayRef({8, 8}));
  }
  CHECK_FALSE(nn::SkipInitialDraws::active());
  CHECK(torch::equal(default_generator_state(), before));
  nn::LinearLayer drawn(8, 8);  // outside any scope the draws happen again
  CHECK_FALSE(torch::equal(default_generator_state(), before));
}

TEST_CASE("a transformer loaded without initial draws equals the checkpoint, tensor for tensor", "[loading][hf]") {
  const auto fixture = test::hf_fixture("bert_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/bert_tiny");
  torch::manual_seed(5);
  const auto before = default_generator_state();
  const auto model = nn::load_bert(fixture->string());
  CHECK(torch::equal(default_generator_state(), before));  // nothing was drawn and thrown away
  const auto checkpoint = test::read_tensors(*fixture / "model.safetensors");
  const auto rename = nn::bert_checkpoint_rename();
  std::size_t compared = 0;
  const auto parameters = model->named_parameters();
  for (const auto& [name, tensor] : checkpoint) {
    const auto ours = rename(name);
    if (!ours || parameters.find(*ours) == nullptr) continue;
    INFO(name);
    CHECK(torch::equal(parameters[*ours], tensor.to(torch::kFloat32)));
    ++compared;
  }
  CHECK(compared == parameters.size());
}

TEST_CASE("all_finite finds a NaN or infinity in every float type, and loading refuses it by name", "[loading]") {
  for (const auto type : {torch::kFloat32, torch::kFloat64, torch::kFloat16, torch::kBFloat16}) {
    INFO(c10::toString(type));
    // Large enough to be split across the intra-op threads; the extremes of each type are finite.
    auto values = torch::linspace(-1, 1, 300001, torch::kFloat64).to(type);
    values[7] = std::numeric_limits<double>::denorm_min();
    values[8] = type == torch::kFloat16 ? 65504.0 : (type == torch::kBFloat16 ? 3.3895313892515355e38 : 3.0e38);
    CHECK(nn::all_finite(values));
    for (const double bad : {std::nan(""), std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
      auto copy = values.clone();
      copy[250000] = bad;
      CHECK_FALSE(nn::all_finite(copy));
      // A non-contiguous view is checked through a contiguous copy.
      CHECK_FALSE(nn::all_finite(copy.slice(0, 0, 300001, 2).slice(0, 124999, 125001)));
    }
  }
  CHECK(nn::all_finite(torch::arange(10)));

  const auto fixture = test::hf_fixture("bert_tiny");
  CLIPMATCH_REQUIRE_SHARED(fixture, "fixtures/hf/bert_tiny");
  auto tensors = test::read_tensors(*fixture / "model.safetensors");
  test::TempDir dir;
  const std::string victim = "encoder.layer.1.intermediate.dense.weight";
  REQUIRE(tensors.count(victim) == 1);
  SECTION("a NaN in a float32 tensor") {
    tensors[victim][3][5] = std::nanf("");
  }
  SECTION("a float64 value beyond float32's range overflows the parameter") {
    tensors[victim] = tensors[victim].to(torch::kFloat64);
    tensors[victim][0][0] = 1e300;
  }
  SECTION("an infinity in a bfloat16 tensor") {
    tensors[victim] = tensors[victim].to(torch::kBFloat16);
    tensors[victim][1][1] = -std::numeric_limits<float>::infinity();
  }
  test::write_checkpoint(dir.path(), tensors, *fixture);
  CHECK_THROWS_WITH(nn::load_bert(dir.path().string()), Contains("model.safetensors") && Contains(victim) && Contains("NaN"));
}

TEST_CASE("borrow_or_copy reads aligned tensors in place and copies the rest", "[loading]") {
  test::TempDir dir;
  // A 3-byte uint8 tensor first leaves the float32 one after it unaligned in the file.
  const auto odd = torch::tensor({1, 2, 3}, torch::kUInt8);
  const auto values = torch::randn({5, 7});
  const auto ints = torch::tensor({1, 65535, 7}, torch::kInt32);
  std::vector<io::OwnedTensor> owned{io::from_torch("a_odd", odd), io::from_torch("b_values", values)};
  std::vector<TensorView> views{owned[0].view, owned[1].view};
  const auto path = (dir.path() / "mixed.safetensors").string();
  write_safetensors(path, views);
  const SafetensorsFile file = SafetensorsFile::open(path);
  for (const char* name : {"a_odd", "b_values"}) {
    const TensorView& view = file.tensor(name);
    const torch::Tensor read = io::borrow_or_copy(view);
    const bool aligned = reinterpret_cast<std::uintptr_t>(view.data) % dtype_size(view.dtype) == 0;
    if (std::string(name) == "b_values") REQUIRE_FALSE(aligned);  // the case this test is for
    CHECK((read.data_ptr() == view.data) == aligned);  // in place exactly when LibTorch may read it there
    CHECK(torch::equal(read, std::string(name) == "a_odd" ? odd : values));
  }
  const io::OwnedTensor in_memory = io::from_torch("ints", ints);
  CHECK(io::borrow_or_copy(in_memory.view).data_ptr() == in_memory.view.data);
  CHECK(torch::equal(io::borrow_or_copy(in_memory.view), ints));
}
