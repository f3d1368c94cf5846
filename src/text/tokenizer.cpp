#include "text/tokenizer.hpp"

#include "core/thread_pool.hpp"

#include <algorithm>

namespace clipmatch::text {

TokenBatch Tokenizer::encode_batch(const std::vector<std::string>& texts, std::size_t max_length,
                                   bool pad_to_max) const {
  // Texts are tokenised on the pool's threads: on a GPU the encoders outrun one thread's tokenising.
  std::vector<std::vector<std::int64_t>> rows(texts.size());
  ThreadPool::shared().parallel_for(texts.size(), [&](std::size_t i) { rows[i] = encode(texts[i], max_length); });
  std::size_t longest = 0;
  for (const auto& row : rows) longest = std::max(longest, row.size());
  const std::size_t width = pad_to_max && max_length > 0 ? max_length : longest;
  const auto batch = static_cast<std::int64_t>(rows.size());
  const auto length = static_cast<std::int64_t>(width);
  TokenBatch out{torch::full({batch, length}, pad_id(), torch::kInt64), torch::zeros({batch, length}, torch::kInt64)};
  auto ids = out.ids.accessor<std::int64_t, 2>();
  auto mask = out.attention_mask.accessor<std::int64_t, 2>();
  for (std::int64_t row = 0; row < batch; ++row) {
    const auto& tokens = rows[static_cast<std::size_t>(row)];
    for (std::size_t col = 0; col < tokens.size(); ++col) {
      ids[row][static_cast<std::int64_t>(col)] = tokens[col];
      mask[row][static_cast<std::int64_t>(col)] = 1;
    }
  }
  return out;
}

}  // namespace clipmatch::text
