#include "text/sentencepiece_tokenizer.hpp"

#include "core/fail.hpp"
#include "text/sentencepiece_library.hpp"
#include "text/utf8.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace clipmatch::text {

namespace {

namespace fs = std::filesystem;

std::string random_suffix() {
  std::random_device device;
  return std::to_string(device()) + std::to_string(device());
}

// A scratch folder removed on every exit path.
class ScratchDir {
 public:
  ScratchDir() : path_(fs::temp_directory_path() / ("clipmatch-spm-" + random_suffix())) {
    std::error_code ec;
    fs::create_directories(path_, ec);
    if (ec) fail(ErrorKind::Io, "{}: cannot create a scratch folder: {}", path_.string(), ec.message());
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "{}: cannot open", path.string());
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& model_path) {
  const auto& api = spm::shim();
  model_ = api.load_file(model_path.c_str());
  if (model_ == nullptr) fail(ErrorKind::Format, "{}: cannot load SentencePiece model: {}", model_path, api.last_error());
  origin_ = model_path;
}

SentencePieceTokenizer::SentencePieceTokenizer(clipmatch_spm* model, std::string origin)
    : model_(model), origin_(std::move(origin)) {}

SentencePieceTokenizer SentencePieceTokenizer::from_bytes(const std::string& serialized, const std::string& origin) {
  const auto& api = spm::shim();
  clipmatch_spm* model = api.load_bytes(serialized.data(), serialized.size());
  if (model == nullptr) fail(ErrorKind::Format, "{}: cannot load SentencePiece model: {}", origin, api.last_error());
  return SentencePieceTokenizer(model, origin);
}

SentencePieceTokenizer::~SentencePieceTokenizer() {
  if (model_ != nullptr) spm::shim().free_model(model_);
}

SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceTokenizer&& other) noexcept
    : model_(std::exchange(other.model_, nullptr)), origin_(std::move(other.origin_)) {}

SentencePieceTokenizer& SentencePieceTokenizer::operator=(SentencePieceTokenizer&& other) noexcept {
  if (this != &other) {
    if (model_ != nullptr) spm::shim().free_model(model_);
    model_ = std::exchange(other.model_, nullptr);
    origin_ = std::move(other.origin_);
  }
  return *this;
}

std::vector<std::int64_t> SentencePieceTokenizer::encode_pieces(const std::string& utf8) const {
  const auto& api = spm::shim();
  const std::string text = sanitize_utf8(utf8);
  std::int32_t* buffer = nullptr;
  std::size_t count = 0;
  if (api.encode(model_, text.data(), text.size(), &buffer, &count) != 0)
    fail(ErrorKind::Internal, "{}: SentencePiece encoding failed: {}", origin_, api.last_error());
  std::vector<std::int64_t> ids(buffer, buffer + count);
  api.release(buffer);
  return ids;
}

std::vector<std::int64_t> SentencePieceTokenizer::encode(const std::string& utf8, std::size_t max_length) const {
  const std::int64_t bos = bos_id(), eos = eos_id();
  const std::size_t specials = (bos >= 0 ? 1 : 0) + (eos >= 0 ? 1 : 0);
  if (max_length > 0 && max_length < specials + (specials == 0 ? 1 : 0))
    fail(ErrorKind::InvalidArgument, "{}: max_length {} leaves no room for <s> and </s>", origin_, max_length);
  std::vector<std::int64_t> pieces = encode_pieces(utf8);
  if (max_length > 0 && pieces.size() + specials > max_length) pieces.resize(max_length - specials);
  std::vector<std::int64_t> ids;
  ids.reserve(pieces.size() + specials);
  if (bos >= 0) ids.push_back(bos);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  if (eos >= 0) ids.push_back(eos);
  return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  const auto& api = spm::shim();
  const std::size_t size = vocab_size();
  std::vector<std::int32_t> narrow;
  narrow.reserve(ids.size());
  for (const auto id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= size)
      fail(ErrorKind::InvalidArgument, "{}: token id {} is outside the vocabulary of {}", origin_, id, size);
    narrow.push_back(static_cast<std::int32_t>(id));
  }
  char* buffer = nullptr;
  std::size_t length = 0;
  if (api.decode(model_, narrow.data(), narrow.size(), &buffer, &length) != 0)
    fail(ErrorKind::Internal, "{}: SentencePiece decoding failed: {}", origin_, api.last_error());
  std::string text(buffer, length);
  api.release(buffer);
  return text;
}

