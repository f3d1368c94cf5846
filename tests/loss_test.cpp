// Contrastive losses against values worked out with plain doubles, and the learnable temperature.
#include "train/loss.hpp"

#include <clipmatch/error.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using namespace clipmatch;
using Matrix = std::vector<std::vector<double>>;

namespace {

torch::Tensor to_tensor(const Matrix& m) {
  torch::Tensor t = torch::empty({static_cast<std::int64_t>(m.size()), static_cast<std::int64_t>(m[0].size())},
                                 torch::kFloat64);
  for (std::size_t i = 0; i < m.size(); ++i)
    for (std::size_t j = 0; j < m[0].size(); ++j) t[static_cast<std::int64_t>(i)][static_cast<std::int64_t>(j)] = m[i][j];
  return t;
}

Matrix normalised(Matrix m) {
  for (auto& row : m) {
    double norm = 0;
    for (double v : row) norm += v * v;
    for (double& v : row) v /= std::sqrt(norm);
  }
  return m;
}

Matrix logits_of(const Matrix& image, const Matrix& text, double t) {
  Matrix logits(image.size(), std::vector<double>(text.size(), 0.0));
  for (std::size_t i = 0; i < image.size(); ++i)
    for (std::size_t j = 0; j < text.size(); ++j) {
      for (std::size_t k = 0; k < image[0].size(); ++k) logits[i][j] += image[i][k] * text[j][k];
      logits[i][j] *= std::exp(t);
    }
  return logits;
}

Matrix transposed(const Matrix& m) {
  Matrix t(m[0].size(), std::vector<double>(m.size()));
  for (std::size_t i = 0; i < m.size(); ++i)
    for (std::size_t j = 0; j < m[0].size(); ++j) t[j][i] = m[i][j];
  return t;
}

// Mean over rows of −Σ_j target_ij · log softmax(logits_i)_j.
double soft_cross_entropy(const Matrix& logits, const Matrix& target) {
  double total = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    double denom = 0;
    for (double v : logits[i]) denom += std::exp(v);
    for (std::size_t j = 0; j < logits[i].size(); ++j) total -= target[i][j] * (logits[i][j] - std::log(denom));
  }
  return total / static_cast<double>(logits.size());
}

Matrix identity(std::size_t n) {
  Matrix m(n, std::vector<double>(n, 0.0));
  for (std::size_t i = 0; i < n; ++i) m[i][i] = 1.0;
  return m;
}

double value(const torch::Tensor& t) { return t.item<double>(); }

}  // namespace

TEST_CASE("InfoNCE: 2x2 closed form", "[loss]") {
  // image = text = I, t = 0: logits = I, each row's CE = log(1 + e^-1) in both directions.
  const torch::Tensor eye = torch::eye(2, torch::kFloat64);
  CHECK(value(train::clip_infonce_loss(eye, eye, torch::tensor(0.0, torch::kFloat64))) ==
        Approx(std::log(1 + std::exp(-1.0))).epsilon(1e-12));
  // 2x2 with an off-diagonal cosine of 0.6 and t = log 2: rows [2, 1.2], [0, 1.6]; columns [2, 0], [1.2, 1.6].
  const Matrix image = {{1, 0}, {0, 1}}, text = {{1, 0}, {0.6, 0.8}};
  const double row_ce = (std::log(std::exp(2.0) + std::exp(1.2)) - 2.0 + std::log(1.0 + std::exp(1.6)) - 1.6) / 2;
  const double col_ce = (std::log(std::exp(2.0) + 1.0) - 2.0 + std::log(std::exp(1.2) + std::exp(1.6)) - 1.6) / 2;
  CHECK(value(train::clip_infonce_loss(to_tensor(image), to_tensor(text), torch::tensor(std::log(2.0), torch::kFloat64))) ==
        Approx((row_ce + col_ce) / 2).epsilon(1e-12));
}

