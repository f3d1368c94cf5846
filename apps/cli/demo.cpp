#include "commands.hpp"

#include <fmt/format.h>

namespace clipmatch::cli {

void register_demo(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("demo", "Generate a synthetic dataset, train, evaluate and report");
  static std::string out = "clipmatch-demo";
  cmd->add_option("--out", out, "Output folder")->capture_default_str();
  cmd->callback([&action] { action = [] { fmt::print("demo: not yet implemented (output would go to {})\n", out); }; });
}

}  // namespace clipmatch::cli