std::int64_t SentencePieceTokenizer::pad_id() const {
  const int pad = spm::shim().pad_id(model_);
  return pad >= 0 ? pad : 0;
}
std::size_t SentencePieceTokenizer::vocab_size() const {
  return static_cast<std::size_t>(spm::shim().piece_size(model_));
}
std::int64_t SentencePieceTokenizer::unk_id() const { return spm::shim().unk_id(model_); }
std::int64_t SentencePieceTokenizer::bos_id() const { return spm::shim().bos_id(model_); }
std::int64_t SentencePieceTokenizer::eos_id() const { return spm::shim().eos_id(model_); }

void train_sentencepiece(const std::vector<std::string>& texts, const std::string& out_model_path,
                         std::size_t vocab_size, SentencePieceModelType model_type) {
  if (vocab_size < 8) fail(ErrorKind::InvalidArgument, "{}: SentencePiece vocab_size {} is too small", out_model_path, vocab_size);
  const auto& api = spm::shim();
  ScratchDir scratch;
  const fs::path corpus = scratch.path() / "corpus.txt";
  std::size_t lines = 0;
  {
    std::ofstream out(corpus, std::ios::binary);
    if (!out) fail(ErrorKind::Io, "{}: cannot write the training corpus", corpus.string());
    for (const auto& text : texts) {
      std::string line = sanitize_utf8(text);
      for (char& c : line)
        if (c == '\n' || c == '\r') c = ' ';
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      out << line << '\n';
      ++lines;
    }
    if (!out) fail(ErrorKind::Io, "{}: write error", corpus.string());
  }
  if (lines == 0) fail(ErrorKind::InvalidArgument, "{}: no non-empty text to train SentencePiece on", out_model_path);

  const fs::path prefix = scratch.path() / "model";
  const std::vector<std::pair<std::string, std::string>> flags{
      {"input", corpus.string()},
      {"model_prefix", prefix.string()},
      {"vocab_size", std::to_string(vocab_size)},
      {"model_type", model_type == SentencePieceModelType::Bpe ? "bpe" : "unigram"},
      {"character_coverage", "1.0"},
      {"hard_vocab_limit", "false"},
      {"pad_id", "0"},
      {"unk_id", "1"},
      {"bos_id", "2"},
      {"eos_id", "3"},
      {"minloglevel", "1"},  // keep the trainer's progress chatter off stderr
  };
  std::vector<const char*> keys, values;
  for (const auto& [key, value] : flags) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  if (api.train(keys.data(), values.data(), flags.size()) != 0)
    fail(ErrorKind::Internal, "{}: SentencePiece training on {} texts failed: {}", out_model_path, lines,
         api.last_error());

  const std::string model = read_file(fs::path(prefix.string() + ".model"));
  // Write beside the destination and rename, so a reader never sees a half-written model.
  const fs::path destination(out_model_path);
  const fs::path temporary = destination.string() + ".tmp-" + random_suffix();
  {
    std::ofstream out(temporary, std::ios::binary);
    if (!out) fail(ErrorKind::Io, "{}: cannot write", temporary.string());
    out.write(model.data(), static_cast<std::streamsize>(model.size()));
    if (!out) fail(ErrorKind::Io, "{}: write error", temporary.string());
  }
  std::error_code ec;
  fs::rename(temporary, destination, ec);
  if (ec) {
    fs::remove(temporary, ec);
    fail(ErrorKind::Io, "{}: cannot move the trained model into place", out_model_path);
  }
}

}  // namespace clipmatch::text
