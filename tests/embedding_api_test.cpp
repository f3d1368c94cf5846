// What embedding hosts rely on: one model encoding from many threads gives exactly the serial result; posters
// given as paths, bytes or pixels encode identically; top-k search equals the distance matrix; progress hooks
// cancel cleanly and leave a usable model; the log sink hears every message; the global RNG is left alone.
#include "model_test_support.hpp"

#include <clipmatch/image.hpp>
#include <clipmatch/log.hpp>
#include <clipmatch/model.hpp>
#include <clipmatch/names.hpp>
#include <clipmatch/search.hpp>

#include <stb/stb_image_write.h>
#include <torch/torch.h>

#include <atomic>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

using clipmatch::test::synthetic_dataset;
using clipmatch::test::TempDir;
using namespace clipmatch;

namespace {

TrainOptions quick_options(const TempDir& dir, int epochs) {
  TrainOptions o;
  o.run_dir = (dir / "run").string();
  o.freeze = FreezeMode::Full;
  o.epochs = epochs;
  o.batch_size = 16;
  o.learning_rate = 2e-3;
  o.encoder_learning_rate = 2e-3;
  o.seed = 5;
  return o;
}

/// A small trained model and its data, shared by the cases below (training takes a few seconds).
struct Trained {
  TempDir dir;
  Dataset data;
  Model model;

  Trained() : data(synthetic_dataset(dir, 64, 21)), model(make()) { model.train(data, quick_options(dir, 2)); }

  static Model make() {
    ModelConfig config;
    config.embed_dim = 24;
    config.seed = 4;
    return Model::create(config, Device::Cpu);
  }
};

Trained& trained() {
  static Trained instance;
  return instance;
}

std::vector<std::string> posters_of(const Dataset& data) {
  std::vector<std::string> out;
  for (const auto& movie : data.movies) out.push_back(movie.poster);
  return out;
}

std::vector<std::string> intros_of(const Dataset& data) {
  std::vector<std::string> out;
  for (const auto& movie : data.movies) out.push_back(movie.intro);
  return out;
}

bool same(const Matrix& a, const Matrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && std::equal(a.data(), a.data() + a.size(), b.data());
}

/// A deterministic RGBA test image with varying alpha.
void rgba_pattern(int width, int height, std::vector<std::uint8_t>& rgba) {
  rgba.resize(static_cast<std::size_t>(width) * height * 4);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      auto* p = &rgba[(static_cast<std::size_t>(y) * width + x) * 4];
      p[0] = static_cast<std::uint8_t>(x * 5);
      p[1] = static_cast<std::uint8_t>(y * 3);
      p[2] = static_cast<std::uint8_t>((x * y) % 251);
      p[3] = static_cast<std::uint8_t>(x < width / 2 ? 255 : (x * 7 + y) % 256);
    }
}

}  // namespace

