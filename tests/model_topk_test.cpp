// Top-K unfreezing through clipmatch::Model: the frozen lower part is encoded once into the feature cache,
// only the top units change, and evaluation reads untrained encoders' features back from the cache.
#include "model_test_support.hpp"

#include <clipmatch/dataset.hpp>
#include <clipmatch/model.hpp>
#include <clipmatch/safetensors.hpp>
#include <clipmatch/synth.hpp>

#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

using clipmatch::test::synthetic_dataset;
using clipmatch::test::TempDir;
using namespace clipmatch;

namespace {

TrainOptions top_k_options(const TempDir& dir, int top, int epochs) {
  TrainOptions o;
  o.run_dir = (dir / "run").string();
  o.cache_dir = (dir / "cache").string();
  o.freeze = FreezeMode::TopK;
  o.unfreeze_top = top;
  o.epochs = epochs;
  o.batch_size = 16;
  o.learning_rate = 2e-3;
  o.encoder_learning_rate = 5e-3;
  o.verbose = false;
  o.seed = 7;
  return o;
}

bool same_bytes(const TensorView& a, const TensorView& b) {
  return a.shape == b.shape && a.nbytes == b.nbytes && std::memcmp(a.data, b.data, a.nbytes) == 0;
}

}  // namespace

TEST_CASE("top-K unfreezing trains only the top stage from a cached lower part", "[model][topk]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 64, 21);
  ModelConfig config;  // tiny_cnn (4 ResNet stages) + tiny_text (one unit: trains entirely)
  config.seed = 5;
  // The same run with a zero encoder learning rate is the reference for "unchanged".
  auto reference = Model::create(config, Device::Cpu);
  auto options = top_k_options(dir, 1, 3);
  options.encoder_learning_rate = 0;
  options.weight_decay = 0;
  const auto first = reference.train(data, options);
  CHECK(first.cache_misses == 64);  // the posters' lower part, once; intros train from token ids
  CHECK(first.cache_hits == 0);
  reference.save((dir / "before.safetensors").string());

  auto model = Model::create(config, Device::Cpu);
  options = top_k_options(dir, 1, 3);
  options.run_dir = (dir / "run2").string();
  const auto tuned = model.train(data, options);
  CHECK(tuned.cache_hits == 64);  // a second run with the same encoder and posters encodes nothing
  CHECK(tuned.cache_misses == 0);
  CHECK(tuned.history.back().train_loss < tuned.history.front().train_loss);
  model.save((dir / "after.safetensors").string());

  const auto before = SafetensorsFile::open((dir / "before.safetensors").string());
  const auto after = SafetensorsFile::open((dir / "after.safetensors").string());
  std::size_t frozen = 0, top_changed = 0;
  for (const auto& name : before.names()) {
    if (name.rfind("image_encoder.", 0) != 0) continue;
    if (name.find(".layer4.") != std::string::npos) {
      top_changed += !same_bytes(before.tensor(name), after.tensor(name));
    } else {
      INFO(name);
      CHECK(same_bytes(before.tensor(name), after.tensor(name)));  // weights and batch-norm statistics alike
      ++frozen;
    }
  }
  CHECK(frozen > 5);
  CHECK(top_changed > 5);
  // Evaluation reads the posters' unchanged lower part from the cache and runs only the tuned top stage;
  // tiny_text was tuned entirely, so intros are encoded afresh. Same numbers as encoding everything.
  EvalOptions cached;
  cached.cache_dir = tuned.cache_dir;
  const auto from_cache = model.evaluate(data, "", cached);
  CHECK(from_cache.cache_hits == 64);
  CHECK(from_cache.cache_misses == 0);
  const auto encoded = model.evaluate(data, "");
  for (const char* split : {"all", "train", "heldout"}) {
    INFO(split);
    CHECK(from_cache.splits.at(split).poster_to_intro.mean_rank ==
          Approx(encoded.splits.at(split).poster_to_intro.mean_rank));
    CHECK(from_cache.splits.at(split).intro_to_poster.r5 == Approx(encoded.splits.at(split).intro_to_poster.r5));
  }
}

