#include "model/encoder_stages.hpp"

#include "core/precision.hpp"
#include "core/progress.hpp"
#include "io/image_impl.hpp"
#include "model/batching.hpp"
#include "nn/direct_conv.hpp"
#include "nn/inference_stack.hpp"

#include <clipmatch/names.hpp>

namespace clipmatch::model {

namespace {

/// Salt that separates the cache entries of different split depths of one encoder. Depth 0 keeps the salt
/// the frozen-feature cache always had, so existing caches stay valid.
std::string depth_salt(const std::string& base, std::int64_t top_k) {
  return top_k == 0 ? base : fmt::format("{}|lower:{}", base, top_k);
}

/// The entries `rows` of a stage: `encode(slice)` per batch in an eval pass of `encoder`, moved to the CPU
/// batch by batch (a lower part of a whole dataset may not fit on the GPU), with progress.
template <typename Item, typename Encode>
torch::Tensor encode_rows(torch::nn::Module& encoder, const std::vector<Item>& items, const std::vector<std::size_t>& rows,
                          std::size_t batch_size, const char* what, bool verbose, Encode&& encode) {
  EvalPass pass(encoder);
  Progress progress(what, rows.size(), verbose);
  auto out = batched(rows.size(), batch_size, [&](std::size_t begin, std::size_t end) {
    std::vector<Item> slice;
    for (auto i = begin; i < end; ++i) slice.push_back(items[rows[i]]);
    return encode(slice).to(torch::kCPU);
  }, &progress);
  progress.finish();
  return out;
}

/// Features of reduced precision never mix with fp32 ones; fp32 keeps the salt caches always had. int8 features
/// of a CPU without VNNI come from 7-bit activations (nn::int8_products_exact) and are kept apart too.
std::string precision_salt(std::string base) {
  const Precision precision = current_precision();
  if (precision == Precision::Fp32) return base;
  std::string salt = fmt::format("{}|precision:{}", base, to_name(precision));
  if (precision == Precision::Int8 && !nn::int8_products_exact()) salt += "|activations:7bit";
  return salt;
}

std::string text_salt(const Model::Impl& m, std::int64_t top_k) {
  return precision_salt(depth_salt(fmt::format("text|{}|{}", m.config.text_encoder.kind, m.text.max_tokens), top_k));
}

}  // namespace

cache::ContentKey image_stage_key(const Model::Impl& m, std::int64_t top_k) {
  std::string salt = precision_salt(depth_salt("image|" + io::preprocess_to_json(m.image.preprocess).dump(), top_k));
  // Under int8, MobileNetV2's features depend on whether this CPU runs int8 convolutions (before 2026-11-30 no
  // CNN did, and those caches carry the bare int8 salt): both kinds stay apart.
  if (current_precision() == Precision::Int8) {
    salt += nn::DirectConv::int8_available() ? "|convolutions:int8" : "|convolutions:fp32";
  }
  return cache::hash_module(*m.net->image_encoder, salt);
}

cache::ContentKey text_stage_key(const Model::Impl& m, std::int64_t top_k) {
  m.require_ready("encoding intros");
  return cache::hash_module(*m.net->text_encoder, text_salt(m, top_k));
}

torch::Tensor cached_image_stage(const Model::Impl& m, const std::vector<std::string>& posters, std::int64_t top_k,
                                 const StageCache& cache, const std::optional<cache::ContentKey>& key) {
  cache::FeatureCache store(cache.dir, key ? *key : image_stage_key(m, top_k));
  std::vector<cache::ContentKey> keys;
  keys.reserve(posters.size());
  for (const auto& path : posters) keys.push_back(cache::hash_file(path));
  return store.get_or_compute(
      keys,
      [&](const std::vector<std::size_t>& rows) {
        return encode_rows(*m.net->image_encoder, posters, rows, m.encode_batch_size(), "encode posters", cache.verbose,
                           [&](const std::vector<std::string>& slice) { return m.encode_image_batch(slice, top_k); });
      },
      cache.stats, cache.share_dir);
}

TextStage cached_text_stage(const Model::Impl& m, const std::vector<std::string>& intros, std::int64_t top_k,
                            const StageCache& cache, const std::optional<cache::ContentKey>& key) {
  m.require_ready("encoding intros");
  const auto salt = text_salt(m, top_k);
  cache::FeatureCache store(cache.dir, key ? *key : text_stage_key(m, top_k));
  std::vector<cache::ContentKey> keys;
  keys.reserve(intros.size());
  for (const auto& intro : intros) keys.push_back(cache::hash_text(intro, salt));

  TextStage out;
  out.values = store.get_or_compute(
      keys,
      [&](const std::vector<std::size_t>& rows) {
        std::vector<std::string> missing;
        missing.reserve(rows.size());
        for (const auto row : rows) missing.push_back(intros[row]);
        EvalPass pass(*m.net->text_encoder);
        Progress progress("encode intros", rows.size(), cache.verbose);
        auto out = m.text_stage(missing, top_k, m.encode_batch_size(), /*to_cpu=*/true, &progress);
        progress.finish();
        return out;
      },
      cache.stats, cache.share_dir);
  if (top_k > 0) out.lengths = m.tokenize(intros).attention_mask.sum(1).to(torch::kInt64);
  return out;
}

std::filesystem::path training_cache_dir(const TrainOptions& options) {
  if (!options.use_cache) return {};
  if (!options.cache_dir.empty()) return options.cache_dir;
  return std::filesystem::path(options.run_dir).parent_path() / ".clipmatch-cache";
}

}  // namespace clipmatch::model