TEST_CASE("InfoNCE: 3x3 against a plain-double computation, float32 too", "[loss]") {
  const Matrix image = normalised({{1, 2, 0.5}, {-1, 0.3, 2}, {0.2, -0.7, 1}});
  const Matrix text = normalised({{0.9, 2.2, 0.1}, {-0.5, 0.1, 1.5}, {1, -1, 0.4}});
  const double t = 1.0;
  const Matrix logits = logits_of(image, text, t);
  const double expected = (soft_cross_entropy(logits, identity(3)) + soft_cross_entropy(transposed(logits), identity(3))) / 2;
  CHECK(value(train::clip_infonce_loss(to_tensor(image), to_tensor(text), torch::tensor(t, torch::kFloat64))) ==
        Approx(expected).epsilon(1e-12));
  CHECK(value(train::clip_infonce_loss(to_tensor(image).to(torch::kFloat32), to_tensor(text).to(torch::kFloat32),
                                       torch::tensor(t))) == Approx(expected).epsilon(1e-5));
  // Swapping the roles swaps the two directions: the symmetric loss is unchanged.
  CHECK(value(train::clip_infonce_loss(to_tensor(text), to_tensor(image), torch::tensor(t, torch::kFloat64))) ==
        Approx(expected).epsilon(1e-12));
}

TEST_CASE("SigLIP: closed form and 3x3 with the paper's init", "[loss]") {
  // I vs I, t = 0, b = 0: diagonal logits 1 (label +1), off-diagonal 0 (label −1).
  // loss = −(2·log σ(1) + 2·log σ(0)) / 2 = log(1 + e^-1) + log 2.
  const torch::Tensor eye = torch::eye(2, torch::kFloat64);
  const torch::Tensor zero = torch::tensor(0.0, torch::kFloat64);
  CHECK(value(train::siglip_loss(eye, eye, zero, zero)) == Approx(std::log(1 + std::exp(-1.0)) + std::log(2.0)));

  const Matrix image = normalised({{1, 2, 0.5}, {-1, 0.3, 2}, {0.2, -0.7, 1}});
  const Matrix text = normalised({{0.9, 2.2, 0.1}, {-0.5, 0.1, 1.5}, {1, -1, 0.4}});
  const double t = std::log(10.0), b = -10.0;
  const Matrix logits = logits_of(image, text, t);
  double expected = 0;
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      const double z = (i == j ? 1.0 : -1.0) * (logits[i][j] + b);
      expected -= std::log(1.0 / (1.0 + std::exp(-z)));
    }
  expected /= 3;
  CHECK(value(train::siglip_loss(to_tensor(image), to_tensor(text), torch::tensor(t, torch::kFloat64),
                                 torch::tensor(b, torch::kFloat64))) == Approx(expected).epsilon(1e-12));
}

TEST_CASE("genre soft targets: Jaccard weights, normalised rows", "[loss]") {
  // Movie 0: {a, b}; movie 1: {a}; movie 2: {c}; movie 3: no genres.
  const torch::Tensor genres = torch::tensor({1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0}).reshape({4, 3});
  const torch::Tensor targets = train::genre_soft_targets(genres, 0.5);
  // Jaccard(0, 1) = 1/2 → weight 0.25; row 0 = [1, 0.25, 0, 0] / 1.25.
  CHECK(targets[0][0].item<double>() == Approx(0.8));
  CHECK(targets[0][1].item<double>() == Approx(0.2));
  CHECK(targets[1][0].item<double>() == Approx(0.2));
  CHECK(targets[2][2].item<double>() == Approx(1.0));
  CHECK(targets[3][3].item<double>() == Approx(1.0));  // no genres: only itself, not a match with other blanks
  CHECK(torch::allclose(targets.sum(1), torch::ones({4})));
  CHECK(torch::equal(train::genre_soft_targets(genres, 0.0), torch::eye(4)));
  CHECK_THROWS_AS(train::genre_soft_targets(genres, -1.0), Error);
}