TEST_CASE("top-K depth can be set per tower, and a top-K run with nothing to train is refused", "[model][topk]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 40, 3);
  ModelConfig config;
  config.text_encoder = EncoderSpec::parse("tiny_text");
  auto options = top_k_options(dir, 0, 1);
  CHECK_THROWS_WITH(Model::create(config, Device::Cpu).train(data, options), Catch::Contains("unfreeze_top"));
  options.unfreeze_top_text = 1;  // only the intro encoder trains; the posters' features come from the cache
  const auto report = Model::create(config, Device::Cpu).train(data, options);
  CHECK(report.cache_misses == 40);
  options.unfreeze_top = 2;  // the posters' top 2 stages train too, the intros keep their own depth
  options.run_dir = (dir / "run2").string();
  const auto both = Model::create(config, Device::Cpu).train(data, options);
  CHECK(both.cache_misses == 40);  // the lower part at depth 2 is a new cache entry per poster
  CHECK(both.cache_hits == 0);
}

TEST_CASE("a top-K run matches the same run without the persistent cache", "[model][topk]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 48, 4);
  ModelConfig config;
  config.seed = 9;
  auto with_cache = Model::create(config, Device::Cpu);
  auto options = top_k_options(dir, 2, 2);
  const auto a = with_cache.train(data, options);
  auto without = Model::create(config, Device::Cpu);
  options.use_cache = false;
  options.run_dir = (dir / "run-nocache").string();
  const auto b = without.train(data, options);
  CHECK(b.cache_dir.empty());
  REQUIRE(a.history.size() == b.history.size());
  CHECK(a.history.back().train_loss == Approx(b.history.back().train_loss).epsilon(1e-5));
  const std::vector<std::string> posters{data.movies[0].poster, data.movies[7].poster};
  CHECK((with_cache.encode_posters(posters) - without.encode_posters(posters)).cwiseAbs().maxCoeff() < 1e-5f);
}

TEST_CASE("evaluate reads frozen encoders' features from the training cache", "[model][topk]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 40, 6);
  ModelConfig config;
  config.text_encoder = EncoderSpec::parse("tiny_text");
  auto model = Model::create(config, Device::Cpu);
  auto options = top_k_options(dir, 0, 2);
  options.freeze = FreezeMode::Frozen;
  const auto report = model.train(data, options);
  REQUIRE(report.cache_dir == options.cache_dir);
  const auto files = clipmatch::test::entries_in(options.cache_dir);

  EvalOptions cached;
  cached.cache_dir = report.cache_dir;
  const auto from_cache = model.evaluate(data, "", cached);
  const auto encoded = model.evaluate(data, "");
  CHECK(from_cache.cache_hits == 80);  // 40 posters + 40 intros, all from the training run
  CHECK(from_cache.cache_misses == 0);
  CHECK(encoded.cache_hits == 0);
  CHECK(clipmatch::test::entries_in(options.cache_dir) == files);
  for (const char* split : {"all", "train", "heldout"}) {
    INFO(split);
    CHECK(from_cache.splits.at(split).poster_to_intro.r1 == Approx(encoded.splits.at(split).poster_to_intro.r1));
    CHECK(from_cache.splits.at(split).intro_to_poster.mean_rank ==
          Approx(encoded.splits.at(split).intro_to_poster.mean_rank));
  }
}

namespace {

/// The bert_tiny fixture as a model folder: its config and weights plus a character-level WordPiece
/// vocabulary (ids < 1000 as its embedding table needs), so every intro becomes a long, distinct sequence.
std::optional<std::filesystem::path> bert_tiny_folder(const TempDir& dir) {
  const auto fixture = clipmatch::test::shared_path("fixtures/hf/bert_tiny");
  if (!fixture) return std::nullopt;
  const auto folder = dir / "bert_tiny";
  std::filesystem::create_directories(folder);
  for (const char* name : {"config.json", "model.safetensors"}) std::filesystem::copy_file(*fixture / name, folder / name);
  std::ofstream vocab(folder / "vocab.txt");
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) vocab << special << "\n";
  for (char c = 'a'; c <= 'z'; ++c) vocab << c << "\n##" << c << "\n";
  for (char c = '0'; c <= '9'; ++c) vocab << c << "\n##" << c << "\n";
  for (const char* punctuation : {".", ",", "'", "-", "!", "?", ":", ";", "(", ")"}) vocab << punctuation << "\n";
  return folder;
}

}  // namespace

