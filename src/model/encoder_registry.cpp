// The encoder registry: turns an EncoderSpec ("mobilenet_v2:/w/mnv2", "tiny_text", ...) into a tower — the
// encoder module plus the preprocessing or tokenizer that feeds it. The only place that knows every kind.
#include "model/towers.hpp"

#include <clipmatch/names.hpp>

#include "core/fail.hpp"
#include "core/seeded_init.hpp"
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

/// What building a text tower needs besides the spec.
struct TextRequest {
  std::uint64_t seed;
  std::size_t max_tokens;  ///< 0 = the kind's default
  const std::string& tokenizer_model;
  const std::vector<std::string>* training_texts;
};

std::size_t or_default(std::size_t requested, std::size_t fallback) { return requested > 0 ? requested : fallback; }

ImageTower tiny_cnn_tower(const EncoderSpec&) {
  ImageTower tower;
  tower.encoder = std::make_shared<nn::ResNetImpl>(nn::ResNetConfig::tiny());
  tower.preprocess = ImagePreprocess::vit();
  tower.preprocess.size = tower.preprocess.resize_to = kTinyImageSize;
  return tower;
}

ImageTower vit_tower(const EncoderSpec& spec) {
  return {nn::load_vit(spec.path), vit_preprocess(spec.path)};
}

ImageTower clip_image_tower(const EncoderSpec& spec) {
  ImageTower tower{nn::load_clip_vision(spec.path), ImagePreprocess::clip()};
  tower.preprocess.size = tower.preprocess.resize_to = clip_image_size(spec.path);
  return tower;
}

ImageTower resnet_tower(const EncoderSpec& spec) { return {nn::load_resnet(spec.path).ptr(), ImagePreprocess::imagenet()}; }

ImageTower mobilenet_v2_tower(const EncoderSpec& spec) {
  return {nn::load_mobilenet_v2(spec.path).ptr(), ImagePreprocess::mobilenet_v2_tf()};
}

