// The persistent feature cache: hits, misses, invalidation of a changed input only, and a damaged file.
#include "test_support.hpp"
#include "cache/feature_cache.hpp"

#include <clipmatch/log.hpp>

#include <fstream>

using clipmatch::test::TempDir;
using namespace clipmatch::cache;

namespace {

/// A fake encoder: the feature of an input is [value, 2·value]; counts the rows it was asked for.
struct CountingEncoder {
  std::vector<float> values;
  std::size_t calls = 0;
  torch::Tensor operator()(const std::vector<std::size_t>& rows) {
    calls += rows.size();
    auto out = torch::empty({static_cast<std::int64_t>(rows.size()), 2});
    for (std::size_t i = 0; i < rows.size(); ++i) {
      out[static_cast<std::int64_t>(i)][0] = values[rows[i]];
      out[static_cast<std::int64_t>(i)][1] = 2 * values[rows[i]];
    }
    return out;
  }
};

}  // namespace

TEST_CASE("feature cache computes misses once and persists them across instances", "[feature_cache]") {
  TempDir dir;
  const auto encoder_key = hash_text("encoder A");
  std::vector<ContentKey> keys{hash_text("poster 0"), hash_text("poster 1"), hash_text("poster 2")};
  CountingEncoder encoder{{1, 2, 3}};
  auto compute = [&](const std::vector<std::size_t>& rows) { return encoder(rows); };

  CacheStats first;
  {
    FeatureCache cache(dir.path(), encoder_key);
    const auto features = cache.get_or_compute(keys, compute, &first);
    REQUIRE(features.sizes() == torch::IntArrayRef({3, 2}));
    CHECK(features[2][1].item<float>() == 6.0f);
  }
  CHECK(first.misses == 3);
  CHECK(first.hits == 0);

  CacheStats second;
  FeatureCache reopened(dir.path(), encoder_key);
  const auto again = reopened.get_or_compute(keys, compute, &second);
  CHECK(second.hits == 3);
  CHECK(second.misses == 0);
  CHECK(encoder.calls == 3);
  CHECK(again[1][0].item<float>() == 2.0f);
}

TEST_CASE("feature cache: merging the shares of distributed ranks gives the whole cache", "[feature_cache]") {
  TempDir dir;
  const auto encoder_key = hash_text("encoder A");
  std::vector<ContentKey> keys{hash_text("poster 0"), hash_text("poster 1"), hash_text("poster 2")};
  CountingEncoder encoder{{1, 2, 3}};
  auto compute = [&](const std::vector<std::size_t>& rows) { return encoder(rows); };
  // Rank 0 encoded posters 0 and 2, rank 1 posters 1 and 2 (an overlap is taken once).
  FeatureCache(dir.path() / "rank-0", encoder_key).get_or_compute({keys[0], keys[2]}, [&](const std::vector<std::size_t>&) {
    return encoder({0, 2});
  });
  FeatureCache(dir.path() / "rank-1", encoder_key).get_or_compute({keys[1], keys[2]}, [&](const std::vector<std::size_t>&) {
    return encoder({1, 2});
  });
  FeatureCache whole(dir.path() / "cache", encoder_key);
  CHECK(whole.merge_from(FeatureCache(dir.path() / "rank-0", encoder_key)) == 2);
  CHECK(whole.merge_from(FeatureCache(dir.path() / "rank-1", encoder_key)) == 1);
  CHECK(whole.merge_from(FeatureCache(dir.path() / "missing", encoder_key)) == 0);
  whole.save();
  CacheStats stats;
  const auto features = FeatureCache(dir.path() / "cache", encoder_key).get_or_compute(keys, compute, &stats);
  CHECK(stats.hits == 3);
  CHECK(stats.misses == 0);
  CHECK(features[0][0].item<float>() == 1.0f);
  CHECK(features[1][0].item<float>() == 2.0f);
  CHECK(features[2][0].item<float>() == 3.0f);
}

TEST_CASE("feature cache: a changed input misses only its own entry", "[feature_cache]") {
  TempDir dir;
  const auto encoder_key = hash_text("encoder A");
  CountingEncoder encoder{{1, 2, 3}};
  auto compute = [&](const std::vector<std::size_t>& rows) { return encoder(rows); };
  std::vector<ContentKey> keys{hash_text("poster 0"), hash_text("poster 1"), hash_text("poster 2")};
  FeatureCache(dir.path(), encoder_key).get_or_compute(keys, compute);

  keys[1] = hash_text("poster 1, edited");
  encoder.values[1] = 20;
  CacheStats stats;
  const auto features = FeatureCache(dir.path(), encoder_key).get_or_compute(keys, compute, &stats);
  CHECK(stats.hits == 2);
  CHECK(stats.misses == 1);
  CHECK(features[1][0].item<float>() == 20.0f);
  CHECK(features[0][0].item<float>() == 1.0f);
}

TEST_CASE("feature cache: another encoder fingerprint never reuses entries", "[feature_cache]") {
  TempDir dir;
  CountingEncoder encoder{{1, 2}};
  auto compute = [&](const std::vector<std::size_t>& rows) { return encoder(rows); };
  std::vector<ContentKey> keys{hash_text("a"), hash_text("b")};
  FeatureCache(dir.path(), hash_text("encoder A")).get_or_compute(keys, compute);
  CacheStats stats;
  FeatureCache(dir.path(), hash_text("encoder B")).get_or_compute(keys, compute, &stats);
  CHECK(stats.misses == 2);
}

