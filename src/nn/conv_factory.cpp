#include "nn/conv_factory.hpp"

#include "core/fail.hpp"
#include "io/checkpoint.hpp"
#include "nn/weight_loader.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace clipmatch::nn {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

CheckpointShapes shapes_of(const io::CheckpointReader& reader) {
  CheckpointShapes shapes;
  shapes.source = reader.path();
  for (const auto& name : reader.names()) shapes.shapes.emplace(name, reader.tensor(name).shape);
  return shapes;
}

fs::path require_file(const fs::path& path) {
  if (!fs::is_regular_file(path)) fail(ErrorKind::Io, "{}: file not found", path.string());
  return path;
}

}  // namespace

void load_conv_weights(torch::nn::Module& module, const io::CheckpointReader& reader) {
  const auto ignore_counters = [](const std::string& name) -> std::optional<std::string> {
    if (ends_with(name, ".num_batches_tracked")) return std::nullopt;
    return name;
  };
  const LoadReport report = load_weights(module, reader, ignore_counters, /*strict=*/false);
  for (const auto& name : report.missing) {
    if (!ends_with(name, ".num_batches_tracked")) {
      fail(ErrorKind::Checkpoint, "{}: missing tensor '{}'", reader.path(), name);
    }
  }
  if (!report.unexpected.empty()) {
    fail(ErrorKind::Checkpoint, "{}: unexpected tensor '{}' (and {} more)", reader.path(), report.unexpected.front(),
         report.unexpected.size() - 1);
  }
}

ResNet load_resnet(const std::string& folder) {
  const auto reader = io::CheckpointReader::open(folder);
  ResNet model(ResNetConfig::infer(shapes_of(reader)));
  load_conv_weights(*model, reader);
  model->eval();
  return model;
}

MobileNetV2 load_mobilenet_v2(const std::string& folder) {
  double width_mult = 1.0;
  const fs::path config_path = fs::path(folder) / "config.json";
  nlohmann::json declared;  // what config.json says of the shapes, checked against the tensors below
  if (fs::is_regular_file(config_path)) {
    std::ifstream stream(config_path);
    nlohmann::json config = nlohmann::json::parse(stream, nullptr, /*allow_exceptions=*/false);
    if (config.is_discarded() || !config.is_object()) {
      fail(ErrorKind::Format, "{}: not a JSON object", config_path.string());
    }
    if (config.contains("architecture") && config["architecture"] != "mobilenet_v2") {
      fail(ErrorKind::Format, "{}: architecture is {}, expected \"mobilenet_v2\"", config_path.string(),
           config["architecture"].dump());
    }
    if (config.contains("width_mult")) {
      if (!config["width_mult"].is_number()) {
        fail(ErrorKind::Format, "{}: field 'width_mult' must be a number", config_path.string());
      }
      width_mult = config["width_mult"].get<double>();
    }
    declared = config;
  }
  const auto reader = io::CheckpointReader::open(folder);
  MobileNetV2 model(MobileNetV2Config::infer(shapes_of(reader), width_mult));
  // A config.json that contradicts the tensors is a broken folder, not a detail to ignore.
  for (const auto& [field, actual] : {std::pair{"feature_dim", model->config().feature_dim()},
                                      std::pair{"num_classes", model->config().num_classes}}) {
    if (!declared.contains(field) || (std::string(field) == "num_classes" && actual == 0)) continue;
    if (!declared[field].is_number_integer() || declared[field].get<std::int64_t>() != actual) {
      fail(ErrorKind::Format, "{}: field '{}' is {} but the tensors in {} give {}", config_path.string(), field,
           declared[field].dump(), folder, actual);
    }
  }
  load_conv_weights(*model, reader);
  model->eval();
  return model;
}

WordVectorModel load_word_vectors(const std::string& folder, WordPooling pooling, bool trainable) {
  const fs::path vocab_path = require_file(fs::path(folder) / "vocab.txt");
  std::ifstream stream(vocab_path);
  if (!stream) fail(ErrorKind::Io, "{}: cannot open", vocab_path.string());
  std::vector<std::string> vocabulary;
  for (std::string line; std::getline(stream, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocabulary.push_back(std::move(line));
  }
  const auto reader = io::CheckpointReader::open(require_file(fs::path(folder) / "embeddings.safetensors").string());
  const auto& view = reader.tensor("embeddings");
  if (view.shape.size() != 2 || view.shape[0] != static_cast<std::int64_t>(vocabulary.size())) {
    fail(ErrorKind::Checkpoint, "{}: tensor 'embeddings' has shape [{}], but {} has {} words", reader.path(),
         fmt::join(view.shape, ", "), vocab_path.string(), vocabulary.size());
  }
  WordVectorConfig config;
  config.vocab_size = view.shape[0];
  config.dim = view.shape[1];
  config.pooling = pooling;
  config.trainable = trainable;
  WordVectorModel model;
  model.encoder = WordVectorEncoder(config);
  model.encoder->load_embeddings(reader.load("embeddings"));
  model.tokenizer = std::make_shared<WordVectorTokenizer>(std::move(vocabulary));
  return model;
}

}  // namespace clipmatch::nn