TextTower tiny_text_tower(const EncoderSpec&, const TextRequest& request) {
  TextTower tower;
  tower.max_tokens = or_default(request.max_tokens, kTinyMaxTokens);
  std::string model_bytes = request.tokenizer_model;
  if (model_bytes.empty() && request.training_texts != nullptr) {
    const auto scratch = fs::temp_directory_path() / fmt::format("clipmatch-spm-{}-{}.model", ::getpid(), request.seed);
    text::train_sentencepiece(*request.training_texts, scratch.string(), kTinyVocabulary);
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
  return tower;
}

TextTower bert_tower(const EncoderSpec& spec, const TextRequest& request) {
  TextTower tower;
  tower.encoder = nn::load_bert(spec.path);
  tower.tokenizer = bert_tokenizer(spec.path);
  tower.max_tokens = or_default(request.max_tokens, 128);
  return tower;
}

TextTower clip_text_tower(const EncoderSpec& spec, const TextRequest& request) {
  TextTower tower;
  tower.encoder = nn::load_clip_text(spec.path);
  tower.tokenizer = clip_tokenizer(spec.path);
  tower.max_tokens = or_default(request.max_tokens, text::ClipBpeTokenizer::kContextLength);
  return tower;
}

TextTower glove_tower(const EncoderSpec& spec, const TextRequest& request) {
  auto loaded = nn::load_word_vectors(spec.path, nn::WordPooling::Mean);
  TextTower tower;
  tower.encoder = loaded.encoder.ptr();
  tower.tokenizer = loaded.tokenizer;
  tower.max_tokens = or_default(request.max_tokens, 256);
  return tower;
}

/// The registry: every kind, with the builders of the towers it serves. The only place that knows them.
struct Entry {
  EncoderKind info;
  ImageTower (*image)(const EncoderSpec&);
  TextTower (*text)(const EncoderSpec&, const TextRequest&);
};

const std::vector<Entry>& registry() {
  static const std::vector<Entry> entries{
      {{"vit", EncoderSide::Poster, true, "Hugging Face ViTModel folder (e.g. google/vit-base-patch16-224)"},
       vit_tower, nullptr},
      {{"bert", EncoderSide::Intro, true, "Hugging Face BertModel folder with vocab.txt (e.g. bert-base-uncased)"},
       nullptr, bert_tower},
      {{"clip", EncoderSide::Both, true, "Hugging Face CLIPModel folder; the matching tower is used"},
       clip_image_tower, clip_text_tower},
      {{"resnet", EncoderSide::Poster, true, "torchvision ResNet (18/34/50/101/152) as safetensors"}, resnet_tower,
       nullptr},
      {{"mobilenet_v2", EncoderSide::Poster, true, "torchvision or ImageNet MobileNetV2 as safetensors"},
       mobilenet_v2_tower, nullptr},
      {{"glove", EncoderSide::Intro, true, "word vectors (GloVe layout), mean-pooled"}, nullptr, glove_tower},
      {{"tiny_cnn", EncoderSide::Poster, false, "small ResNet trained from scratch (64×64 input)"}, tiny_cnn_tower,
       nullptr},
      {{"tiny_text", EncoderSide::Intro, false,
        "mean-pooled sentencepiece vectors, vocabulary learnt from the training intros"},
       nullptr, tiny_text_tower}};
  return entries;
}

const Entry& entry_of(const EncoderSpec& spec) {
  for (const auto& entry : registry())
    if (spec.kind == entry.info.name) return entry;
  EncoderSpec::parse(spec.kind);  // throws the message listing every kind
  fail(ErrorKind::InvalidArgument, "unknown encoder kind '{}'", spec.kind);
}

/// "vit, clip, resnet, mobilenet_v2 or tiny_cnn": the kinds that can serve `side`.
std::string kinds_for(EncoderSide side) {
  std::vector<std::string> names;
  for (const auto& entry : registry())
    if (side == EncoderSide::Poster ? entry.image != nullptr : entry.text != nullptr) names.push_back(entry.info.name);
  return join_choices(names);
}

}  // namespace

ImageTower build_image_tower(const EncoderSpec& spec, std::uint64_t seed) {
  const auto& entry = entry_of(spec);
  if (entry.image == nullptr) {
    fail(ErrorKind::InvalidArgument, "'{}' is not a poster encoder (use {})", spec.to_string(),
         kinds_for(EncoderSide::Poster));
  }
  SeededInit init(seed);
  ImageTower tower = entry.image(spec);
  tower.pretrained = !spec.path.empty();
  return tower;
}

TextTower build_text_tower(const EncoderSpec& spec, std::uint64_t seed, std::size_t max_tokens,
                           const std::string& tokenizer_model, const std::vector<std::string>* training_texts) {
  const auto& entry = entry_of(spec);
  if (entry.text == nullptr) {
    fail(ErrorKind::InvalidArgument, "'{}' is not an intro encoder (use {})", spec.to_string(),
         kinds_for(EncoderSide::Intro));
  }
  SeededInit init(seed + 2);
  TextTower tower = entry.text(spec, TextRequest{seed, max_tokens, tokenizer_model, training_texts});
  tower.pretrained = !spec.path.empty();
  return tower;
}

std::optional<double> pretrained_logit_scale(const EncoderSpec& spec) {
  if (spec.kind != "clip") return std::nullopt;
  return static_cast<double>(nn::load_clip_logit_scale(spec.path));
}

}  // namespace clipmatch::model

namespace clipmatch {

const std::vector<EncoderKind>& encoder_kinds() {
  static const std::vector<EncoderKind> kinds = [] {
    std::vector<EncoderKind> out;
    for (const auto& entry : model::registry()) out.push_back(entry.info);
    return out;
  }();
  return kinds;
}

}  // namespace clipmatch
