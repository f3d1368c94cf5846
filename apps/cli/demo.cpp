// clipmatch demo: the main job on a fresh machine. Generates a synthetic poster/intro dataset, trains small
// encoders from scratch (a tiny CNN and a tiny transformer over a sentencepiece vocabulary learnt from the
// training intros), evaluates on train / held-out / all and writes every report file.
#include "commands.hpp"

#include <clipmatch/dataset.hpp>
#include <clipmatch/synth.hpp>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>

namespace clipmatch::cli {

void register_demo(CLI::App& app, Action& action) {
  struct Args {
    std::string out = "clipmatch-demo";
    std::size_t n = 2000;
    int epochs = 25;
    std::uint64_t seed = 7;
    Device device = Device::Auto;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("demo", "Generate a synthetic dataset, train small encoders from scratch, evaluate, report");
  cmd->add_option("--out", args->out, "Output folder (data/ and run/ inside)")->capture_default_str();
  cmd->add_option("--n", args->n, "Synthetic movies to generate")->capture_default_str()->check(CLI::Range(20, 1000000));
  cmd->add_option("--epochs", args->epochs, "Training epochs")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed, "Seed of data generation and training")->capture_default_str();
  add_device_option(*cmd, args->device);
  cmd->callback([args, &action] {
    action = [args] {
      const auto& a = *args;
      const auto start = std::chrono::steady_clock::now();
      const auto data_dir = (std::filesystem::path(a.out) / "data").string();
      const auto run_dir = (std::filesystem::path(a.out) / "run").string();

      SynthOptions synth;
      synth.out = data_dir;
      synth.n = a.n;
      synth.seed = a.seed;
      synth.show_progress = true;
      const auto generated = synthesize_dataset(synth);
      fmt::print("1/3 synthetic dataset: {} movies ({} train) in {} [{:.1f} s]\n", generated.movies, generated.train,
                 generated.folder, generated.seconds);

      const auto data = load_dataset(data_dir);
      ModelConfig config;
      config.image_encoder = EncoderSpec::parse("tiny_cnn");
      config.text_encoder = EncoderSpec::parse("tiny_text");
      config.seed = a.seed;
      auto model = Model::create(config, a.device);

      TrainOptions options;
      options.run_dir = run_dir;
      options.freeze = FreezeMode::Full;  // from-scratch encoders must learn
      options.epochs = a.epochs;
      options.batch_size = 32;
      options.learning_rate = 2e-3;
      options.encoder_learning_rate = 2e-3;
      options.weight_decay = 0.05;
      options.seed = a.seed;
      options.verbose = true;
      fmt::print("2/3 training tiny_cnn + tiny_text from scratch on {} ({} epochs)\n", model.device(), a.epochs);
      const auto trained = model.train(data, options);
      fmt::print("    {} epochs in {:.1f} s, best epoch {}\n", trained.epochs_run, trained.seconds, trained.best_epoch);

      const auto report = model.evaluate(data, run_dir);
      fmt::print("3/3 evaluation (best checkpoint)\n");
      print_metrics_table(report);
      print_outputs(run_dir);
      fmt::print("demo finished in {:.1f} s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    };
  });
}

}  // namespace clipmatch::cli
