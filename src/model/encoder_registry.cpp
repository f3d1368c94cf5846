// The encoder registry: turns an EncoderSpec ("mobilenet_v2:/w/mnv2", "tiny_text", ...) into a tower — the
// encoder module plus the preprocessing or tokenizer that feeds it. The only place that knows every kind.
#include "model/towers.hpp"

#include "core/fail.hpp"
#include "nn/bert.hpp"
#include "nn/clip.hpp"
#include "nn/config.hpp"
#include "nn/conv_factory.hpp"
#include "nn/resnet.hpp"
#include "nn/transformer_factory.hpp"
#include "nn/vit.hpp"
#include "nn/word_vectors.hpp"
#include "text/clip_bpe.hpp"
#include "text/sentencepiece_tokenizer.hpp"
#include "text/wordpiece.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace clipmatch::model {

namespace {

namespace fs = std::filesystem;

/// Side of the square input of the from-scratch poster encoder (synthetic posters are 64×96).
constexpr int kTinyImageSize = 64;
/// Vocabulary asked of sentencepiece for tiny_text (smaller corpora give fewer pieces).
constexpr std::size_t kTinyVocabulary = 2000;
constexpr std::size_t kTinyMaxTokens = 64;
constexpr std::int64_t kTinyTextWidth = 128;

std::string find_file(const std::string& folder, std::initializer_list<const char*> names, const std::string& what) {
  for (const char* name : names) {
    const auto path = fs::path(folder) / name;
    if (fs::exists(path)) return path.string();
  }
  std::string tried;
  for (const char* name : names) tried += std::string(tried.empty() ? "" : ", ") + name;
  fail(ErrorKind::Io, "{}: no {} found (looked for {})", folder, what, tried);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "{}: cannot open", path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The tokenizer a CLIP folder ships: vocab.json + merges.txt (Hugging Face) or the original gzipped BPE.
std::shared_ptr<text::Tokenizer> clip_tokenizer(const std::string& folder) {
  const auto vocab = fs::path(folder) / "vocab.json";
  const auto merges = fs::path(folder) / "merges.txt";
  if (fs::exists(vocab) && fs::exists(merges)) {
    return std::make_shared<text::ClipBpeTokenizer>(text::ClipBpeTokenizer::from_vocab_and_merges(vocab.string(), merges.string()));
  }
  return std::make_shared<text::ClipBpeTokenizer>(text::ClipBpeTokenizer::from_merges_file(
      find_file(folder, {"bpe_simple_vocab_16e6.txt.gz", "bpe_simple_vocab_16e6.txt"}, "CLIP tokenizer files (vocab.json + merges.txt)")));
}

std::shared_ptr<text::Tokenizer> bert_tokenizer(const std::string& folder) {
  text::WordPieceOptions options;
  const auto tokenizer_config = fs::path(folder) / "tokenizer_config.json";
  if (fs::exists(tokenizer_config)) {
    std::ifstream in(tokenizer_config);
    const auto json = nlohmann::json::parse(in, nullptr, false);
    if (json.is_object() && json.contains("do_lower_case") && json["do_lower_case"].is_boolean())
      options.lowercase = json["do_lower_case"].get<bool>();
  }
  return std::make_shared<text::WordPieceTokenizer>(
      text::WordPieceTokenizer::from_vocab_file(find_file(folder, {"vocab.txt"}, "WordPiece vocabulary"), options));
}

/// The image size a CLIP vision tower was trained on (its config.json), for its preprocessing.
int clip_image_size(const std::string& folder) {
  const auto config = nn::JsonConfig::load((fs::path(folder) / "config.json").string());
  const auto vision = config.has("vision_config") ? config.section("vision_config") : config;
  return static_cast<int>(vision.get_or<std::int64_t>("image_size", 224));
}

ImagePreprocess vit_preprocess(const std::string& folder) {
  auto pp = ImagePreprocess::vit();
  const auto config = nn::JsonConfig::load((fs::path(folder) / "config.json").string());
  pp.size = pp.resize_to = static_cast<int>(config.get_or<std::int64_t>("image_size", 224));
  return pp;
}

}  // namespace

ImageTower build_image_tower(const EncoderSpec& spec, std::uint64_t seed) {
  torch::manual_seed(seed);
  ImageTower tower;
  tower.pretrained = !spec.path.empty();
  if (spec.kind == "tiny_cnn") {
    tower.encoder = std::make_shared<nn::ResNetImpl>(nn::ResNetConfig::tiny());
    tower.preprocess = ImagePreprocess::vit();
    tower.preprocess.size = tower.preprocess.resize_to = kTinyImageSize;
  } else if (spec.kind == "vit") {
    tower.encoder = nn::load_vit(spec.path);
    tower.preprocess = vit_preprocess(spec.path);
  } else if (spec.kind == "clip") {
    tower.encoder = nn::load_clip_vision(spec.path);
    tower.preprocess = ImagePreprocess::clip();
    tower.preprocess.size = tower.preprocess.resize_to = clip_image_size(spec.path);
  } else if (spec.kind == "resnet") {
    tower.encoder = nn::load_resnet(spec.path).ptr();
    tower.preprocess = ImagePreprocess::imagenet();
  } else if (spec.kind == "mobilenet_v2") {
    tower.encoder = nn::load_mobilenet_v2(spec.path).ptr();
    tower.preprocess = ImagePreprocess::mobilenet_v2_tf();
  } else {
    fail(ErrorKind::InvalidArgument, "'{}' is not a poster encoder (use vit, clip, resnet, mobilenet_v2 or tiny_cnn)",
         spec.to_string());
  }
  return tower;
}

TextTower build_text_tower(const EncoderSpec& spec, std::uint64_t seed, std::size_t max_tokens,
                           const std::string& tokenizer_model, const std::vector<std::string>* training_texts) {
  torch::manual_seed(seed + 2);
  TextTower tower;
  tower.pretrained = !spec.path.empty();
  if (spec.kind == "tiny_text") {
    tower.max_tokens = max_tokens > 0 ? max_tokens : kTinyMaxTokens;
    std::string model_bytes = tokenizer_model;
    if (model_bytes.empty() && training_texts != nullptr) {
      const auto scratch = fs::temp_directory_path() / fmt::format("clipmatch-spm-{}-{}.model", ::getpid(), seed);
      text::train_sentencepiece(*training_texts, scratch.string(), kTinyVocabulary);
      model_bytes = read_bytes(scratch.string());
      fs::remove(scratch);
    }
    if (model_bytes.empty()) return tower;  // no vocabulary yet: built when training starts
    auto tokenizer = std::make_shared<text::SentencePieceTokenizer>(
        text::SentencePieceTokenizer::from_bytes(model_bytes, "tiny_text vocabulary"));
    // A bag of learnt sentencepiece vectors, mean-pooled: on a few hundred intros a transformer trained from
    // scratch memorises the training pairs (train R@1 0.3, held-out 0.017 in the demo), while the pooled
    // bag of pieces has to learn what the words mean and generalises.
    nn::WordVectorConfig config;
    config.vocab_size = static_cast<std::int64_t>(tokenizer->vocab_size());
    config.dim = kTinyTextWidth;
    config.pooling = nn::WordPooling::Mean;
    config.trainable = true;
    tower.encoder = std::make_shared<nn::WordVectorEncoderImpl>(config);
    tower.tokenizer = tokenizer;
    tower.tokenizer_model = model_bytes;
  } else if (spec.kind == "bert") {
    tower.encoder = nn::load_bert(spec.path);
    tower.tokenizer = bert_tokenizer(spec.path);
    tower.max_tokens = max_tokens > 0 ? max_tokens : 128;
  } else if (spec.kind == "clip") {
    tower.encoder = nn::load_clip_text(spec.path);
    tower.tokenizer = clip_tokenizer(spec.path);
    tower.max_tokens = max_tokens > 0 ? max_tokens : text::ClipBpeTokenizer::kContextLength;
  } else if (spec.kind == "glove") {
    auto loaded = nn::load_word_vectors(spec.path, nn::WordPooling::Mean);
    tower.encoder = loaded.encoder.ptr();
    tower.tokenizer = loaded.tokenizer;
    tower.max_tokens = max_tokens > 0 ? max_tokens : 256;
  } else {
    fail(ErrorKind::InvalidArgument, "'{}' is not an intro encoder (use bert, clip, glove or tiny_text)", spec.to_string());
  }
  return tower;
}

std::optional<double> pretrained_logit_scale(const EncoderSpec& spec) {
  if (spec.kind != "clip") return std::nullopt;
  return static_cast<double>(nn::load_clip_logit_scale(spec.path));
}

}  // namespace clipmatch::model
