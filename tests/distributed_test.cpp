// Distributed data-parallel training over Gloo on loopback: ranks run as threads of this process (each with its
// own Model and its own c10d process group, as separate processes would), against one process training on the
// same global batches. tests/cli/distributed_train.sh checks the same with real processes (--nproc 2).
#include "hf_fixture_support.hpp"
#include "model_test_support.hpp"

#include "dist/process_group.hpp"
#include "train/loss.hpp"

#include <clipmatch/distributed.hpp>
#include <clipmatch/error.hpp>
#include <clipmatch/model.hpp>
#include <clipmatch/names.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <thread>

using namespace clipmatch;
using clipmatch::test::synthetic_dataset;
using clipmatch::test::TempDir;
namespace fs = std::filesystem;

namespace {

/// A TCP port nothing listens on right now (the kernel's pick for port 0).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

DistributedOptions rank_of(int rank, int world, int port, double timeout = 60) {
  DistributedOptions options;
  options.rank = rank;
  options.world_size = world;
  options.local_rank = rank;
  options.master_port = port;
  options.timeout_seconds = timeout;
  return options;
}

/// Runs `work(rank)` for every rank on its own thread and returns the results in rank order; rethrows the first
/// rank's failure.
template <typename Result>
std::vector<Result> run_ranks(int world, const std::function<Result(int)>& work) {
  std::vector<std::future<Result>> futures;
  for (int r = 0; r < world; ++r) futures.push_back(std::async(std::launch::async, work, r));
  std::vector<Result> results;
  for (auto& f : futures) results.push_back(f.get());
  return results;
}

double max_difference(const Embeddings& a, const Embeddings& b) { return (a - b).cwiseAbs().maxCoeff(); }

}  // namespace