TEST_CASE("eight threads encoding through one model get exactly the serial result", "[embedding][threads]") {
  auto& t = trained();
  const auto posters = posters_of(t.data);
  const auto intros = intros_of(t.data);
  const Matrix serial_posters = t.model.encode_posters(posters, 7);
  const Matrix serial_intros = t.model.encode_intros(intros, 7);

  constexpr int kThreads = 8;
  std::vector<Matrix> thread_posters(kThreads), thread_intros(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      try {
        for (int round = 0; round < 3; ++round) {
          thread_posters[i] = t.model.encode_posters(posters, 7);
          thread_intros[i] = t.model.encode_intros(intros, 7);
        }
      } catch (...) {
        ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  REQUIRE(failures == 0);
  for (int i = 0; i < kThreads; ++i) {
    CHECK(same(thread_posters[i], serial_posters));
    CHECK(same(thread_intros[i], serial_intros));
  }
}

TEST_CASE("a poster as a path, as its bytes and as its pixels encodes identically", "[embedding][image]") {
  auto& t = trained();
  TempDir dir;
  // A PNG with transparency (composited over white on every path) and the dataset's own JPEG.
  std::vector<std::uint8_t> rgba;
  rgba_pattern(40, 60, rgba);
  const std::string png_path = (dir / "alpha.png").string();
  // encode_png writes RGB only; stb writes the RGBA file so that it keeps its alpha channel.
  REQUIRE(stbi_write_png(png_path.c_str(), 40, 60, 4, rgba.data(), 40 * 4) != 0);
  const std::string jpeg_path = t.data.movies[3].poster;

  const Matrix from_paths = t.model.encode_posters({png_path, jpeg_path});
  std::vector<std::string> files{test::read_all(png_path), test::read_all(jpeg_path)};
  const std::vector<EncodedImage> bytes{{reinterpret_cast<const std::uint8_t*>(files[0].data()), files[0].size()},
                                        {reinterpret_cast<const std::uint8_t*>(files[1].data()), files[1].size()}};
  CHECK(same(t.model.encode_poster_bytes(bytes), from_paths));

  // Pixels: RGBA as decoded, and the JPEG's RGB padded to a wider stride.
  const Image jpeg = decode_image_file(jpeg_path);
  const std::size_t stride = static_cast<std::size_t>(jpeg.width) * 3 + 13;
  std::vector<std::uint8_t> padded(stride * jpeg.height, 0x5A);
  for (int y = 0; y < jpeg.height; ++y)
    std::copy_n(&jpeg.rgb[static_cast<std::size_t>(y) * jpeg.width * 3], jpeg.width * 3, &padded[y * stride]);
  const std::vector<PixelView> pixels{{rgba.data(), 40, 60, 40 * 4, 4},
                                      {padded.data(), static_cast<std::size_t>(jpeg.width),
                                       static_cast<std::size_t>(jpeg.height), stride, 3}};
  CHECK(same(t.model.encode_poster_pixels(pixels), from_paths));

  // Bad inputs are refused by name.
  const std::vector<PixelView> two_channels{{rgba.data(), 40, 60, 80, 2}};
  CHECK_THROWS_WITH(t.model.encode_poster_pixels(two_channels), Catch::Contains("image 0") && Catch::Contains("channels"));
  const std::vector<PixelView> short_stride{{rgba.data(), 40, 60, 100, 4}};
  CHECK_THROWS_WITH(t.model.encode_poster_pixels(short_stride), Catch::Contains("stride"));
  const std::string junk = "not an image";
  const std::vector<EncodedImage> broken{{reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size()}};
  CHECK_THROWS_WITH(t.model.encode_poster_bytes(broken), Catch::Contains("image 0"));
}

TEST_CASE("top_k equals the sorted rows of the distance matrix, ties to the lower index", "[embedding][search]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  const int n_queries = 300, n_catalog = 1000, dim = 16;
  Matrix queries(n_queries, dim), catalog(n_catalog, dim);
  for (int i = 0; i < queries.size(); ++i) queries.data()[i] = normal(rng);
  for (int i = 0; i < catalog.size(); ++i) catalog.data()[i] = normal(rng);
  queries.rowwise().normalize();
  catalog.rowwise().normalize();
  catalog.row(900) = catalog.row(17);  // an exact tie: index 17 must come first
  queries.row(5) = catalog.row(17);

  for (const auto kind : {DistanceKind::OneMinusCosine, DistanceKind::NegativeCosine}) {
    const Matrix d = distance_matrix(queries, catalog, kind);
    const auto result = top_k(queries, catalog, 10, kind);
    REQUIRE(result.indices.rows() == n_queries);
    REQUIRE(result.indices.cols() == 10);
    for (int q = 0; q < n_queries; ++q) {
      std::vector<std::int64_t> order(n_catalog);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return d(q, a) < d(q, b); });
      for (int j = 0; j < 10; ++j) {
        CHECK(result.indices(q, j) == order[j]);
        CHECK(result.distances(q, j) == d(q, order[j]));
      }
    }
    CHECK(result.indices(5, 0) == 17);
    CHECK(result.indices(5, 1) == 900);
  }

  // More neighbours asked than the catalog has: padded with −1 / +inf.
  const auto padded = top_k(queries.topRows(2), catalog.topRows(3), 5);
  CHECK(padded.indices(0, 2) >= 0);
  CHECK(padded.indices(0, 3) == -1);
  CHECK(std::isinf(padded.distances(1, 4)));
  // Blocks larger than one catalog block still agree with the matrix (spans two blocks).
  Matrix big(kTopKCatalogBlock + 100, dim);
  for (int i = 0; i < big.size(); ++i) big.data()[i] = normal(rng);
  big.rowwise().normalize();
  const auto across = top_k(queries.topRows(3), big, 3);
  const Matrix d = distance_matrix(queries.topRows(3), big);
  for (int q = 0; q < 3; ++q) {
    Eigen::Index best = 0;
    d.row(q).minCoeff(&best);
    CHECK(across.indices(q, 0) == best);
  }
  Matrix nan_queries = queries.topRows(1);
  nan_queries(0, 3) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(top_k(nan_queries, catalog, 1), Catch::Contains("query row 0"));
}

