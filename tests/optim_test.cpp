// AdamW groups, the warm-up + cosine schedule, ReduceLROnPlateau and gradient clipping.
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