TEST_CASE("distributed: gathered embeddings give each rank the single-process logits and its rows' gradient",
          "[distributed]") {
  std::string why;
  if (!distributed_available(&why)) {
    WARN("skipped: " << why);
    return;
  }
  torch::manual_seed(5);
  const auto images = torch::nn::functional::normalize(torch::randn({8, 16}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  const auto texts = torch::nn::functional::normalize(torch::randn({8, 16}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  const auto scale = torch::tensor(2.0);
  // One process: the loss of the whole batch and its gradient per row.
  const auto all_images = images.clone().requires_grad_(true);
  const auto all_texts = texts.clone().requires_grad_(true);
  train::clip_infonce_loss(all_images, all_texts, scale).backward();

  const int port = free_port();
  struct RankResult {
    torch::Tensor logits, image_grad, text_grad;
  };
  const auto results = run_ranks<RankResult>(2, [&](int rank) {
    dist::Group group(rank_of(rank, 2, port));
    const auto local_images = images.slice(0, rank * 4, rank * 4 + 4).clone().requires_grad_(true);
    const auto local_texts = texts.slice(0, rank * 4, rank * 4 + 4).clone().requires_grad_(true);
    const auto gathered_images = dist::gather_keeping_local_grad(group, local_images);
    const auto gathered_texts = dist::gather_keeping_local_grad(group, local_texts);
    train::clip_infonce_loss(gathered_images, gathered_texts, scale).backward();
    return RankResult{(gathered_images.matmul(gathered_texts.t()) * scale).detach(), local_images.grad(),
                      local_texts.grad()};
  });
  const auto single_logits = images.matmul(texts.t()) * scale;
  for (int rank = 0; rank < 2; ++rank) {
    INFO("rank " << rank);
    const auto& r = results[static_cast<std::size_t>(rank)];
    CHECK(torch::allclose(r.logits, single_logits, 0, 1e-6));
    CHECK(torch::allclose(r.image_grad, all_images.grad().slice(0, rank * 4, rank * 4 + 4), 0, 1e-6));
    CHECK(torch::allclose(r.text_grad, all_texts.grad().slice(0, rank * 4, rank * 4 + 4), 0, 1e-6));
  }
}

TEST_CASE("distributed: 2 ranks over Gloo train the weights and metrics of 1 process with the same global batch",
          "[distributed][model]") {
  std::string why;
  if (!distributed_available(&why)) {
    WARN("skipped: " << why);
    return;
  }
  TempDir dir;
  const auto data = synthetic_dataset(dir, 40, 4);
  std::vector<std::string> posters, intros;
  for (const auto& movie : data.movies) {
    posters.push_back(movie.poster);
    intros.push_back(movie.intro);
  }
  struct Case {
    std::string label;
    ModelConfig config;
    FreezeMode freeze;
    LossKind loss;
    bool equals_one_process;  // false: BatchNorm trains on each rank's share of the batch (as in torch DDP)
  };
  std::vector<Case> cases;
  // Frozen encoders through the feature cache (rank 0 fills it) with SigLIP, whose bias is shared like the
  // temperature; tiny_text's vocabulary comes from rank 0.
  cases.push_back({"frozen-siglip", ModelConfig{}, FreezeMode::Frozen, LossKind::SigLip, true});
  // Every encoder weight trains: each one's gradient is summed across ranks.
  if (const auto vit = test::hf_fixture("vit_tiny")) {
    ModelConfig vit_config;  // a ViT poster tower (LayerNorm, no batch statistics) and tiny_text's word vectors
    vit_config.image_encoder = EncoderSpec::parse("vit:" + vit->string());
    cases.push_back({"full-infonce-vit", vit_config, FreezeMode::Full, LossKind::InfoNce, true});
  } else {
    WARN("full fine-tuning against one process skipped: no shared HF fixtures");
  }
  // tiny_cnn's BatchNorm normalises each rank's half batch: the ranks stay equal to each other (rank 0's running
  // statistics are broadcast) but not to one process.
  cases.push_back({"full-infonce-batchnorm", ModelConfig{}, FreezeMode::Full, LossKind::InfoNce, false});

  for (const auto& c : cases) {
    INFO(c.label);
    const auto options_for = [&](const std::string& run) {
      TrainOptions options;
      options.run_dir = (dir / run).string();
      options.cache_dir = (dir / ("cache-" + run)).string();
      options.freeze = c.freeze;
      options.loss = c.loss;
      options.epochs = 3;
      options.batch_size = 20;
      options.learning_rate = 2e-3;
      options.encoder_learning_rate = 2e-3;
      options.seed = 3;
      return options;
    };
    auto single = Model::create(c.config, Device::Cpu);
    const auto single_report = single.train(data, options_for("single-" + c.label));

    const int port = free_port();
    struct RankResult {
      Embeddings posters, intros;
      TrainReport report;
    };
    const auto train_two_ranks = [&](const std::string& run, int at_port) {
      return run_ranks<RankResult>(2, [&, at_port](int rank) {
        auto model = Model::create(c.config, Device::Cpu);
        auto options = options_for(run);
        options.cache_dir = (dir / ("cache-dist-" + c.label)).string();
        options.distributed = rank_of(rank, 2, at_port);
        auto report = model.train(data, options);
        return RankResult{model.encode_posters(posters), model.encode_intros(intros), report};
      });
    };
    const auto ranks = train_two_ranks("dist-" + c.label, port);

    CHECK(max_difference(ranks[0].posters, ranks[1].posters) < 1e-6);
    CHECK(max_difference(ranks[0].intros, ranks[1].intros) < 1e-6);
    CHECK(ranks[1].report.history.back().splits.empty());  // rank 0 alone evaluates
    if (c.freeze == FreezeMode::Frozen) {
      // Each rank encoded half of the posters and intros one process encodes, and rank 0 merged the halves: the
      // cache is whole and the ranks' share folders are gone.
      REQUIRE(single_report.cache_misses == 2 * data.movies.size());
      CHECK(ranks[0].report.cache_misses == data.movies.size());
      CHECK(ranks[1].report.cache_misses == data.movies.size());
      auto again = Model::create(c.config, Device::Cpu);
      auto rerun = options_for("dist-" + c.label);
      rerun.run_dir = (dir / ("rerun-" + c.label)).string();
      rerun.epochs = 1;
      CHECK(again.train(data, rerun).cache_misses == 0);
      for (const auto& entry : fs::directory_iterator(rerun.cache_dir)) {
        CHECK(entry.path().filename().string().rfind("share-", 0) != 0);
      }
      // A distributed run on the warm cache encodes nothing.
      const auto warm = train_two_ranks("warm-" + c.label, free_port());
      CHECK(warm[0].report.cache_misses == 0);
      CHECK(warm[1].report.cache_misses == 0);
    }
    CHECK(fs::exists(dir / ("dist-" + c.label) / "model.safetensors"));
    CHECK(fs::exists(dir / ("dist-" + c.label) / "epochs.jsonl"));
    if (!c.equals_one_process) continue;

    const auto reference_posters = single.encode_posters(posters);
    const auto reference_intros = single.encode_intros(intros);
    for (std::size_t rank = 0; rank < ranks.size(); ++rank) {
      INFO("rank " << rank);
      CHECK(max_difference(ranks[rank].posters, reference_posters) < 1e-5);
      CHECK(max_difference(ranks[rank].intros, reference_intros) < 1e-5);
      CHECK(ranks[rank].report.best_epoch == single_report.best_epoch);
      REQUIRE(ranks[rank].report.history.size() == single_report.history.size());
      for (std::size_t e = 0; e < single_report.history.size(); ++e) {
        CHECK(std::abs(ranks[rank].report.history[e].train_loss - single_report.history[e].train_loss) < 1e-5);
      }
    }
    // Rank 0's per-epoch metrics are the single process's.
    for (std::size_t e = 0; e < single_report.history.size(); ++e) {
      const auto& mine = ranks[0].report.history[e].splits;
      const auto& reference = single_report.history[e].splits;
      REQUIRE(mine.size() == reference.size());
      for (const auto& [split, metrics] : reference) {
        INFO("epoch " << e + 1 << ", " << split);
        CHECK(std::abs(mine.at(split).poster_to_intro.r1 - metrics.poster_to_intro.r1) < 1e-5);
        CHECK(std::abs(mine.at(split).intro_to_poster.mean_rank - metrics.intro_to_poster.mean_rank) < 1e-5);
      }
    }
  }
}

TEST_CASE("distributed: a rank that never joins makes the others fail with an error naming them", "[distributed]") {
  std::string why;
  if (!distributed_available(&why)) {
    WARN("skipped: " << why);
    return;
  }
  try {
    dist::Group group(rank_of(0, 2, free_port(), /*timeout=*/2));
    FAIL("joining a group whose rank 1 never came succeeded");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Io);
    CHECK_THAT(e.what(), Catch::Contains("rank 0 of 2") && Catch::Contains("joining the group"));
  }
  CHECK_THROWS_WITH(rank_of(2, 2, 1234).validate(), Catch::Contains("rank 2 is outside [0, 2)"));
  CHECK_THROWS_WITH(rank_of(0, 2, 0).validate(), Catch::Contains("master port 0"));
}

TEST_CASE("distributed: options come from the torchrun / SLURM environment", "[distributed]") {
  ::setenv("RANK", "3", 1);
  ::setenv("WORLD_SIZE", "8", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  ::setenv("MASTER_ADDR", "node-a", 1);
  ::setenv("MASTER_PORT", "29511", 1);
  const auto options = DistributedOptions::from_environment();
  CHECK(options.rank == 3);
  CHECK(options.world_size == 8);
  CHECK(options.local_rank == 1);
  CHECK(options.master_addr == "node-a");
  CHECK(options.master_port == 29511);
  CHECK(options.enabled());
  ::setenv("WORLD_SIZE", "two", 1);
  CHECK_THROWS_WITH(DistributedOptions::from_environment(), Catch::Contains("WORLD_SIZE='two'"));
  for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}) ::unsetenv(name);
  CHECK_FALSE(DistributedOptions::from_environment().enabled());
}
