// clipmatch bench: throughput of the library's main paths on this machine, printed as one JSON object.
//
// Everything goes through the public API, as an embedding program would call it, so the figures are what users
// get. Each timed figure is the best of --repeat passes after one untimed warm-up pass (allocations, oneDNN
// primitive creation, reduced-precision weight copies). bench/pytorch_peer.py measures the same work in PyTorch;
// docs/benchmarks.md puts both side by side.
#include "commands.hpp"

#include <clipmatch/dataset.hpp>
#include <clipmatch/error.hpp>
#include <clipmatch/image.hpp>
#include <clipmatch/version.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include <unistd.h>

namespace clipmatch::cli {

namespace {

namespace fs = std::filesystem;

struct BenchArgs {
  std::string data, image_encoder = "tiny_cnn", text_encoder = "tiny_text", out, work_dir;
  std::vector<Precision> precisions{Precision::Fp32};
  std::size_t posters = 64, intros = 128, e2e_movies = 0, matrix_n = 2938;
  std::size_t image_batch = 32, text_batch = 64;
  int repeat = 3;
  std::size_t train_pairs = 64, train_batch = 32;
  bool skip_training = false, skip_end_to_end = false;
  Device device = Device::Auto;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Best wall time of `repeat` runs of `work` after one warm-up run.
double best_seconds(int repeat, const std::function<void()>& work) {
  work();
  double best = 0;
  for (int i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    const double s = seconds_since(start);
    if (i == 0 || s < best) best = s;
  }
  return best;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

Dataset first_movies(const Dataset& data, std::size_t n) {
  Dataset out = data;
  if (n == 0 || n >= data.movies.size()) return out;
  out.movies.resize(n);
  out.train.erase(std::remove_if(out.train.begin(), out.train.end(), [&](std::size_t row) { return row >= n; }),
                  out.train.end());
  return out;
}

/// Posters [N, D] and intros of random unit rows, the shape of a real evaluation of N movies.
std::pair<Embeddings, Embeddings> random_pairs(std::size_t n, std::int64_t dim) {
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  const auto make = [&] {
    Embeddings e(static_cast<Eigen::Index>(n), dim);
    for (Eigen::Index i = 0; i < e.size(); ++i) e.data()[i] = normal(rng);
    e.rowwise().normalize();
    return e;
  };
  auto posters = make();
  auto intros = make();
  return {posters, intros};
}

nlohmann::ordered_json encoding_figures(const Model& model, const BenchArgs& a, Precision precision,
                                        const std::vector<std::string>& poster_paths,
                                        const std::vector<Image>& decoded, const std::vector<std::string>& intros) {
  nlohmann::ordered_json out;
  EncodeOptions image_options;
  image_options.batch_size = a.image_batch;
  image_options.precision = precision;
  EncodeOptions text_options;
  text_options.batch_size = a.text_batch;
  text_options.precision = precision;
  const double n_posters = static_cast<double>(poster_paths.size());

  double s = best_seconds(a.repeat, [&] { (void)model.encode_posters(poster_paths, image_options); });
  out["posters_from_files_img_per_s"] = n_posters / s;
  std::vector<PixelView> views;
  for (const auto& image : decoded) {
    PixelView view;
    view.data = image.rgb.data();
    view.width = static_cast<std::size_t>(image.width);
    view.height = static_cast<std::size_t>(image.height);
    view.channels = 3;
    view.stride = view.width * 3;
    views.push_back(view);
  }
  s = best_seconds(a.repeat, [&] { (void)model.encode_poster_pixels(views, image_options); });
  out["posters_from_decoded_pixels_img_per_s"] = n_posters / s;
  s = best_seconds(a.repeat, [&] { (void)model.encode_intros(intros, text_options); });
  out["intros_seq_per_s"] = static_cast<double>(intros.size()) / s;
  return out;
}

nlohmann::ordered_json end_to_end(const BenchArgs& a, const ModelConfig& config, const Dataset& data,
                                  Precision precision) {
  // What a user's job does: build the model (weights from disk), read the dataset, encode every poster and
  // intro, build the distance matrix and both accuracies. Cold: no feature cache, nothing written.
  const auto start = std::chrono::steady_clock::now();
  const auto model = Model::create(config, a.device);
  const double load_s = seconds_since(start);
  const auto dataset = first_movies(load_dataset(data.root), a.e2e_movies);
  EvalOptions options;
  options.precision = precision;
  const auto report = model.evaluate(dataset, "", options);
  const double total = seconds_since(start);
  nlohmann::ordered_json out;
  out["movies"] = dataset.movies.size();
  out["seconds"] = total;
  out["model_load_seconds"] = load_s;
  out["acc_dim0"] = report.splits.at("all").acc_dim0;
  out["acc_dim1"] = report.splits.at("all").acc_dim1;
  return out;
}

nlohmann::ordered_json training_figures(const BenchArgs& a, const ModelConfig& config, const Dataset& data) {
  nlohmann::ordered_json out;
  const auto subset = first_movies(data, a.train_pairs);
  Dataset train_all = subset;
  train_all.train.clear();  // every movie trains: the step count does not depend on the split
  const auto step_figures = [&](FreezeMode freeze) {
    auto model = Model::create(config, a.device);
    TrainOptions options;
    options.run_dir = (fs::path(a.work_dir) / fmt::format("train-{}", to_name(freeze))).string();
    // Epoch 1 warms up (kernel selection, allocator, optimiser state); epoch 2 is timed; the last epoch alone
    // evaluates, so the timed one is steps only.
    options.epochs = 3;
    options.eval_every = 1000;
    options.batch_size = static_cast<int>(a.train_batch);
    options.freeze = freeze;
    options.use_cache = freeze == FreezeMode::Frozen;
    options.cache_dir = (fs::path(a.work_dir) / "cache").string();
    const auto report = model.train(train_all, options);
    const auto per_step = std::min(train_all.movies.size(), a.train_batch);
    const auto steps = static_cast<double>(train_all.movies.size() / per_step);
    const double seconds = report.history.at(1).seconds;
    return nlohmann::ordered_json{{"pairs_per_s", steps * static_cast<double>(per_step) / seconds},
                                  {"step_ms", 1000.0 * seconds / steps}};
  };
  out["pairs"] = train_all.movies.size();
  out["batch_size"] = a.train_batch;
  out["cached_frozen"] = step_figures(FreezeMode::Frozen);
  out["full_finetune"] = step_figures(FreezeMode::Full);
  return out;
}

void run_bench(const BenchArgs& a) {
  if (a.repeat < 1) throw Error(ErrorKind::InvalidArgument, "--repeat must be at least 1");
  DatasetOptions data_options;
  const auto data = load_dataset(a.data, data_options);
  ModelConfig config;
  config.image_encoder = EncoderSpec::parse(a.image_encoder);
  config.text_encoder = EncoderSpec::parse(a.text_encoder);
  const auto model_start = std::chrono::steady_clock::now();
  auto model = Model::create(config, a.device);
  const double model_seconds = seconds_since(model_start);
  if (config.text_encoder.kind == "tiny_text") {
    // tiny_text learns its vocabulary when training starts: there is nothing to encode intros with before that.
    throw Error(ErrorKind::InvalidArgument, "bench needs a ready intro encoder (e.g. bert:PATH or glove:PATH), not tiny_text");
  }

  std::vector<std::string> poster_paths, intros;
  for (std::size_t i = 0; i < data.movies.size(); ++i) {
    if (i < a.posters) poster_paths.push_back(data.movies[i].poster);
    if (i < a.intros) intros.push_back(data.movies[i].intro);
  }
  std::vector<Image> decoded;
  for (const auto& path : poster_paths) decoded.push_back(decode_image_file(path));

  nlohmann::ordered_json result;
  result["clipmatch"] = version();
  result["build"] = build_info();
  result["machine"] = {{"cpu", cpu_model()}, {"hardware_threads", std::thread::hardware_concurrency()},
                       {"device", model.device()}};
  result["image_encoder"] = a.image_encoder;
  result["text_encoder"] = a.text_encoder;
  result["dataset"] = {{"folder", data.root}, {"movies", data.movies.size()}};
  result["settings"] = {{"posters", poster_paths.size()}, {"intros", intros.size()}, {"image_batch", a.image_batch},
                        {"text_batch", a.text_batch}, {"repeat", a.repeat}};
  result["model_create_seconds"] = model_seconds;

  nlohmann::ordered_json per_precision;
  for (const auto precision : a.precisions) {
    auto figures = encoding_figures(model, a, precision, poster_paths, decoded, intros);
    if (!a.skip_end_to_end) figures["end_to_end"] = end_to_end(a, config, data, precision);
    per_precision[to_name(precision)] = figures;
    fmt::print(stderr, "bench: {} done\n", to_name(precision));
  }
  result["encoding"] = per_precision;

  const auto [posters, intros_e] = random_pairs(a.matrix_n, model.config().embed_dim);
  std::vector<std::size_t> train_rows;
  for (std::size_t i = 0; i < a.matrix_n; i += 2) train_rows.push_back(i);
  const double matrix_s = best_seconds(a.repeat, [&, &p = posters, &t = intros_e] {
    (void)distance_matrix(p, t);
    (void)match_metrics(p, t, train_rows);
  });
  result["distance_matrix_and_metrics"] = {{"n", a.matrix_n}, {"dim", model.config().embed_dim}, {"seconds", matrix_s}};

  if (!a.skip_training) result["training"] = training_figures(a, config, data);
  const std::string text = result.dump(2);
  fmt::print("{}\n", text);
  if (!a.out.empty()) {
    std::ofstream file(a.out);
    file << text << "\n";
    if (!file) throw Error(ErrorKind::Io, a.out + ": cannot write");
  }
}

}  // namespace

void register_bench(CLI::App& app, Action& action) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Measure encoding, end-to-end matching, the distance matrix and training "
                                          "steps on this machine; prints one JSON object");
  cmd->add_option("--data", args->data, "Dataset folder (movies.csv with posters and intros)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--image-encoder", args->image_encoder, "Poster encoder KIND[:PATH]")->capture_default_str();
  cmd->add_option("--text-encoder", args->text_encoder, "Intro encoder KIND:PATH (a ready one, not tiny_text)")
      ->capture_default_str();
  cmd->add_option("--precision", args->precisions, "Precisions to measure, e.g. --precision fp32 bf16 int8 (" +
                                                       name_list<Precision>() + ")")
      ->transform(enum_choices<Precision>())
      ->default_str("fp32");
  cmd->add_option("--posters", args->posters, "Posters encoded per pass (the dataset's first ones)")->capture_default_str();
  cmd->add_option("--intros", args->intros, "Intros encoded per pass")->capture_default_str();
  cmd->add_option("--image-batch", args->image_batch, "Posters per encoder batch")->capture_default_str();
  cmd->add_option("--text-batch", args->text_batch, "Intros per encoder batch")->capture_default_str();
  cmd->add_option("--repeat", args->repeat, "Timed passes per figure (the best is kept), after one warm-up")
      ->capture_default_str();
  cmd->add_option("--e2e-movies", args->e2e_movies, "Movies in the end-to-end job (0 = the whole dataset)")
      ->capture_default_str();
  cmd->add_flag("--skip-end-to-end", args->skip_end_to_end, "Leave out the end-to-end job");
  cmd->add_option("--matrix-n", args->matrix_n, "Movies of the distance matrix + metrics figure (random embeddings)")
      ->capture_default_str();
  cmd->add_option("--train-pairs", args->train_pairs, "Movies of the training-step figures")->capture_default_str();
  cmd->add_option("--train-batch", args->train_batch, "Pairs per training step")->capture_default_str();
  cmd->add_flag("--skip-training", args->skip_training, "Leave out the training-step figures");
  cmd->add_option("--work-dir", args->work_dir, "Scratch folder for the training runs [default: a temporary folder]");
  cmd->add_option("--json", args->out, "Also write the JSON object to this file");
  add_device_option(*cmd, args->device);
  cmd->callback([args, &action] {
    action = [args] {
      auto a = *args;
      const bool temporary = a.work_dir.empty();
      if (temporary) a.work_dir = (fs::temp_directory_path() / fmt::format("clipmatch-bench-{}", ::getpid())).string();
      try {
        run_bench(a);
      } catch (...) {
        if (temporary) fs::remove_all(a.work_dir);
        throw;
      }
      if (temporary) fs::remove_all(a.work_dir);
    };
  });
}

}  // namespace clipmatch::cli
