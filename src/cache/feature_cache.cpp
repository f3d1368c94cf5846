#include "cache/feature_cache.hpp"

#include "core/fail.hpp"
#include "io/atomic_file.hpp"

#include <clipmatch/log.hpp>

#include <clipmatch/safetensors.hpp>

#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace clipmatch::cache {

FeatureCache::FeatureCache(std::filesystem::path dir, ContentKey encoder_key)
    : dir_(std::move(dir)), encoder_key_(encoder_key) {
  if (!dir_.empty()) load();
}

std::filesystem::path FeatureCache::file() const {
  return dir_.empty() ? std::filesystem::path() : dir_ / (encoder_key_.hex() + ".safetensors");
}

namespace {

constexpr const char* kFormat = "clipmatch-feature-cache-v2";  // v2: a checksum per entry

/// Checksums of every entry: row i is keys[i] + the bytes of features[i].
std::vector<std::int64_t> checksums_of(const std::vector<ContentKey>& keys, const torch::Tensor& features) {
  std::vector<std::int64_t> out(keys.size());
  const auto* base = static_cast<const std::uint8_t*>(features.data_ptr());
  const std::size_t row_bytes = keys.empty() ? 0 : static_cast<std::size_t>(features.numel()) * sizeof(float) / keys.size();
  for (std::size_t i = 0; i < keys.size(); ++i)
    out[i] = static_cast<std::int64_t>(entry_checksum(keys[i], base + i * row_bytes, row_bytes));
  return out;
}

}  // namespace

void FeatureCache::load() {
  const auto path = file();
  if (!std::filesystem::exists(path)) return;
  try {
    const auto st = SafetensorsFile::open(path.string());
    if (const auto format = st.metadata().find("format"); format == st.metadata().end() || format->second != kFormat)
      fail(ErrorKind::Format, "not a {} file (written by an older clipmatch?)", kFormat);
    const auto& keys = st.tensor("keys");
    const auto& features = st.tensor("features");
    const auto& checksums = st.tensor("checksums");
    if (keys.dtype != DType::I64 || keys.shape.size() != 2 || keys.shape[1] != 2 || features.dtype != DType::F32 ||
        features.shape.empty() || features.shape[0] != keys.shape[0] || checksums.dtype != DType::I64 ||
        checksums.shape != std::vector<std::int64_t>{keys.shape[0]}) {
      fail(ErrorKind::Format, "unexpected tensor layout");
    }
    std::vector<ContentKey> stored(static_cast<std::size_t>(keys.shape[0]));
    std::memcpy(stored.data(), keys.data, keys.nbytes);  // ContentKey is two uint64, written the same way
    const auto all = torch::from_blob(const_cast<void*>(features.data), features.shape, torch::kFloat32);
    const auto expected = checksums_of(stored, all);
    const auto* found = static_cast<const std::int64_t*>(checksums.data);
    // An entry whose checksum fails (a flipped byte) is dropped: it is recomputed like any miss, never used.
    std::vector<std::int64_t> good;
    for (std::size_t i = 0; i < stored.size(); ++i) {
      if (expected[i] == found[i]) good.push_back(static_cast<std::int64_t>(i));
    }
    if (good.size() != stored.size()) {
      log_message(LogLevel::Warning,
                  fmt::format("clipmatch: feature cache {}: {} of {} entries fail their checksum; they are recomputed",
                              path.string(), stored.size() - good.size(), stored.size()));
    }
    for (const auto i : good) keys_.push_back(stored[static_cast<std::size_t>(i)]);
    features_ = good.empty() ? torch::Tensor()
                             : all.index_select(0, torch::tensor(good, torch::kInt64)).clone();
  } catch (const Error& e) {
    // A damaged cache costs a re-encode, never a failed run: start empty and overwrite it on save.
    keys_.clear();
    features_ = torch::Tensor();
    log_message(LogLevel::Warning,
                fmt::format("clipmatch: ignoring unreadable feature cache {}: {}", path.string(), e.what()));
  }
}

void FeatureCache::save() const {
  if (dir_.empty() || keys_.empty()) return;
  io::create_directories(dir_, "feature cache folder");
  static_assert(sizeof(ContentKey) == 2 * sizeof(std::int64_t), "ContentKey must be two 64-bit words");
  const auto features = features_.contiguous();
  const auto checksums = checksums_of(keys_, features);
  std::vector<TensorView> tensors(3);
  tensors[0] = TensorView{"keys", DType::I64, {static_cast<std::int64_t>(keys_.size()), 2}, keys_.data(),
                          keys_.size() * sizeof(ContentKey)};
  tensors[1] = TensorView{"features", DType::F32, features.sizes().vec(), features.data_ptr(),
                          static_cast<std::size_t>(features.numel()) * sizeof(float)};
  tensors[2] = TensorView{"checksums", DType::I64, {static_cast<std::int64_t>(checksums.size())}, checksums.data(),
                          checksums.size() * sizeof(std::int64_t)};
  write_safetensors(file().string(), tensors, {{"format", kFormat}});
}