TEST_CASE("multi-positive InfoNCE: reduces to InfoNCE without shared genres, else soft CE", "[loss]") {
  const Matrix image = normalised({{1, 2, 0.5}, {-1, 0.3, 2}, {0.2, -0.7, 1}});
  const Matrix text = normalised({{0.9, 2.2, 0.1}, {-0.5, 0.1, 1.5}, {1, -1, 0.4}});
  const torch::Tensor t = torch::tensor(0.7, torch::kFloat64);
  const torch::Tensor disjoint = torch::eye(3);
  const torch::Tensor targets = train::genre_soft_targets(disjoint, 0.8).to(torch::kFloat64);
  CHECK(value(train::multi_positive_infonce_loss(to_tensor(image), to_tensor(text), t, targets)) ==
        Approx(value(train::clip_infonce_loss(to_tensor(image), to_tensor(text), t))).epsilon(1e-12));

  // Movies 0 and 1 share one of two genres each side → Jaccard 1/3, weight 0.5 → w01 = 1/6.
  const torch::Tensor shared = torch::tensor({1, 1, 0, 1, 0, 1, 0, 0, 0}).reshape({3, 3});
  const torch::Tensor soft = train::genre_soft_targets(shared, 0.5);
  const double w = 0.5 / 3.0;
  const Matrix target = {{1 / (1 + w), w / (1 + w), 0}, {w / (1 + w), 1 / (1 + w), 0}, {0, 0, 1}};
  CHECK(torch::allclose(soft.to(torch::kFloat64), to_tensor(target)));
  const Matrix logits = logits_of(image, text, 0.7);
  const double expected = (soft_cross_entropy(logits, target) + soft_cross_entropy(transposed(logits), target)) / 2;
  CHECK(value(train::multi_positive_infonce_loss(to_tensor(image), to_tensor(text), t, to_tensor(target))) ==
        Approx(expected).epsilon(1e-12));
  CHECK_THROWS_AS(train::multi_positive_infonce_loss(to_tensor(image), to_tensor(text), t, torch::eye(2)), Error);
}

TEST_CASE("LearnableTemperature: inits, clamp, gradient reaches t", "[loss]") {
  train::LearnableTemperature clip;
  CHECK(clip->scale().item<double>() == Approx(1 / 0.07));
  CHECK_FALSE(clip->has_bias());
  train::LearnableTemperature course(train::TemperatureOptions::course());
  CHECK(course->log_scale().item<double>() == Approx(1.0));
  train::LearnableTemperature siglip(train::TemperatureOptions::siglip());
  REQUIRE(siglip->has_bias());
  CHECK(siglip->scale().item<double>() == Approx(10.0));
  CHECK(siglip->bias().item<double>() == Approx(-10.0));
  CHECK(siglip->parameters().size() == 2);

  train::LearnableTemperature big(train::TemperatureOptions{6.0, std::log(100.0), std::nullopt});
  CHECK(big->scale().item<double>() == Approx(100.0));
  CHECK(big->raw_log_scale().item<double>() == Approx(6.0));
  big->clamp_();
  CHECK(big->raw_log_scale().item<double>() == Approx(std::log(100.0)));

  // d loss / d t against a central finite difference.
  torch::manual_seed(0);
  const torch::Tensor image = torch::nn::functional::normalize(torch::randn({5, 4}, torch::kFloat64),
                                                               torch::nn::functional::NormalizeFuncOptions().dim(1));
  const torch::Tensor text = torch::nn::functional::normalize(torch::randn({5, 4}, torch::kFloat64),
                                                              torch::nn::functional::NormalizeFuncOptions().dim(1));
  train::LearnableTemperature temp(train::TemperatureOptions::course());
  temp->to(torch::kFloat64);
  const torch::Tensor loss = train::clip_infonce_loss(image, text, temp->log_scale());
  loss.backward();
  const torch::Tensor grad = temp->raw_log_scale().grad();
  REQUIRE(grad.defined());
  const double h = 1e-6;
  const double numeric = (value(train::clip_infonce_loss(image, text, torch::tensor(1.0 + h, torch::kFloat64))) -
                          value(train::clip_infonce_loss(image, text, torch::tensor(1.0 - h, torch::kFloat64)))) / (2 * h);
  CHECK(grad.item<double>() != 0.0);
  CHECK(grad.item<double>() == Approx(numeric).epsilon(1e-6));

  siglip->to(torch::kFloat64);
  train::siglip_loss(image, text, siglip->log_scale(), siglip->bias()).backward();
  CHECK(siglip->bias().grad().defined());
  CHECK(siglip->raw_log_scale().grad().item<double>() != 0.0);
}

TEST_CASE("losses refuse mismatched input", "[loss]") {
  const torch::Tensor a = torch::eye(3), b = torch::eye(2);
  CHECK_THROWS_AS(train::clip_infonce_loss(a, b, torch::tensor(0.0)), Error);
  CHECK_THROWS_AS(train::siglip_loss(a, a, torch::tensor(0.0), torch::Tensor()), Error);
  CHECK_THROWS_AS(train::clip_infonce_loss(torch::empty({0, 3}), torch::empty({0, 3}), torch::tensor(0.0)), Error);
}
