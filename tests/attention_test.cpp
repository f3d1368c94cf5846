#include "nn/attention.hpp"

#include "test_support.hpp"

using namespace clipmatch;

namespace {

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_CASE("fused attention equals the matmul-softmax fallback", "[attention]") {
  torch::manual_seed(3);
  const torch::Tensor q = torch::randn({2, 4, 7, 16}), k = torch::randn({2, 4, 7, 16}), v = torch::randn({2, 4, 7, 16});
  const torch::Tensor padding = torch::tensor({1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1}, torch::kLong).view({2, 7});
  const torch::Tensor mask = nn::padding_to_additive_mask(padding, torch::kFloat);
  INFO("fused kernel in this build: " << nn::fused_attention_available());
  for (const bool causal : {false, true}) {
    INFO("causal " << causal);
    CHECK(max_diff(nn::attend(q, k, v, torch::Tensor(), causal), nn::attend_reference(q, k, v, torch::Tensor(), causal)) < 1e-5);
    CHECK(max_diff(nn::attend(q, k, v, mask, causal), nn::attend_reference(q, k, v, mask, causal)) < 1e-5);
  }
}

TEST_CASE("attention masks hide what they should", "[attention]") {
  torch::manual_seed(4);
  const torch::Tensor q = torch::randn({1, 2, 5, 8}), k = torch::randn({1, 2, 5, 8}), v = torch::randn({1, 2, 5, 8});
  for (const auto& attention : {&nn::attend, &nn::attend_reference}) {
    // Causal: the first query sees only the first key, so its output is the first value.
    const torch::Tensor causal = attention(q, k, v, torch::Tensor(), true);
    CHECK(max_diff(causal.select(2, 0), v.select(2, 0)) < 1e-5);
    // Causal: changing the last key/value leaves every earlier position unchanged.
    torch::Tensor k2 = k.clone(), v2 = v.clone();
    k2.select(2, 4).fill_(3.0);
    v2.select(2, 4).fill_(-3.0);
    CHECK(max_diff(attention(q, k2, v2, torch::Tensor(), true).slice(2, 0, 4), causal.slice(2, 0, 4)) < 1e-5);
    // Padding: a hidden key/value has no influence on any query.
    const torch::Tensor mask = nn::padding_to_additive_mask(torch::tensor({1, 1, 1, 1, 0}).view({1, 5}), torch::kFloat);
    CHECK(max_diff(attention(q, k2, v2, mask, false), attention(q, k, v, mask, false)) < 1e-5);
    // Padding and causal together, every key hidden for some rows: outputs stay finite.
    const torch::Tensor none = nn::padding_to_additive_mask(torch::zeros({1, 5}, torch::kLong), torch::kFloat);
    CHECK(torch::isfinite(attention(q, k, v, none, true)).all().item<bool>());
  }
}

TEST_CASE("attention masks have the documented shapes and values", "[attention]") {
  const torch::Tensor mask = nn::padding_to_additive_mask(torch::tensor({1, 0}).view({1, 2}), torch::kFloat);
  CHECK(mask.sizes() == torch::IntArrayRef({1, 1, 1, 2}));
  CHECK_FALSE(nn::padding_to_additive_mask(torch::Tensor(), torch::kFloat).defined());  // no padding, no mask
  CHECK(mask[0][0][0][0].item<float>() == 0.0f);
  CHECK(mask[0][0][0][1].item<float>() == std::numeric_limits<float>::lowest());
  const torch::Tensor causal = nn::causal_additive_mask(3, torch::kFloat, torch::kCPU);
  CHECK(causal[0][1].item<float>() == std::numeric_limits<float>::lowest());
  CHECK(causal[1][0].item<float>() == 0.0f);
  CHECK(causal[2][2].item<float>() == 0.0f);
}
