// AdamW groups, the warm-up + cosine schedule, ReduceLROnPlateau and gradient clipping.
#include "hf_fixture_support.hpp"
#include "train/adamw.hpp"
#include "train/optim.hpp"

#include <clipmatch/error.hpp>

#include <catch2/catch.hpp>

#include <cmath>

using namespace clipmatch;
using Catch::Matchers::Contains;

namespace {

struct TwoGroups {
  torch::Tensor head = torch::ones({3}, torch::requires_grad());
  torch::Tensor block = torch::ones({2, 2}, torch::requires_grad());
  torch::Tensor frozen = torch::ones({4});  // no grad: must be dropped
  std::unique_ptr<torch::optim::AdamW> optimizer = train::make_adamw(
      {{"heads", {head}, 1e-3, 0.01}, {"blocks", {block, frozen}, 1e-5, 0.0}});
};

}  // namespace

TEST_CASE("make_adamw: groups with their own lr and decay, frozen tensors dropped", "[optim]") {
  TwoGroups g;
  REQUIRE(g.optimizer->param_groups().size() == 2);
  CHECK(g.optimizer->param_groups()[1].params().size() == 1);
  CHECK(train::learning_rates(*g.optimizer) == std::vector<double>{1e-3, 1e-5});
  const auto& options = static_cast<const torch::optim::AdamWOptions&>(g.optimizer->param_groups()[0].options());
  CHECK(options.weight_decay() == Approx(0.01));

  std::vector<std::string> kept;
  torch::Tensor p = torch::zeros({2}, torch::requires_grad());
  train::make_adamw({{"empty", {torch::zeros({1})}, 1e-3, 0}, {"p", {p}, 1e-3, 0}}, {}, &kept);
  CHECK(kept == std::vector<std::string>{"p"});
  CHECK_THROWS_WITH(train::make_adamw({{"a", {p}, 1e-3, 0}, {"b", {p}, 1e-4, 0}}), Contains("'b'"));
  CHECK_THROWS_WITH(train::make_adamw({{"none", {torch::zeros({1})}, 1e-3, 0}}), Contains("no parameter group"));
  CHECK_THROWS_AS(train::make_adamw({{"neg", {p}, -1.0, 0}}), Error);
}

TEST_CASE("warm-up + cosine schedule values", "[optim]") {
  TwoGroups g;
  train::WarmupCosineSchedule schedule(*g.optimizer, /*warmup=*/10, /*total=*/110, /*min_ratio=*/0.1);
  CHECK(schedule.factor(0) == Approx(0.1));
  CHECK(schedule.factor(4) == Approx(0.5));
  CHECK(schedule.factor(9) == Approx(1.0));
  CHECK(schedule.factor(10) == Approx(1.0));
  CHECK(schedule.factor(35) == Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.25))));
  CHECK(schedule.factor(60) == Approx(0.55));
  CHECK(schedule.factor(110) == Approx(0.1));
  CHECK(schedule.factor(1000) == Approx(0.1));
  schedule.apply(60);
  const auto lrs = train::learning_rates(*g.optimizer);
  CHECK(lrs[0] == Approx(0.55e-3));
  CHECK(lrs[1] == Approx(0.55e-5));
  schedule.apply(10);  // factors apply to the base rates, not to whatever the lr is now
  CHECK(train::learning_rates(*g.optimizer)[0] == Approx(1e-3));

  train::WarmupCosineSchedule no_warmup(*g.optimizer, 0, 4);
  CHECK(no_warmup.factor(0) == Approx(1.0));
  CHECK(no_warmup.factor(2) == Approx(0.5));
  CHECK(no_warmup.factor(4) == Approx(0.0).margin(1e-12));
  CHECK_THROWS_AS(train::WarmupCosineSchedule(*g.optimizer, 1, 0), Error);
  CHECK_THROWS_AS(train::WarmupCosineSchedule(*g.optimizer, 1, 10, 1.5), Error);
}

