#include "commands.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <map>

namespace clipmatch::cli {

void add_device_option(CLI::App& cmd, Device& device) { add_enum_option(cmd, "--device", device, "Where to compute"); }

void add_distance_option(CLI::App& cmd, DistanceKind& kind) {
  add_enum_option(cmd, "--distance", kind, "Distance matrix values");
}

std::string encoder_help(EncoderSide side) {
  std::string out;
  for (const auto& kind : encoder_kinds()) {
    if (kind.side != side && kind.side != EncoderSide::Both) continue;
    out += fmt::format("{}{}{}: {}", out.empty() ? "" : "; ", kind.name, kind.needs_path ? ":PATH" : "", kind.description);
  }
  return out;
}

void print_metrics_table(const EvaluationReport& report) {
  fmt::print("\n{:<9} {:>6} {:>9} {:>9} | {:>6} {:>6} {:>6} {:>7} | {:>6} {:>6} {:>6} {:>7}\n", "split", "n",
             "acc_dim0", "acc_dim1", "p→i@1", "@5", "@10", "medrank", "i→p@1", "@5", "@10", "medrank");
  for (const char* name : {"train", "heldout", "all"}) {
    const auto it = report.splits.find(name);
    if (it == report.splits.end()) continue;
    const auto& m = it->second;
    fmt::print("{:<9} {:>6} {:>9.3f} {:>9.3f} | {:>6.3f} {:>6.3f} {:>6.3f} {:>7.1f} | {:>6.3f} {:>6.3f} {:>6.3f} {:>7.1f}\n",
               name, m.n, m.acc_dim0, m.acc_dim1, m.poster_to_intro.r1, m.poster_to_intro.r5, m.poster_to_intro.r10,
               m.poster_to_intro.median_rank, m.intro_to_poster.r1, m.intro_to_poster.r5, m.intro_to_poster.r10,
               m.intro_to_poster.median_rank);
  }
  if (const auto it = report.splits.find("heldout"); it != report.splits.end()) {
    fmt::print("(chance R@1 on held-out = 1/{} = {:.4f}; p→i = poster finds its intro, i→p = intro finds its poster)\n",
               it->second.n, 1.0 / static_cast<double>(it->second.n));
  }
}

void print_outputs(const std::string& folder) {
  fmt::print("\noutputs in {}: metrics.json distance.npy posters.npy intros.npy heatmap.png topk.csv\n",
             std::filesystem::absolute(folder).string());
}

}  // namespace clipmatch::cli