TEST_CASE("top-K on a transformer intro encoder caches hidden states and trains only its top block",
          "[model][topk][bert]") {
  TempDir dir;
  const auto folder = bert_tiny_folder(dir);
  CLIPMATCH_REQUIRE_SHARED(folder, "fixtures/hf/bert_tiny");
  const auto data = synthetic_dataset(dir, 48, 13);
  ModelConfig config;
  config.text_encoder = EncoderSpec::parse("bert:" + folder->string());
  config.seed = 2;
  std::vector<Device> devices{Device::Cpu};
  if (torch::cuda::is_available()) devices.push_back(Device::Cuda);  // bf16 autocast on the GPU
  for (const auto device : devices) {
    INFO("device " << (device == Device::Cpu ? "cpu" : "cuda"));
    TempDir run;
    auto options = top_k_options(run, 1, 3);  // tiny_cnn: top stage of 4; bert_tiny: top block of 2
    // Same run with a zero encoder learning rate: the reference for "unchanged" (stored as tuned, too).
    auto reference = Model::create(config, device);
    options.encoder_learning_rate = 0;
    options.weight_decay = 0;
    options.run_dir = (run / "reference").string();
    reference.train(data, options);
    reference.save((run / "reference.safetensors").string());

    auto model = Model::create(config, device);
    options.encoder_learning_rate = 5e-3;
    options.run_dir = (run / "tuned").string();
    const auto report = model.train(data, options);
    CHECK(report.cache_hits == 96);  // the reference run already encoded both lower parts
    CHECK(report.cache_misses == 0);
    model.save((run / "tuned.safetensors").string());

    const auto before = SafetensorsFile::open((run / "reference.safetensors").string());
    const auto after = SafetensorsFile::open((run / "tuned.safetensors").string());
    std::size_t lower_same = 0, top_changed = 0;
    for (const auto& name : before.names()) {
      if (name.rfind("text_encoder.", 0) != 0) continue;
      const bool top = name.find("encoder.blocks.1.") != std::string::npos || name.find("pooler") != std::string::npos;
      if (top) {
        top_changed += !same_bytes(before.tensor(name), after.tensor(name));
      } else {
        INFO(name);
        CHECK(same_bytes(before.tensor(name), after.tensor(name)));
        ++lower_same;
      }
    }
    CHECK(lower_same > 8);
    CHECK(top_changed > 8);

    // The tuned encoder is stored in the checkpoint: loading it back gives the same embeddings.
    const auto loaded = Model::load((run / "tuned.safetensors").string(), device);
    const std::vector<std::string> intros{data.movies[0].intro, data.movies[3].intro};
    CHECK((model.encode_intros(intros) - loaded.encode_intros(intros)).cwiseAbs().maxCoeff() < 1e-6f);
  }
}

TEST_CASE("BERT intros batched by length are each the intro's own, whether a batch is padded or not",
          "[model][bert]") {
  TempDir dir;
  const auto folder = bert_tiny_folder(dir);
  CLIPMATCH_REQUIRE_SHARED(folder, "fixtures/hf/bert_tiny");
  ModelConfig config;
  config.text_encoder = EncoderSpec::parse("bert:" + folder->string());
  const auto model = Model::create(config, Device::Cpu);
  // Sorted by token count and cut into batches of 3: the first three of the six-token intros ("abcd", "abcd",
  // "wxyz": [CLS] a ##b ##c ##d [SEP]) make an unpadded batch, attended without a mask; the others are padded.
  const std::vector<std::string> intros = {"a quiet town", "abcd", "the long night of the hunter", "abcd", "wxyz",
                                           "abcd", "a story", "the sea"};
  const auto together = model.encode_intros(intros, 3);
  for (std::size_t i = 0; i < intros.size(); ++i) {
    INFO("intro " << i << ": " << intros[i]);
    const auto alone = model.encode_intros({intros[i]}, 1);
    CHECK((together.row(static_cast<Eigen::Index>(i)) - alone.row(0)).cwiseAbs().maxCoeff() < 1e-5f);
  }
}
