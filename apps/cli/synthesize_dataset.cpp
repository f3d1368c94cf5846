// clipmatch synthesize-dataset: the synthetic poster/intro generator (C++ synthesize_dataset, C
// clipmatch_synthesize_dataset, Python clipmatch.synthesize_dataset).
#include "commands.hpp"

#include <clipmatch/error.hpp>
#include <clipmatch/synth.hpp>

#include <fmt/format.h>

#include <cstdio>

namespace clipmatch::cli {

namespace {

/// "64x96" → width, height.
void parse_size(const std::string& text, int& width, int& height) {
  int w = 0, h = 0;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &w, &x, &h, &extra) != 3 || (x != 'x' && x != 'X')) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("--size: expected WIDTHxHEIGHT (e.g. 64x96), got '{}'", text));
  }
  width = w;
  height = h;
}

}  // namespace

void register_synthesize_dataset(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("synthesize-dataset", "Write a procedurally drawn poster/intro dataset (movies.csv, "
                                                       "train.txt, posters/)");
  static SynthOptions options;
  static std::string size = fmt::format("{}x{}", options.width, options.height);
  cmd->add_option("--out", options.out, "Output dataset folder")->required();
  cmd->add_option("--n", options.n, "Number of movies")->capture_default_str();
  cmd->add_option("--seed", options.seed, "Random seed (same seed, same files)")->capture_default_str();
  cmd->add_option("--size", size, "Poster size WIDTHxHEIGHT in pixels")->capture_default_str();
  cmd->add_option("--train-fraction", options.train_fraction, "Share of movies listed in train.txt")
      ->capture_default_str();
  cmd->add_option("--quality", options.jpeg_quality, "JPEG quality 1-100")->capture_default_str();
  cmd->callback([&action] {
    action = [] {
      parse_size(size, options.width, options.height);
      options.show_progress = true;
      const SynthReport report = synthesize_dataset(options);
      fmt::print("wrote {} movies ({} train, {} held out) to {} in {:.2f} s; {} distinct intros, {} distinct words\n",
                 report.movies, report.train, report.movies - report.train, report.folder, report.seconds,
                 report.distinct_intros, report.vocabulary);
    };
  });
}

}  // namespace clipmatch::cli
