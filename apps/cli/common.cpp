#include "commands.hpp"

#include <clipmatch/dataset.hpp>
#include <clipmatch/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include <filesystem>
#include <map>

namespace clipmatch::cli {

namespace fs = std::filesystem;

std::vector<std::string> poster_files(const std::string& folder) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(folder)) {
    auto ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".gif" ||
                                    ext == ".tga" || ext == ".ppm" || ext == ".pgm")) {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) throw Error(ErrorKind::InvalidArgument, folder + ": no image files (.jpg .jpeg .png .bmp .gif .tga .ppm)");
  return out;
}

/// Intros of a dataset's movies.csv (its `intro` column) or of a text file (one intro per line).
std::vector<std::string> read_intros(const std::string& path) {
  if (fs::path(path).filename() == "movies.csv") {
    DatasetOptions options;
    options.check_posters_exist = false;
    std::vector<std::string> out;
    for (const auto& movie : load_dataset(fs::path(path).parent_path().string(), options).movies) out.push_back(movie.intro);
    return out;
  }
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::Io, path + ": cannot open");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

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

void add_ocr_options(CLI::App& cmd, OcrOptions& ocr, bool with_fusion) {
  cmd.add_flag("--ocr", ocr.enabled,
               with_fusion ? "Read the text on the posters (Tesseract) and fuse its match with the intros into the "
                             "score: cos + w·bm25"
                           : "Also read the text on the posters (Tesseract) and write it to OUT.ocr.jsonl");
  cmd.add_option("--ocr-min-height", ocr.min_height, "OCR: upscale posters shorter than this many pixels")
      ->capture_default_str();
  cmd.add_option("--ocr-modes", ocr.page_modes, "OCR: Tesseract page-segmentation modes, one pass each")
      ->capture_default_str()
      ->delimiter(',');
  cmd.add_flag("!--ocr-no-bands", ocr.title_bands, "OCR: skip the extra passes on the top and bottom bands");
  cmd.add_option("--ocr-binarization", ocr.binarization,
                 "OCR: Tesseract's binarisation (0 = Otsu, 1 = adaptive Otsu, 2 = Sauvola)")
      ->capture_default_str();
  cmd.add_option("--ocr-min-confidence", ocr.min_confidence, "OCR: drop words Tesseract is less sure of (0-100)")
      ->capture_default_str();
  cmd.add_option("--ocr-cache-dir", ocr.cache_dir, "OCR results cache [default: the feature cache folder]");
  cmd.add_option("--ocr-threads", ocr.threads, "OCR threads (0 = one per core)")->capture_default_str();
  if (!with_fusion) return;
  cmd.add_flag("!--ocr-no-stem", ocr.stemming, "Text channel: match words without stemming");
  cmd.add_option("--fusion-weight", ocr.fusion_weight,
                 "Text channel weight w (negative: train learns it on a calibration slice of the training rows; "
                 "eval uses the model's)")
      ->capture_default_str();
  cmd.add_option("--calibration-fraction", ocr.calibration_fraction,
                 "Share of the training rows held back to learn w")
      ->capture_default_str();
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
  if (report.fusion_weight >= 0) {
    fmt::print("(text channel on: score = cos + {}·bm25; OCR: {} posters from the cache, {} read in {:.1f} s)\n",
               report.fusion_weight, report.ocr_cache_hits, report.posters_read, report.ocr_seconds);
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