TEST_CASE("the scheduled lr is the one the optimiser uses", "[optim]") {
  TwoGroups g;
  train::WarmupCosineSchedule schedule(*g.optimizer, 0, 1, 0.0);
  schedule.apply(1);  // factor 0: lr 0, and head has weight decay only through lr → no movement
  g.head.sum().backward();
  g.optimizer->step();
  CHECK(torch::equal(g.head, torch::ones({3})));
  schedule.apply(0);
  g.optimizer->step();
  CHECK(g.head[0].item<double>() < 1.0);
}

TEST_CASE("ReduceLROnPlateau: max mode, patience, cooldown, min_lr", "[optim]") {
  TwoGroups g;
  train::ReduceLROnPlateau::Options options;
  options.mode = train::ReduceLROnPlateau::Mode::Max;
  options.factor = 0.5;
  options.patience = 2;
  options.cooldown = 1;
  options.min_lr = 3e-4;
  train::ReduceLROnPlateau plateau(*g.optimizer, options);
  CHECK_FALSE(plateau.step(0.30));   // best
  CHECK_FALSE(plateau.step(0.30));   // 1 bad (equal is not better)
  CHECK_FALSE(plateau.step(0.29));   // 2 bad
  CHECK(plateau.step(0.25));         // 3 bad > patience → reduce
  CHECK(train::learning_rates(*g.optimizer)[0] == Approx(5e-4));
  CHECK(train::learning_rates(*g.optimizer)[1] == Approx(1e-5));  // already below min_lr: never raised
  CHECK(plateau.reductions() == 1);
  CHECK_FALSE(plateau.step(0.2));    // cooldown: not counted
  CHECK_FALSE(plateau.step(0.2));    // 1 bad
  CHECK_FALSE(plateau.step(0.2));    // 2 bad
  CHECK(plateau.step(0.2));          // reduce again, now floored at min_lr
  CHECK(train::learning_rates(*g.optimizer)[0] == Approx(3e-4));
  CHECK_FALSE(plateau.step(0.31));   // cooldown
  CHECK(plateau.best() == Approx(0.31));
  CHECK_THROWS_AS(plateau.step(std::nan("")), Error);
}

TEST_CASE("ReduceLROnPlateau: min mode on a loss with relative threshold", "[optim]") {
  torch::Tensor p = torch::zeros({1}, torch::requires_grad());
  auto optimizer = train::make_adamw({{"p", {p}, 1.0, 0.0}});
  train::ReduceLROnPlateau::Options options;
  options.mode = train::ReduceLROnPlateau::Mode::Min;
  options.factor = 0.1;
  options.patience = 0;
  options.threshold = 0.01;
  train::ReduceLROnPlateau plateau(*optimizer, options);
  CHECK_FALSE(plateau.step(1.0));
  CHECK_FALSE(plateau.step(0.98));   // 2 % better: improvement
  CHECK(plateau.step(0.975));        // only 0.5 % better: counts as bad, patience 0 → reduce
  CHECK(train::learning_rates(*optimizer)[0] == Approx(0.1));
  CHECK_THROWS_AS(train::ReduceLROnPlateau(*optimizer, {train::ReduceLROnPlateau::Mode::Min, 1.5}), Error);
}

TEST_CASE("gradient clipping by global norm", "[optim]") {
  torch::Tensor a = torch::zeros({2}, torch::requires_grad());
  torch::Tensor b = torch::zeros({1}, torch::requires_grad());
  torch::Tensor unused = torch::zeros({1}, torch::requires_grad());
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  b.mutable_grad() = torch::tensor({4.0f});
  CHECK(train::clip_gradients({a, b, unused}, 10.0) == Approx(5.0));
  CHECK(a.grad()[0].item<float>() == Approx(3.0));  // under the limit: untouched
  CHECK(train::clip_gradients({a, b, unused}, 1.0) == Approx(5.0));
  CHECK(a.grad()[0].item<float>() == Approx(0.6).epsilon(1e-5));
  CHECK(b.grad()[0].item<float>() == Approx(0.8).epsilon(1e-5));
  CHECK(train::clip_gradients({unused}, 1.0) == 0.0);
  b.mutable_grad() = torch::tensor({std::nanf("")});
  CHECK_THROWS_WITH(train::clip_gradients({a, b}, 1.0), Contains("not finite"));
  CHECK(a.grad()[0].item<float>() == Approx(0.6).epsilon(1e-5));  // refused before scaling
}

