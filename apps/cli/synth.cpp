#include "commands.hpp"

namespace clipmatch::cli {

void register_synth(CLI::App& app, Action& action) {
  app.add_subcommand("synth", "Write a procedurally drawn poster/intro dataset (not yet implemented)");
}

}  // namespace clipmatch::cli