TEST_CASE("a progress callback cancels training and encoding, and the model stays as it was", "[embedding][cancel]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 48, 9);
  ModelConfig config;
  config.embed_dim = 16;
  config.seed = 2;
  auto model = Model::create(config, Device::Cpu);
  auto options = quick_options(dir, 2);
  model.train(data, options);  // gives tiny_text its vocabulary
  const auto posters = posters_of(data);
  const Matrix before = model.encode_posters(posters);

  std::vector<std::string> stages;
  options.run_dir = (dir / "run2").string();
  options.epochs = 3;
  options.progress = [&](const std::string& stage, std::size_t done, std::size_t total) {
    stages.push_back(stage);
    CHECK(done <= total);
    return !(stage == "train" && done == 1);  // the first step: no epoch has completed
  };
  try {
    model.train(data, options);
    FAIL("training was not cancelled");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Cancelled);
    CHECK_THAT(e.what(), Catch::Contains("train"));
  }
  CHECK(std::count(stages.begin(), stages.end(), "train") == 1);
  CHECK(same(model.encode_posters(posters), before));  // weights of before the cancelled call
  // Nothing was complete when it stopped: the run folder it created is gone again, or holds no temporary file.
  if (std::filesystem::exists(options.run_dir)) {
    for (const auto& entry : std::filesystem::directory_iterator(options.run_dir)) {
      CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
    }
  }

  // Cancelling after the first epoch keeps the best epoch so far, which is also the checkpoint on disk.
  options.run_dir = (dir / "run3").string();
  int epochs = 0;
  options.on_epoch = [&](const EpochLog&) { ++epochs; };
  options.progress = [&](const std::string& stage, std::size_t done, std::size_t) {
    return !(stage == "train" && epochs == 1);
  };
  CHECK_THROWS_AS(model.train(data, options), Error);
  CHECK(epochs == 1);
  const auto checkpoint = Model::load(options.run_dir, Device::Cpu);
  CHECK(same(model.encode_posters(posters), checkpoint.encode_posters(posters)));

  EncodeOptions encode;
  encode.batch_size = 8;
  std::size_t calls = 0;
  encode.progress = [&](const std::string& stage, std::size_t done, std::size_t total) {
    CHECK(stage == "encode intros");
    CHECK(total == data.movies.size());
    return ++calls < 2 && done < total;
  };
  CHECK_THROWS_WITH(model.encode_intros(intros_of(data), encode), Catch::Contains("cancelled"));
  CHECK(calls == 2);
  EvalOptions eval;
  eval.progress = [](const std::string&, std::size_t, std::size_t) { return false; };
  CHECK_THROWS_AS(model.evaluate(data, (dir / "eval").string(), eval), Error);
  CHECK_FALSE(std::filesystem::exists(dir / "eval" / "metrics.json"));
}

TEST_CASE("the log sink receives what training would print, and can be restored", "[embedding][log]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 40, 3);
  std::mutex mutex;
  std::vector<std::pair<LogLevel, std::string>> messages;
  set_log_callback([&](LogLevel level, const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex);
    messages.emplace_back(level, message);
  });
  auto model = Model::create(ModelConfig{}, Device::Cpu);
  auto options = quick_options(dir, 2);
  options.verbose = true;
  model.train(data, options);
  set_log_callback({});
  const auto epoch_lines = std::count_if(messages.begin(), messages.end(), [](const auto& m) {
    return m.first == LogLevel::Info && m.second.rfind("epoch", 0) == 0 && m.second.find("loss") != std::string::npos;
  });
  CHECK(epoch_lines == 2);
  for (const auto& [level, text] : messages) CHECK(text.find('\r') == std::string::npos);  // no terminal redraws
  const auto count = messages.size();
  log_message(LogLevel::Info, "after restoring");
  CHECK(messages.size() == count);
}

