#include "model/encoder_stages.hpp"

#include "core/autocast.hpp"
#include "core/fail.hpp"
#include "core/progress.hpp"
#include "io/image_impl.hpp"

#include <algorithm>

namespace clipmatch::model {

namespace {

constexpr std::size_t kEncodeBatch = 64;

/// Salt that separates the cache entries of different split depths of one encoder. Depth 0 keeps the salt
/// the frozen-feature cache always had, so existing caches stay valid.
std::string depth_salt(const std::string& base, std::int64_t top_k) {
  return top_k == 0 ? base : fmt::format("{}|lower:{}", base, top_k);
}

/// Encodes `rows` in batches with `encode(first, last)` (positions into rows), showing progress.
torch::Tensor encode_in_batches(const std::vector<std::size_t>& rows, const char* what, bool verbose,
                                const std::function<torch::Tensor(std::size_t, std::size_t)>& encode) {
  Progress progress(what, rows.size(), verbose);
  std::vector<torch::Tensor> parts;
  for (std::size_t begin = 0; begin < rows.size(); begin += kEncodeBatch) {
    const auto end = std::min(rows.size(), begin + kEncodeBatch);
    parts.push_back(encode(begin, end).to(torch::kCPU, torch::kFloat32));
    progress.advance(end - begin);
  }
  progress.finish();
  return torch::cat(parts);
}

/// Runs `body` with the encoder in eval mode and without gradients, restoring its mode afterwards.
template <typename Encoder, typename Body>
auto frozen_pass(Encoder& encoder, Body&& body) {
  torch::NoGradGuard no_grad;
  const bool was_training = encoder.is_training();
  encoder.eval();
  auto out = body();
  encoder.train(was_training);
  return out;
}

std::string text_salt(const Model::Impl& m, std::int64_t top_k) {
  return depth_salt(fmt::format("text|{}|{}", m.config.text_encoder.kind, m.text.max_tokens), top_k);
}

}  // namespace

train::ContentKey image_stage_key(const Model::Impl& m, std::int64_t top_k) {
  return train::hash_module(*m.net->image_encoder,
                            depth_salt("image|" + io::preprocess_to_json(m.image.preprocess).dump(), top_k));
}

train::ContentKey text_stage_key(const Model::Impl& m, std::int64_t top_k) {
  m.require_ready("encoding intros");
  return train::hash_module(*m.net->text_encoder, text_salt(m, top_k));
}

torch::Tensor cached_image_stage(const Model::Impl& m, const std::vector<std::string>& posters, std::int64_t top_k,
                                 const StageCache& cache, const std::optional<train::ContentKey>& key) {
  auto& encoder = *m.net->image_encoder;
  train::FeatureCache store(cache.dir, key ? *key : image_stage_key(m, top_k));
  std::vector<train::ContentKey> keys;
  keys.reserve(posters.size());
  for (const auto& path : posters) keys.push_back(train::hash_file(path));
  return store.get_or_compute(
      keys,
      [&](const std::vector<std::size_t>& rows) {
        return frozen_pass(encoder, [&] {
          return encode_in_batches(rows, "encode posters", cache.verbose, [&](std::size_t begin, std::size_t end) {
            std::vector<std::string> slice;
            for (auto i = begin; i < end; ++i) slice.push_back(posters[rows[i]]);
            const auto pixels = m.load_pixels(slice).to(m.device, /*non_blocking=*/true);
            CudaAutocast autocast(m.device, /*enabled=*/true);
            return encoder.forward_lower(pixels, top_k);
          });
        });
      },
      cache.stats);
}

TextStage cached_text_stage(const Model::Impl& m, const std::vector<std::string>& intros, std::int64_t top_k,
                            const StageCache& cache, const std::optional<train::ContentKey>& key) {
  m.require_ready("encoding intros");
  auto& encoder = *m.net->text_encoder;
  const auto max_tokens = static_cast<std::int64_t>(m.text.max_tokens);
  if (top_k > 0 && max_tokens <= 0) {
    fail(ErrorKind::Unsupported, "top-K caching of the {} intro encoder needs a fixed token limit",
         m.config.text_encoder.kind);
  }
  const auto salt = text_salt(m, top_k);
  train::FeatureCache store(cache.dir, key ? *key : text_stage_key(m, top_k));
  std::vector<train::ContentKey> keys;
  keys.reserve(intros.size());
  for (const auto& intro : intros) keys.push_back(train::hash_text(intro, salt));

  TextStage out;
  out.values = store.get_or_compute(
      keys,
      [&](const std::vector<std::size_t>& rows) {
        return frozen_pass(encoder, [&] {
          return encode_in_batches(rows, "encode intros", cache.verbose, [&](std::size_t begin, std::size_t end) {
            std::vector<std::string> slice;
            for (auto i = begin; i < end; ++i) slice.push_back(intros[rows[i]]);
            auto batch = m.tokenize(slice);
            batch.ids = batch.ids.to(m.device);
            batch.attention_mask = batch.attention_mask.to(m.device);
            CudaAutocast autocast(m.device, /*enabled=*/true);
            auto stage = encoder.forward_lower(batch, top_k);
            if (top_k == 0) return stage;
            // Every entry gets the same [max_tokens, D] shape; positions past an intro's length are zero
            // and masked out again by the upper part.
            stage = stage * batch.attention_mask.unsqueeze(-1).to(stage.scalar_type());
            return torch::constant_pad_nd(stage, {0, 0, 0, max_tokens - stage.size(1)});
          });
        });
      },
      cache.stats);
  if (top_k > 0) out.lengths = m.tokenize(intros).attention_mask.sum(1).to(torch::kInt64);
  return out;
}

std::filesystem::path training_cache_dir(const TrainOptions& options) {
  if (!options.use_cache) return {};
  if (!options.cache_dir.empty()) return options.cache_dir;
  return std::filesystem::path(options.run_dir).parent_path() / ".clipmatch-cache";
}

}  // namespace clipmatch::model
