// Loads ../shared/fixtures/tokenizer_golden.json (or $CLIPMATCH_TOKENIZER_GOLDEN): texts and reference ids.
#pragma once

#include "test_support.hpp"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace clipmatch::test {

struct TokenizerGolden {
  std::vector<std::string> texts;
  nlohmann::json json;
  std::vector<std::vector<std::int64_t>> ids(const std::string& key) const {
    return json.at(key).get<std::vector<std::vector<std::int64_t>>>();
  }
};

/// The values of a 1-D int64 tensor, for comparisons with a readable failure message.
inline std::vector<std::int64_t> values(const torch::Tensor& tensor) {
  const torch::Tensor flat = tensor.contiguous().to(torch::kInt64);
  return {flat.data_ptr<std::int64_t>(), flat.data_ptr<std::int64_t>() + flat.numel()};
}

inline std::optional<TokenizerGolden> load_tokenizer_golden() {
  const auto path = shared_path("fixtures/tokenizer_golden.json", "CLIPMATCH_TOKENIZER_GOLDEN");
  if (!path) return std::nullopt;
  std::ifstream in(*path);
  TokenizerGolden golden;
  in >> golden.json;
  golden.texts = golden.json.at("texts").get<std::vector<std::string>>();
  return golden;
}

}  // namespace clipmatch::test
