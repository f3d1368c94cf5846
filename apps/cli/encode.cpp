// clipmatch encode: raw encoder features (or a trained model's embeddings) of posters or intros as .npy.
#include "commands.hpp"

#include <clipmatch/array_io.hpp>
#include <clipmatch/dataset.hpp>
#include <clipmatch/error.hpp>
#include <clipmatch/ocr.hpp>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace clipmatch::cli {

namespace {

namespace fs = std::filesystem;

/// Reads the posters' text and writes one JSON object per poster: {"file", "text", "words": [[word, confidence]]}.
void write_poster_text(const std::vector<std::string>& files, OcrOptions ocr, const std::string& out) {
  ocr.verbose = true;
  const auto texts = read_poster_text(files, ocr);
  std::string lines;
  for (std::size_t i = 0; i < files.size(); ++i) {
    nlohmann::json words = nlohmann::json::array();
    for (const auto& word : texts[i].words) words.push_back({word.text, word.confidence});
    lines += nlohmann::json{{"file", fs::path(files[i]).filename().string()}, {"text", texts[i].text()}, {"words", words}}
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
             "\n";
  }
  const auto temporary = out + ".partial";
  {
    std::ofstream file(temporary, std::ios::binary);
    file << lines;
    if (!file.flush()) throw Error(ErrorKind::Io, temporary + ": cannot write");
  }
  fs::rename(temporary, out);
  fmt::print("wrote the text of {} posters to {}\n", files.size(), out);
}

}  // namespace

void register_encode(CLI::App& app, Action& action) {
  struct Args {
    std::string image_encoder, text_encoder, model, posters, intros, out;
    Device device = Device::Auto;
    EncodeOptions options;
    OcrOptions ocr;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "encode", "Write encoder features (or, with --model, trained embeddings) of posters or intros to a .npy file");
  cmd->add_option("--image-encoder", args->image_encoder, "Poster encoder KIND:PATH (raw features)");
  cmd->add_option("--text-encoder", args->text_encoder, "Intro encoder KIND:PATH (raw features)");
  cmd->add_option("--model", args->model, "A trained run folder or model.safetensors (L2-normalised embeddings)");
  cmd->add_option("--posters", args->posters, "Folder of poster images (encoded in file-name order)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--intros", args->intros, "movies.csv (its intro column) or a text file with one intro per line")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Output .npy (float32 [N, D]); poster order is written to OUT.txt")->required();
  cmd->add_option("--batch-size", args->options.batch_size, "Items per encoder batch")->capture_default_str();
  add_enum_option(*cmd, "--precision", args->options.precision, "How the encoders compute");
  add_ocr_options(*cmd, args->ocr, /*with_fusion=*/false);
  add_device_option(*cmd, args->device);
  cmd->callback([args, &action] {
    action = [args] {
      const auto& a = *args;
      if (a.posters.empty() == a.intros.empty()) throw Error(ErrorKind::InvalidArgument, "give exactly one of --posters and --intros");
      const int sources = !a.model.empty() + !a.image_encoder.empty() + !a.text_encoder.empty();
      if (a.ocr.enabled && a.posters.empty()) throw Error(ErrorKind::InvalidArgument, "--ocr reads posters: give --posters");
      if (a.ocr.enabled && sources == 0) {  // reading only: no encoder needed
        write_poster_text(poster_files(a.posters), a.ocr, a.out + ".ocr.jsonl");
        return;
      }
      if (sources != 1) {
        throw Error(ErrorKind::InvalidArgument, "give exactly one of --model, --image-encoder and --text-encoder");
      }
      if (!a.posters.empty() && !a.text_encoder.empty()) throw Error(ErrorKind::InvalidArgument, "--posters needs --image-encoder or --model");
      if (!a.intros.empty() && !a.image_encoder.empty()) throw Error(ErrorKind::InvalidArgument, "--intros needs --text-encoder or --model");

      std::optional<Model> model;
      if (!a.model.empty()) {
        model.emplace(Model::load(a.model, a.device));
      } else {
        ModelConfig config;  // the tower not asked for stays an untrained preset: it is never run
        if (!a.image_encoder.empty()) config.image_encoder = EncoderSpec::parse(a.image_encoder);
        if (!a.text_encoder.empty()) config.text_encoder = EncoderSpec::parse(a.text_encoder);
        model.emplace(Model::create(config, a.device));
      }
      Matrix result;
      if (!a.posters.empty()) {
        const auto files = poster_files(a.posters);
        result = a.model.empty() ? model->poster_features(files, a.options) : model->encode_posters(files, a.options);
        std::ofstream list(a.out + ".txt");
        for (const auto& f : files) list << fs::path(f).filename().string() << "\n";
        if (a.ocr.enabled) write_poster_text(files, a.ocr, a.out + ".ocr.jsonl");
      } else {
        const auto intros = read_intros(a.intros);
        result = a.model.empty() ? model->intro_features(intros, a.options) : model->encode_intros(intros, a.options);
      }
      save_npy(a.out, result);
      fmt::print("wrote {} × {} float32 to {}\n", result.rows(), result.cols(), a.out);
    };
  });
}

}  // namespace clipmatch::cli