std::size_t FeatureCache::merge_from(const FeatureCache& other) {
  if (!other.features_.defined() || other.keys_.empty()) return 0;
  if (features_.defined() && features_.sizes().slice(1) != other.features_.sizes().slice(1)) return 0;
  std::unordered_set<ContentKey, ContentKeyHash> have(keys_.begin(), keys_.end());
  std::vector<std::int64_t> taken;
  for (std::size_t i = 0; i < other.keys_.size(); ++i) {
    if (have.insert(other.keys_[i]).second) {
      keys_.push_back(other.keys_[i]);
      taken.push_back(static_cast<std::int64_t>(i));
    }
  }
  if (taken.empty()) return 0;
  const auto fresh = other.features_.index_select(0, torch::tensor(taken, torch::kInt64));
  features_ = features_.defined() ? torch::cat({features_, fresh}) : fresh;
  return taken.size();
}

torch::Tensor FeatureCache::get_or_compute(const std::vector<ContentKey>& keys,
                                           const std::function<torch::Tensor(const std::vector<std::size_t>&)>& compute,
                                           CacheStats* stats, const std::filesystem::path& fresh_to) {
  std::unordered_map<ContentKey, std::int64_t, ContentKeyHash> row_of;
  for (std::size_t i = 0; i < keys_.size(); ++i) row_of.emplace(keys_[i], static_cast<std::int64_t>(i));

  std::vector<std::int64_t> rows(keys.size(), -1);
  std::vector<std::size_t> missing;
  std::unordered_map<ContentKey, std::size_t, ContentKeyHash> first_missing;  // duplicates computed once
  std::vector<std::pair<std::size_t, std::size_t>> duplicate_of;             // (position, missing index)
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (auto it = row_of.find(keys[i]); it != row_of.end()) {
      rows[i] = it->second;
    } else if (auto dup = first_missing.find(keys[i]); dup != first_missing.end()) {
      duplicate_of.emplace_back(i, dup->second);
    } else {
      first_missing.emplace(keys[i], missing.size());
      missing.push_back(i);
    }
  }
  if (stats != nullptr) {
    stats->hits += keys.size() - missing.size() - duplicate_of.size();
    stats->misses += missing.size();
  }

  if (!missing.empty()) {
    auto fresh = compute(missing).detach().to(torch::kCPU, torch::kFloat32).contiguous();
    if (fresh.dim() == 0 || fresh.size(0) != static_cast<std::int64_t>(missing.size())) {
      fail(ErrorKind::Internal, "feature cache: encoder returned {} rows for {} inputs",
           fresh.dim() == 0 ? 0 : fresh.size(0), missing.size());
    }
    if (features_.defined() && features_.sizes().slice(1) != fresh.sizes().slice(1)) {
      // Same fingerprint but another feature shape: the stored entries cannot be trusted; start over.
      keys_.clear();
      features_ = torch::Tensor();
      if (stats != nullptr) stats->hits -= keys.size() - missing.size() - duplicate_of.size();
      if (stats != nullptr) stats->misses -= missing.size();
      return get_or_compute(keys, compute, stats, fresh_to);
    }
    const auto base = static_cast<std::int64_t>(keys_.size());
    for (std::size_t m = 0; m < missing.size(); ++m) {
      keys_.push_back(keys[missing[m]]);
      rows[missing[m]] = base + static_cast<std::int64_t>(m);
    }
    for (const auto& [position, m] : duplicate_of) rows[position] = base + static_cast<std::int64_t>(m);
    features_ = features_.defined() ? torch::cat({features_, fresh}) : fresh;
    if (fresh_to.empty()) {
      save();
    } else {
      FeatureCache share({}, encoder_key_);
      share.dir_ = fresh_to;
      for (const auto position : missing) share.keys_.push_back(keys[position]);
      share.features_ = fresh;
      share.save();
    }
  }
  const auto index = torch::from_blob(rows.data(), {static_cast<std::int64_t>(rows.size())}, torch::kInt64).clone();
  return features_.index_select(0, index);
}

}  // namespace clipmatch::cache