TEST_CASE("multi-tensor AdamW takes LibTorch's AdamW steps, state included", "[optim]") {
  const std::vector<std::vector<std::int64_t>> shapes = {{5, 3}, {7}, {2, 2, 4}, {1}};
  const auto make_params = [&] {
    torch::manual_seed(3);
    std::vector<torch::Tensor> params;
    for (const auto& shape : shapes) params.push_back(torch::randn(shape).requires_grad_());
    return params;
  };
  auto ours_params = make_params();
  auto reference_params = make_params();
  const auto groups = [](const std::vector<torch::Tensor>& p) {
    return std::vector<train::ParamGroupSpec>{{"heads", {p[0], p[1]}, 1e-2, 0.05}, {"blocks", {p[2], p[3]}, 3e-3, 0.0}};
  };
  auto ours = train::make_adamw(groups(ours_params), {0.8, 0.95, 1e-6});
  REQUIRE(dynamic_cast<train::MultiTensorAdamW*>(ours.get()) != nullptr);
  std::vector<torch::optim::OptimizerParamGroup> reference_groups;
  for (const auto& spec : groups(reference_params)) {
    auto options = std::make_unique<torch::optim::AdamWOptions>(spec.lr);
    options->betas({0.8, 0.95}).eps(1e-6).weight_decay(spec.weight_decay);
    reference_groups.emplace_back(spec.params, std::move(options));
  }
  torch::optim::AdamW reference(std::move(reference_groups));

  torch::manual_seed(9);
  for (int step = 0; step < 6; ++step) {
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      // Tensor 1 has no gradient on steps 1 and 2, so its step count falls behind the others of its group.
      const bool skipped = i == 1 && (step == 1 || step == 2);
      const auto grad = torch::randn(shapes[i]) * (1.0 + static_cast<double>(i));
      ours_params[i].mutable_grad() = skipped ? torch::Tensor() : grad.clone();
      reference_params[i].mutable_grad() = skipped ? torch::Tensor() : grad.clone();
    }
    ours->step();
    reference.step();
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      INFO("step " << step << ", tensor " << i);
      CHECK(test::max_abs_error(ours_params[i], reference_params[i]) < 1e-6);
      const auto& a = static_cast<torch::optim::AdamWParamState&>(*ours->state().at(train::optimizer_state_key(ours_params[i])));
      const auto& b = static_cast<torch::optim::AdamWParamState&>(
          *reference.state().at(train::optimizer_state_key(reference_params[i])));
      CHECK(a.step() == b.step());
      CHECK(test::max_abs_error(a.exp_avg(), b.exp_avg()) < 1e-6);
      CHECK(test::max_abs_error(a.exp_avg_sq(), b.exp_avg_sq()) < 1e-6);
    }
  }
  const auto steps_of = [&](std::size_t i) {
    return static_cast<torch::optim::AdamWParamState&>(*ours->state().at(train::optimizer_state_key(ours_params[i]))).step();
  };
  CHECK(steps_of(0) == 6);
  CHECK(steps_of(1) == 4);
}

TEST_CASE("gradient clipping gives clip_grad_norm_'s norm and gradients", "[optim]") {
  torch::manual_seed(4);
  std::vector<torch::Tensor> ours, reference;
  for (int i = 0; i < 12; ++i) {
    const auto grad = torch::randn({3 + i, 5}) * (i % 3 + 1);
    ours.push_back(torch::zeros({3 + i, 5}, torch::requires_grad()));
    reference.push_back(torch::zeros({3 + i, 5}, torch::requires_grad()));
    ours.back().mutable_grad() = grad.clone();
    reference.back().mutable_grad() = grad.clone();
  }
  for (const double max_norm : {1000.0, 2.5}) {
    INFO("max_norm " << max_norm);
    const double norm = train::clip_gradients(ours, max_norm);
    const double expected = torch::nn::utils::clip_grad_norm_(reference, max_norm);
    CHECK(norm == Approx(expected).epsilon(1e-6));
    for (std::size_t i = 0; i < ours.size(); ++i) CHECK(test::max_abs_error(ours[i].grad(), reference[i].grad()) < 1e-6);
  }
}
