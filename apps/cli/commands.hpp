// The clipmatch command line: one file per subcommand, each registering itself on the root CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

#include <clipmatch/model.hpp>
#include <clipmatch/names.hpp>

#include <functional>
#include <map>
#include <string>

namespace clipmatch::cli {

/// What a subcommand's registration returns: the action run when the subcommand was chosen.
using Action = std::function<void()>;

/// Registers a subcommand on `app` and stores in `action` what to run when the user picks it.
void register_synthesize_dataset(CLI::App& app, Action& action);
void register_demo(CLI::App& app, Action& action);
void register_train(CLI::App& app, Action& action);
void register_eval(CLI::App& app, Action& action);
void register_encode(CLI::App& app, Action& action);
void register_bench(CLI::App& app, Action& action);
void register_index(CLI::App& app, Action& action);
void register_search(CLI::App& app, Action& action);

/// Keeps the command line this program was started with (main calls it), for launch_local_ranks.
void set_command_line(int argc, char** argv);
/// Runs this program's command line again, without --nproc, as `nproc` ranks on this machine (RANK, LOCAL_RANK,
/// WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT in their environment) and waits for all of them.
/// When one fails, stops the others and throws clipmatch::Error naming it.
void launch_local_ranks(int nproc);

// Shared helpers (common.cpp).

/// A CLI11 check that maps an enumeration's names (clipmatch/names.hpp, case-insensitive) to its values.
template <typename Enum>
CLI::CheckedTransformer enum_choices() {
  std::map<std::string, Enum> names;
  for (const auto& entry : enum_names<Enum>()) names.emplace(entry.name, entry.value);
  return CLI::CheckedTransformer(names, CLI::ignore_case);
}

/// "name: help; name: help" of an enumeration, for option descriptions.
template <typename Enum>
std::string enum_help() {
  std::string out;
  for (const auto& entry : enum_names<Enum>()) out += (out.empty() ? "" : "; ") + std::string(entry.name) + ": " + entry.help;
  return out;
}

/// Adds an option bound to an enumeration: its choices, their help and the default from the table.
template <typename Enum>
CLI::Option* add_enum_option(CLI::App& cmd, const std::string& flag, Enum& value, const std::string& what) {
  return cmd.add_option(flag, value, what + " (" + enum_help<Enum>() + ")")
      ->transform(enum_choices<Enum>())
      ->default_str(to_name(value));
}

/// Image files (.jpg .jpeg .png .bmp .gif .tga .ppm .pgm) of a folder in file-name order; an error when none.
std::vector<std::string> poster_files(const std::string& folder);
/// Intros of a dataset's movies.csv (its `intro` column) or of a text file (one intro per line).
std::vector<std::string> read_intros(const std::string& path);

/// "KIND[:PATH]" help for the encoder kinds that can serve `side` (from clipmatch::encoder_kinds()).
std::string encoder_help(EncoderSide side);

/// Adds --device auto|cpu|cuda bound to `device`.
void add_device_option(CLI::App& cmd, Device& device);
/// Adds --distance 1-cos|-cos bound to `kind`.
void add_distance_option(CLI::App& cmd, DistanceKind& kind);
/// Adds --ocr and the reading / fusion settings of the poster-text channel bound to `ocr` (defaults from
/// OcrOptions). `with_fusion` = false leaves out the fusion options (encode only reads).
void add_ocr_options(CLI::App& cmd, OcrOptions& ocr, bool with_fusion);
/// The metrics table printed after training and evaluation.
void print_metrics_table(const EvaluationReport& report);
/// Writes a one-line summary of where outputs went.
void print_outputs(const std::string& folder);

}  // namespace clipmatch::cli