TEST_CASE("feature cache: duplicate inputs are computed once", "[feature_cache]") {
  CountingEncoder encoder{{5, 5, 7}};
  auto compute = [&](const std::vector<std::size_t>& rows) { return encoder(rows); };
  std::vector<ContentKey> keys{hash_text("same"), hash_text("same"), hash_text("other")};
  FeatureCache cache({}, hash_text("encoder"));
  const auto features = cache.get_or_compute(keys, compute);
  CHECK(encoder.calls == 2);
  CHECK(features[1][0].item<float>() == 5.0f);
  CHECK(features[2][0].item<float>() == 7.0f);
}

TEST_CASE("feature cache: a damaged cache file is ignored and rewritten", "[feature_cache]") {
  TempDir dir;
  const auto encoder_key = hash_text("encoder A");
  CountingEncoder encoder{{1}};
  auto compute = [&](const std::vector<std::size_t>& rows) { return encoder(rows); };
  FeatureCache cache(dir.path(), encoder_key);
  cache.get_or_compute({hash_text("x")}, compute);
  std::ofstream(cache.file(), std::ios::binary | std::ios::trunc) << "garbage";
  CacheStats stats;
  const auto features = FeatureCache(dir.path(), encoder_key).get_or_compute({hash_text("x")}, compute, &stats);
  CHECK(stats.misses == 1);
  CHECK(features[0][0].item<float>() == 1.0f);
  CacheStats after;
  FeatureCache(dir.path(), encoder_key).get_or_compute({hash_text("x")}, compute, &after);
  CHECK(after.hits == 1);
}

TEST_CASE("feature cache: a flipped byte or a truncated file is detected, reported once, recomputed", "[feature_cache]") {
  TempDir dir;
  const auto encoder_key = hash_text("encoder A");
  CountingEncoder encoder{{1, 2, 3, 4}};
  auto compute = [&](const std::vector<std::size_t>& rows) { return encoder(rows); };
  const std::vector<ContentKey> keys{hash_text("a"), hash_text("b"), hash_text("c"), hash_text("d")};
  FeatureCache cache(dir.path(), encoder_key);
  cache.get_or_compute(keys, compute);
  const auto path = cache.file();
  const std::string original = clipmatch::test::read_all(path);

  std::vector<std::string> warnings;
  clipmatch::set_log_callback([&](clipmatch::LogLevel level, const std::string& message) {
    if (level == clipmatch::LogLevel::Warning) warnings.push_back(message);
  });
  // Flip one byte inside the stored features: the third entry's first float (rows are 8 bytes).
  std::string flipped = original;
  const auto third = flipped.size() - 4 * 8 /*checksums*/ - 2 * 8 /*last two rows*/;
  flipped[third - 1] = static_cast<char>(flipped[third - 1] ^ 0x40);
  clipmatch::test::write_all(path, flipped);
  encoder.calls = 0;
  CacheStats stats;
  const auto features = FeatureCache(dir.path(), encoder_key).get_or_compute(keys, compute, &stats);
  CHECK(stats.misses == 1);  // only the damaged entry is recomputed
  CHECK(encoder.calls == 1);
  for (int i = 0; i < 4; ++i) CHECK(features[i][0].item<float>() == static_cast<float>(i + 1));
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains("1 of 4 entries fail their checksum"));
  CacheStats healed;
  FeatureCache(dir.path(), encoder_key).get_or_compute(keys, compute, &healed);
  CHECK(healed.hits == 4);  // rewritten whole

  // Truncated: the file cannot be read at all; reported once, every entry recomputed, file rewritten.
  clipmatch::test::write_all(path, original.substr(0, original.size() - 20));
  warnings.clear();
  CacheStats truncated;
  FeatureCache(dir.path(), encoder_key).get_or_compute(keys, compute, &truncated);
  CHECK(truncated.misses == 4);
  CHECK(warnings.size() == 1);
  clipmatch::set_log_callback({});
}

TEST_CASE("content hashes distinguish content, salt and module weights", "[feature_cache]") {
  TempDir dir;
  const auto file = dir / "a.bin";
  std::ofstream(file, std::ios::binary) << "hello";
  CHECK(hash_file(file) == hash_file(file));
  std::ofstream(file, std::ios::binary | std::ios::trunc) << "hellp";
  const auto changed = hash_file(file);
  CHECK_FALSE(changed == hash_text("hello"));
  CHECK_FALSE(hash_text("x", "salt1") == hash_text("x", "salt2"));
  CHECK_THROWS_WITH(hash_file(dir / "missing.bin"), Catch::Contains("missing.bin"));

  torch::nn::Linear a(3, 2), b(3, 2);
  CHECK_FALSE(hash_module(*a, "") == hash_module(*b, ""));
  CHECK(hash_module(*a, "") == hash_module(*a, ""));
  CHECK_FALSE(hash_module(*a, "pre1") == hash_module(*a, "pre2"));
}
