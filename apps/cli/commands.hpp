// The clipmatch command line: one file per subcommand, each registering itself on the root CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

#include <clipmatch/model.hpp>

#include <functional>
#include <string>

namespace clipmatch::cli {

/// What a subcommand's registration returns: the action run when the subcommand was chosen.
using Action = std::function<void()>;

/// Registers a subcommand on `app` and stores in `action` what to run when the user picks it.
void register_synth(CLI::App& app, Action& action);
void register_demo(CLI::App& app, Action& action);
void register_train(CLI::App& app, Action& action);
void register_eval(CLI::App& app, Action& action);
void register_encode(CLI::App& app, Action& action);

// Shared helpers (common.cpp).

/// Adds --device auto|cpu|cuda bound to `device`.
void add_device_option(CLI::App& cmd, Device& device);
/// Adds --distance 1-cos|-cos bound to `kind`.
void add_distance_option(CLI::App& cmd, DistanceKind& kind);
/// The metrics table printed after training and evaluation.
void print_metrics_table(const EvaluationReport& report);
/// Writes a one-line summary of where outputs went.
void print_outputs(const std::string& folder);

}  // namespace clipmatch::cli
