#include "nn/word_vectors.hpp"

#include "core/fail.hpp"

#include <array>
#include <cmath>

namespace clipmatch::nn {

namespace {

/// Decodes the UTF-8 character at `pos` (advancing it); malformed bytes decode as U+FFFD, one byte each.
char32_t next_codepoint(const std::string& text, std::size_t& pos) {
  const auto byte = static_cast<unsigned char>(text[pos]);
  std::size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3 : (byte >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || pos + length > text.size()) {
    ++pos;
    return 0xFFFD;
  }
  char32_t codepoint = length == 1 ? byte : byte & (0x7F >> length);
  for (std::size_t i = 1; i < length; ++i) {
    const auto continuation = static_cast<unsigned char>(text[pos + i]);
    if ((continuation >> 6) != 0x2) {
      ++pos;
      return 0xFFFD;
    }
    codepoint = (codepoint << 6) | (continuation & 0x3F);
  }
  pos += length;
  return codepoint;
}

bool is_apostrophe(char32_t c) { return c == U'\'' || c == U'\u2019'; }

/// Letters and digits of any script count as word characters; ASCII, Latin-1, general and CJK punctuation
/// blocks do not (apostrophes and hyphens are handled by the caller).
bool is_word_char(char32_t c) {
  if (c < 0x80) return std::isalnum(static_cast<int>(c)) != 0;
  if (c <= 0xBF || c == 0xD7 || c == 0xF7 || c == 0xFFFD) return false;
  if (c >= 0x2000 && c <= 0x206F) return false;
  if (c >= 0x3000 && c <= 0x303F) return false;
  return true;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(std::tolower(static_cast<int>(c)));
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

const std::array<const char*, 6> kClitics{"s", "re", "ve", "ll", "d", "m"};

}  // namespace

WordPooling word_pooling_from_name(const std::string& name) {
  if (name == "mean") return WordPooling::Mean;
  if (name == "sif") return WordPooling::Sif;
  fail(ErrorKind::InvalidArgument, "word-vector pooling '{}': expected 'mean' or 'sif'", name);
}

WordVectorTokenizer::WordVectorTokenizer(std::vector<std::string> vocabulary) : vocabulary_(std::move(vocabulary)) {
  ids_.reserve(vocabulary_.size());
  for (std::size_t i = 0; i < vocabulary_.size(); ++i) ids_.emplace(vocabulary_[i], static_cast<std::int64_t>(i));
}

std::int64_t WordVectorTokenizer::id(const std::string& word) const {
  auto found = ids_.find(word);
  return found == ids_.end() ? -1 : found->second;
}

std::vector<std::string> WordVectorTokenizer::split(const std::string& utf8) const {
  // Raw tokens: runs of word characters joined by single inner apostrophes or hyphens ('\'' normalised).
  std::vector<std::string> raw;
  std::string current;
  char pending = 0;  // an apostrophe or hyphen seen after `current`, kept only if a word character follows
  for (std::size_t pos = 0; pos < utf8.size();) {
    const char32_t c = next_codepoint(utf8, pos);
    if (is_word_char(c)) {
      if (pending != 0 && !current.empty()) current += pending;
      pending = 0;
      append_utf8(current, c);
    } else if ((is_apostrophe(c) || c == U'-') && !current.empty() && pending == 0) {
      pending = is_apostrophe(c) ? '\'' : '-';
    } else {
      if (!current.empty()) raw.push_back(std::move(current));
      current.clear();
      pending = 0;
    }
  }
  if (!current.empty()) raw.push_back(std::move(current));

  std::vector<std::string> words;
  auto add_hyphenated = [&](const std::string& word) {
    if (word.find('-') == std::string::npos || ids_.count(word) != 0) {
      words.push_back(word);
      return;
    }
    std::size_t start = 0;
    for (std::size_t dash = word.find('-'); ; dash = word.find('-', start)) {
      words.push_back(word.substr(start, dash - start));
      if (dash == std::string::npos) break;
      start = dash + 1;
    }
  };
  for (const auto& token : raw) {
    const std::size_t apostrophe = token.rfind('\'');
    if (apostrophe == std::string::npos) {
      add_hyphenated(token);
      continue;
    }
    std::string stem = token.substr(0, apostrophe);
    const std::string tail = token.substr(apostrophe + 1);
    std::string clitic;
    if (tail == "t" && stem.size() > 1 && stem.back() == 'n' && stem.find('\'') == std::string::npos) {
      stem.pop_back();  // Penn Treebank style: "don't" -> "do" "n't"
      clitic = "n't";
    } else if (std::find(kClitics.begin(), kClitics.end(), tail) != kClitics.end()) {
      clitic = "'" + tail;
    } else {
      stem = token;  // "o'neill": no clitic, the apostrophe is dropped
    }
    stem.erase(std::remove(stem.begin(), stem.end(), '\''), stem.end());
    add_hyphenated(stem);
    if (!clitic.empty()) words.push_back(clitic);
  }
  return words;
}

std::vector<std::int64_t> WordVectorTokenizer::encode(const std::string& utf8, std::size_t max_length) const {
  std::vector<std::int64_t> result;
  for (const auto& word : split(utf8)) {
    if (max_length != 0 && result.size() >= max_length) break;
    const std::int64_t row = id(word);
    if (row >= 0) result.push_back(row);
  }
  return result;
}

void WordVectorConfig::validate() const {
  if (vocab_size < 1) fail(ErrorKind::InvalidArgument, "WordVectorConfig.vocab_size = {}: must be >= 1", vocab_size);
  if (dim < 1) fail(ErrorKind::InvalidArgument, "WordVectorConfig.dim = {}: must be >= 1", dim);
  if (!(sif_a > 0.0) || !std::isfinite(sif_a)) {
    fail(ErrorKind::InvalidArgument, "WordVectorConfig.sif_a = {}: must be > 0", sif_a);
  }
}

WordVectorEncoderImpl::WordVectorEncoderImpl(const WordVectorConfig& config) : config_(config) {
  config_.validate();
  embeddings = register_parameter("embeddings",
                                  torch::randn({config_.vocab_size, config_.dim}) / std::sqrt(double(config_.dim)),
                                  config_.trainable);
  word_weights_ = register_buffer("word_weights", torch::ones({config_.vocab_size}));
  if (config_.pooling == WordPooling::Sif) {
    // Zipf: p(rank r) = 1 / (r · H_V), r = row + 1.
    torch::Tensor inverse_rank = 1.0 / torch::arange(1, config_.vocab_size + 1, torch::kFloat64);
    set_probabilities(inverse_rank / inverse_rank.sum());
  }
}

void WordVectorEncoderImpl::set_probabilities(const torch::Tensor& probabilities) {
  torch::NoGradGuard no_grad;
  word_weights_.copy_((config_.sif_a / (config_.sif_a + probabilities)).to(torch::kFloat32));
}

void WordVectorEncoderImpl::set_word_counts(const std::vector<double>& counts) {
  if (static_cast<std::int64_t>(counts.size()) != config_.vocab_size) {
    fail(ErrorKind::InvalidArgument, "word counts: {} entries for a vocabulary of {}", counts.size(),
         config_.vocab_size);
  }
  torch::Tensor smoothed = torch::tensor(counts, torch::kFloat64).clamp_min(0.0) + 1.0;
  if (config_.pooling == WordPooling::Sif) set_probabilities(smoothed / smoothed.sum());
}

void WordVectorEncoderImpl::load_embeddings(const torch::Tensor& table) {
  if (table.dim() != 2 || table.size(0) != config_.vocab_size || table.size(1) != config_.dim) {
    fail(ErrorKind::Checkpoint, "tensor 'embeddings' has shape [{}], expected [{}, {}]",
         fmt::join(table.sizes(), ", "), config_.vocab_size, config_.dim);
  }
  torch::NoGradGuard no_grad;
  embeddings.copy_(table.to(torch::kFloat32));
}

torch::Tensor WordVectorEncoderImpl::forward(const text::TokenBatch& batch) {
  const torch::Tensor& ids = batch.ids;
  if (ids.dim() != 2) fail(ErrorKind::InvalidArgument, "word vectors: ids must be [B, L], got rank {}", ids.dim());
  torch::Tensor valid = batch.attention_mask.defined() ? batch.attention_mask.to(ids.device()).ne(0)
                                                       : torch::ones_like(ids, torch::kBool);
  if (valid.sizes() != ids.sizes()) {
    fail(ErrorKind::InvalidArgument, "word vectors: attention_mask [{}] does not match ids [{}]",
         fmt::join(valid.sizes(), ", "), fmt::join(ids.sizes(), ", "));
  }
  torch::Tensor ids64 = ids.to(torch::kInt64);
  torch::Tensor out_of_range = valid & (ids64.lt(0) | ids64.ge(config_.vocab_size));
  if (out_of_range.any().item<bool>()) {
    torch::Tensor where = out_of_range.nonzero()[0];
    const auto row = where[0].item<std::int64_t>(), column = where[1].item<std::int64_t>();
    fail(ErrorKind::InvalidArgument, "word vectors: id {} at [{}, {}] is outside the vocabulary of {}",
         ids64[row][column].item<std::int64_t>(), row, column, config_.vocab_size);
  }
  torch::Tensor safe_ids = torch::where(valid, ids64, torch::zeros_like(ids64));
  torch::Tensor weights = word_weights_.index({safe_ids}) * valid.to(torch::kFloat32);  // [B, L]
  torch::Tensor vectors = torch::embedding(embeddings, safe_ids);                      // [B, L, D]
  torch::Tensor summed = (vectors * weights.unsqueeze(-1)).sum(1);
  torch::Tensor count = valid.sum(1, /*keepdim=*/true).clamp_min(1).to(torch::kFloat32);
  return summed / count;
}

}  // namespace clipmatch::nn