TEST_CASE("creating and training a model leaves LibTorch's global generator as it was", "[embedding][rng]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 40, 6);
  torch::manual_seed(1234);
  const auto expected = torch::rand({4});
  torch::manual_seed(1234);
  ModelConfig config;
  config.seed = 99;
  auto model = Model::create(config, Device::Cpu);
  model.train(data, quick_options(dir, 1));
  CHECK(torch::equal(torch::rand({4}), expected));
}

TEST_CASE("every enumeration name round-trips and unknown names list the choices", "[embedding][names]") {
  auto check = [](auto value_type) {
    using Enum = decltype(value_type);
    for (const auto& entry : enum_names<Enum>()) {
      CHECK(from_name<Enum>(entry.name, "x") == entry.value);
      CHECK(std::string(to_name(entry.value)) == entry.name);
    }
    CHECK_THROWS_WITH(from_name<Enum>("bogus", "field"), Catch::Contains("field must be") && Catch::Contains("bogus"));
  };
  check(Device{});
  check(DistanceKind{});
  check(LossKind{});
  check(FreezeMode{});
  check(Schedule{});
  check(HeadKind{});
  check(TemperatureInit{});
  check(LogLevel{});
  check(ResizeFilter{});
  check(ResizeMode{});
  check(EncoderSide{});
  CHECK(name_list<LossKind>() == "infonce, siglip or multi-positive");
  for (const auto& kind : encoder_kinds()) CHECK(EncoderSpec::parse(std::string(kind.name) + ":/x").kind == kind.name);
  CHECK_THROWS_WITH(EncoderSpec::parse("nope"), Catch::Contains("tiny_text"));
}

TEST_CASE("the docs name every enumeration value and encoder kind", "[embedding][names][docs]") {
  const std::string cli = test::read_all(std::filesystem::path(CLIPMATCH_SOURCE_DIR) / "docs" / "cli.md");
  REQUIRE_FALSE(cli.empty());
  auto mentioned = [&](const std::string& name) { return cli.find("`" + name + "`") != std::string::npos; };
  for (const auto& kind : encoder_kinds()) CHECK(mentioned(kind.name));
  for (const auto& e : enum_names<LossKind>()) CHECK(mentioned(e.name));
  for (const auto& e : enum_names<FreezeMode>()) CHECK(mentioned(e.name));
  for (const auto& e : enum_names<Schedule>()) CHECK(mentioned(e.name));
  for (const auto& e : enum_names<HeadKind>()) CHECK(mentioned(e.name));
  for (const auto& e : enum_names<TemperatureInit>()) CHECK(mentioned(e.name));
  for (const auto& e : enum_names<DistanceKind>()) CHECK(mentioned(e.name));
  for (const auto& e : enum_names<Device>()) CHECK(mentioned(e.name));
}

TEST_CASE("posters encode before training, intros wait for tiny_text's vocabulary", "[embedding]") {
  TempDir dir;
  const auto data = synthetic_dataset(dir, 40, 8);
  ModelConfig config;
  config.embed_dim = 12;
  config.seed = 6;
  const auto model = Model::create(config, Device::Cpu);
  const auto posters = posters_of(data);
  const Matrix a = model.encode_posters({posters[0], posters[1]});
  CHECK(a.rows() == 2);
  CHECK(a.cols() == 12);
  CHECK(std::abs(a.row(0).norm() - 1.0f) < 1e-5f);
  CHECK(same(Model::create(config, Device::Cpu).encode_posters({posters[0], posters[1]}), a));  // seeded
  CHECK_THROWS_WITH(model.encode_intros({"a red circle"}), Catch::Contains("no vocabulary yet"));
  CHECK(model.encode_posters(std::vector<std::string>{}).rows() == 0);
}
