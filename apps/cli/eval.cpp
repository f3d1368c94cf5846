// clipmatch eval: distance matrix, metrics and reports of a trained model on a dataset.
#include "commands.hpp"

#include <clipmatch/dataset.hpp>

#include <fmt/format.h>

#include <filesystem>

namespace clipmatch::cli {

void register_eval(CLI::App& app, Action& action) {
  struct Args {
    std::string data, model, out;
    Device device = Device::Auto;
    EvalOptions outputs;
    bool skip_bad_rows = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a trained model: metrics.json, distance.npy, embeddings, heatmap, top-k report");
  cmd->add_option("--data", args->data, "Dataset folder (movies.csv, train.txt)")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--model", args->model, "Run folder or model.safetensors")->required()->check(CLI::ExistingPath);
  cmd->add_option("--out", args->out, "Output folder")->required();
  cmd->add_option("--heatmap-size", args->outputs.heatmap_size, "Rows/columns of the matrix block drawn in heatmap.png")
      ->capture_default_str();
  cmd->add_flag("!--no-distance-npy", args->outputs.distance_npy, "Do not write distance.npy (N×N floats)");
  cmd->add_option("--cache-dir", args->outputs.cache_dir,
                  "Feature cache to read the features of untrained (frozen) encoders from, e.g. the training run's");
  cmd->add_flag("--skip-bad-rows", args->skip_bad_rows, "Skip malformed dataset rows (counted) instead of failing");
  add_enum_option(*cmd, "--precision", args->outputs.precision, "How the encoders compute");
  add_ocr_options(*cmd, args->outputs.ocr, /*with_fusion=*/true);
  add_device_option(*cmd, args->device);
  add_distance_option(*cmd, args->outputs.distance);
  cmd->callback([args, &action] {
    action = [args] {
      DatasetOptions options;
      options.skip_bad_rows = args->skip_bad_rows;
      const auto data = load_dataset(args->data, options);
      const auto model = Model::load(args->model, args->device);
      args->outputs.verbose = true;
      if (args->outputs.ocr.enabled && args->outputs.ocr.cache_dir.empty() && args->outputs.cache_dir.empty()) {
        // The training run's default cache (RUN/../.clipmatch-cache) holds its OCR readings: reuse them.
        auto run = std::filesystem::path(args->model);
        if (!std::filesystem::is_directory(run)) run = run.parent_path();
        args->outputs.ocr.cache_dir = (std::filesystem::absolute(run).parent_path() / ".clipmatch-cache").string();
      }
      const auto report = model.evaluate(data, args->out, args->outputs);
      fmt::print("evaluated {} movies ({} train) with {} on {}\n", data.movies.size(), data.train.size(), args->model,
                 model.device());
      print_metrics_table(report);
      print_outputs(args->out);
    };
  });
}

}  // namespace clipmatch::cli
