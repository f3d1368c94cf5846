// Loads ../shared/fixtures/tokenizer_golden.json (or $CLIPMATCH_TOKENIZER_GOLDEN): texts and reference ids.
#pragma once

#include "test_support.hpp"

#include <nlohmann/json.hpp>

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
