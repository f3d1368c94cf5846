#include "model/tower_feed.hpp"

#include "core/autocast.hpp"
#include "model/batching.hpp"

namespace clipmatch::model {

namespace {

/// Attention mask [B, longest] (int64, 1 on real tokens) from token counts, on `device`.
torch::Tensor mask_from_lengths(const torch::Tensor& lengths, std::int64_t longest, const torch::Device& device) {
  const auto positions = torch::arange(longest, torch::kInt64).unsqueeze(0);
  return (positions < lengths.unsqueeze(1)).to(torch::kInt64).to(device);
}

/// `features(rows)` over all `n` items in chunks, without gradients.
template <typename Feed>
torch::Tensor features_in_chunks(const Feed& feed, const Model::Impl& m, std::int64_t n, bool mixed_precision) {
  torch::NoGradGuard no_grad;
  return batched(static_cast<std::size_t>(n), m.encode_batch_size(), [&](std::size_t begin, std::size_t end) {
    CudaAutocast autocast(m.device, mixed_precision);
    return feed.features(m, torch::arange(static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end), torch::kInt64));
  });
}

}  // namespace

FeedStage feed_stage(std::int64_t top_k, std::int64_t num_blocks) {
  if (top_k <= 0) return FeedStage::Features;
  return top_k < num_blocks ? FeedStage::Lower : FeedStage::Raw;
}

ImageFeed::ImageFeed(const Model::Impl& m, const std::vector<std::string>& posters, std::int64_t top_k,
                     const StageCache& cache, const std::optional<cache::ContentKey>& stage_key)
    : stage_(feed_stage(top_k, m.net->image_encoder->num_blocks())), top_k_(top_k) {
  switch (stage_) {
    case FeedStage::Features:
      values_ = cached_image_stage(m, posters, 0, cache, stage_key).to(m.device);
      break;
    case FeedStage::Lower:
      values_ = cached_image_stage(m, posters, top_k_, cache, stage_key);
      break;
    case FeedStage::Raw:
      values_ = m.load_pixels(posters);
      break;
  }
}

torch::Tensor ImageFeed::features(const Model::Impl& m, const torch::Tensor& rows) const {
  if (stage_ == FeedStage::Features) return values_.index_select(0, rows.to(values_.device()));
  const auto inputs = gather_to_device(values_, rows, m.device);
  auto& encoder = *m.net->image_encoder;
  return stage_ == FeedStage::Lower ? encoder.forward_upper(inputs, top_k_) : encoder.forward(inputs);
}

TextFeed::TextFeed(const Model::Impl& m, const std::vector<std::string>& intros, std::int64_t top_k,
                   const StageCache& cache, const std::optional<cache::ContentKey>& stage_key)
    : stage_(feed_stage(top_k, m.net->text_encoder->num_blocks())), top_k_(top_k) {
  switch (stage_) {
    case FeedStage::Features:
      values_ = cached_text_stage(m, intros, 0, cache, stage_key).values.to(m.device);
      break;
    case FeedStage::Lower: {
      auto stage = cached_text_stage(m, intros, top_k_, cache, stage_key);
      values_ = std::move(stage.values);
      lengths_ = std::move(stage.lengths);
      break;
    }
    case FeedStage::Raw: {
      auto tokens = m.tokenize(intros);
      values_ = tokens.ids;
      lengths_ = tokens.attention_mask.sum(1).to(torch::kInt64);
      break;
    }
  }
}

torch::Tensor ImageFeed::all_features(const Model::Impl& m, bool mixed_precision) const {
  return features_in_chunks(*this, m, values_.size(0), mixed_precision);
}

torch::Tensor TextFeed::all_features(const Model::Impl& m, bool mixed_precision) const {
  return features_in_chunks(*this, m, values_.size(0), mixed_precision);
}

torch::Tensor TextFeed::features(const Model::Impl& m, const torch::Tensor& rows) const {
  if (stage_ == FeedStage::Features) return values_.index_select(0, rows.to(values_.device()));
  const auto lengths = lengths_.index_select(0, rows);
  const auto longest = std::max<std::int64_t>(1, lengths.max().item<std::int64_t>());
  const auto inputs = gather_to_device(values_.slice(1, 0, longest), rows, m.device);
  const auto mask = mask_from_lengths(lengths, longest, m.device);
  auto& encoder = *m.net->text_encoder;
  if (stage_ == FeedStage::Lower) return encoder.forward_upper(inputs, mask, top_k_);
  return encoder.forward(text::TokenBatch{inputs, mask, /*padded=*/lengths.min().item<std::int64_t>() < longest});
}

}  // namespace clipmatch::model
