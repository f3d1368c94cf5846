// clipmatch::Model end to end on a small synthetic dataset: learning that generalises, save → load identity,
// the feature cache across runs, and every evaluation output file.
#include "model_test_support.hpp"

#include <clipmatch/array_io.hpp>
#include <clipmatch/dataset.hpp>
#include <clipmatch/model.hpp>
#include <clipmatch/synth.hpp>

#include <stb/stb_image.h>

#include <fstream>
#include <nlohmann/json.hpp>

using clipmatch::test::synthetic_dataset;
using clipmatch::test::TempDir;
using namespace clipmatch;

namespace {

TrainOptions quick_options(const TempDir& dir, FreezeMode freeze, int epochs) {
  TrainOptions o;
  o.run_dir = (dir / "run").string();
  o.freeze = freeze;
  o.epochs = epochs;
  o.batch_size = 32;
  o.learning_rate = 2e-3;
  o.encoder_learning_rate = 2e-3;
  o.verbose = false;
  o.seed = 3;
  return o;
}

}  // namespace

TEST_CASE("training from scratch lowers the loss and generalises far above chance", "[model][slow]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 1000, 11);
  ModelConfig config;
  config.seed = 3;
  auto model = Model::create(config, Device::Cpu);
  const auto report = model.train(data, quick_options(dir, FreezeMode::Full, 15));
  REQUIRE(report.history.size() == 15);
  CHECK(report.history.back().train_loss < 0.7 * report.history.front().train_loss);

  const auto evaluation = model.evaluate(data, "");
  const auto& heldout = evaluation.splits.at("heldout");
  const double chance = 1.0 / static_cast<double>(heldout.n);
  INFO("held-out R@1 p→i " << heldout.poster_to_intro.r1 << ", i→p " << heldout.intro_to_poster.r1 << ", chance " << chance);
  // Far above chance in both directions (measured: R@1 ≈ 8x chance, median rank ≈ n/5 after 15 epochs).
  CHECK(heldout.poster_to_intro.r1 > 4 * chance);
  CHECK(heldout.intro_to_poster.r1 > 4 * chance);
  CHECK(heldout.poster_to_intro.r10 > 2.5 * 10 * chance);
  CHECK(heldout.intro_to_poster.r10 > 2.5 * 10 * chance);
  CHECK(heldout.poster_to_intro.median_rank < heldout.n / 3.0);
  CHECK(heldout.intro_to_poster.median_rank < heldout.n / 3.0);
}

TEST_CASE("save → load gives identical embeddings", "[model]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 60, 5);
  auto model = Model::create(ModelConfig{}, Device::Cpu);
  model.train(data, quick_options(dir, FreezeMode::Full, 1));
  const auto path = (dir / "saved.safetensors").string();
  model.save(path);
  const auto loaded = Model::load(path, Device::Cpu);
  const std::vector<std::string> posters{data.movies[0].poster, data.movies[1].poster};
  const std::vector<std::string> intros{data.movies[0].intro, data.movies[1].intro};
  CHECK((model.encode_posters(posters) - loaded.encode_posters(posters)).cwiseAbs().maxCoeff() == 0.0f);
  CHECK((model.encode_intros(intros) - loaded.encode_intros(intros)).cwiseAbs().maxCoeff() == 0.0f);
  CHECK(loaded.logit_scale() == Approx(model.logit_scale()));
  // The run folder's best checkpoint loads too.
  const auto from_run = Model::load((dir / "run").string(), Device::Cpu);
  CHECK(from_run.encode_intros(intros).rows() == 2);
}

TEST_CASE("loading a damaged or foreign checkpoint names the file", "[model]") {
  TempDir dir;
  const auto path = (dir / "broken.safetensors").string();
  std::ofstream(path, std::ios::binary) << "not a checkpoint";
  CHECK_THROWS_WITH(Model::load(path, Device::Cpu), Catch::Contains("broken.safetensors"));
  CHECK_THROWS_WITH(Model::load((dir / "absent").string(), Device::Cpu), Catch::Contains("absent"));
}

TEST_CASE("frozen training reuses the persistent feature cache", "[model]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 60, 9);
  auto options = quick_options(dir, FreezeMode::Frozen, 2);
  options.cache_dir = (dir / "cache").string();
  ModelConfig config;
  config.text_encoder = EncoderSpec::parse("tiny_text");
  auto first = Model::create(config, Device::Cpu);
  const auto a = first.train(data, options);
  CHECK(a.cache_misses == 120);
  CHECK(a.cache_hits == 0);
  auto second = Model::create(config, Device::Cpu);
  const auto b = second.train(data, options);
  CHECK(b.cache_hits == 120);
  CHECK(b.cache_misses == 0);
}

TEST_CASE("evaluate writes metrics.json, npy matrices, heatmap.png and topk.csv", "[model]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 40, 2);
  auto model = Model::create(ModelConfig{}, Device::Cpu);
  model.train(data, quick_options(dir, FreezeMode::Full, 1));
  const auto out = dir / "eval";
  const auto report = model.evaluate(data, out.string());

  std::ifstream metrics_file(out / "metrics.json");
  const auto metrics = nlohmann::json::parse(metrics_file);
  CHECK(metrics.at("n") == 40);
  CHECK(metrics.at("distance") == "1-cos");
  for (const char* split : {"all", "train", "heldout"}) {
    const auto& s = metrics.at("splits").at(split);
    CHECK(s.at("acc_dim1").get<double>() == Approx(report.splits.at(split).acc_dim1));
    for (const char* direction : {"poster_to_intro", "intro_to_poster"})
      for (const char* field : {"r1", "r5", "r10", "median_rank", "mean_rank"}) CHECK(s.at(direction).contains(field));
  }
  const auto distance = load_npy((out / "distance.npy").string());
  CHECK(distance.rows() == 40);
  CHECK(distance.cols() == 40);
  const auto posters = load_npy((out / "posters.npy").string());
  const auto intros = load_npy((out / "intros.npy").string());
  CHECK(posters.cols() == 128);
  const Matrix expected = distance_matrix(posters, intros);
  CHECK((expected - distance).cwiseAbs().maxCoeff() < 1e-5f);
  CHECK(std::abs(posters.row(3).norm() - 1.0f) < 1e-5f);

  int w = 0, h = 0, c = 0;
  unsigned char* pixels = stbi_load((out / "heatmap.png").string().c_str(), &w, &h, &c, 3);
  REQUIRE(pixels != nullptr);
  CHECK(w > 40);
  CHECK(h > 40);
  stbi_image_free(pixels);

  std::ifstream topk(out / "topk.csv");
  std::string header;
  std::getline(topk, header);
  CHECK(header.find("title") != std::string::npos);
  std::size_t lines = 0;
  for (std::string line; std::getline(topk, line);) lines += !line.empty();
  CHECK(lines >= 40);
}

TEST_CASE("the same seed gives the same model on CPU", "[model]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 60, 8);
  auto train_once = [&](const std::string& run) {
    ModelConfig config;
    config.seed = 4;
    auto model = Model::create(config, Device::Cpu);
    auto options = quick_options(dir, FreezeMode::Full, 2);
    options.run_dir = (dir / run).string();
    const auto report = model.train(data, options);
    return std::pair{report.history.back().train_loss, model.encode_intros({data.movies[0].intro, data.movies[5].intro})};
  };
  const auto [loss_a, emb_a] = train_once("a");
  const auto [loss_b, emb_b] = train_once("b");
  CHECK(loss_a == loss_b);
  CHECK((emb_a - emb_b).cwiseAbs().maxCoeff() == 0.0f);
}
