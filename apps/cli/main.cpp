// Entry point of the clipmatch program: parses the command line and runs the chosen subcommand. Every error
// becomes one line on stderr and a non-zero exit status.
#include "commands.hpp"

#include <clipmatch/error.hpp>
#include <clipmatch/version.hpp>

#include <fmt/format.h>

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  clipmatch::cli::set_command_line(argc, argv);
  CLI::App app{"clipmatch — match movie posters to their synopses, CLIP-style"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the library version and build information");

  clipmatch::cli::Action action;
  clipmatch::cli::register_synthesize_dataset(app, action);
  clipmatch::cli::register_demo(app, action);
  clipmatch::cli::register_train(app, action);
  clipmatch::cli::register_eval(app, action);
  clipmatch::cli::register_encode(app, action);
  clipmatch::cli::register_bench(app, action);
  clipmatch::cli::register_index(app, action);
  clipmatch::cli::register_search(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (show_version) {
      std::cout << clipmatch::build_info() << "\n";
      return 0;
    }
    if (!action) {
      std::cout << app.help();
      return 0;
    }
    action();
    return 0;
  } catch (const clipmatch::Error& e) {
    std::cerr << "clipmatch: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "clipmatch: unexpected error: " << e.what() << "\n";
    return 2;
  }
}
