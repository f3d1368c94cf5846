// The clipmatch command line: one file per subcommand, each registering itself on the root CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace clipmatch::cli {

/// What a subcommand's registration returns: the action run when the subcommand was chosen.
using Action = std::function<void()>;

/// Registers a subcommand on `app` and stores in `action` what to run when the user picks it.
void register_synth(CLI::App& app, Action& action);
void register_demo(CLI::App& app, Action& action);

}  // namespace clipmatch::cli
