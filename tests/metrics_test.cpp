// Distance matrix, top-k, ranks and split metrics against hand-derived answers and brute force.
#include "eval/distance.hpp"
#include "eval/ranking.hpp"
#include "eval/splits.hpp"

#include <clipmatch/error.hpp>
#include <clipmatch/metrics.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

using namespace clipmatch;
using Catch::Matchers::Contains;

namespace {

// Unit vectors in the plane at the given angles (degrees): their cosine depends only on the angle between.
torch::Tensor at_angles(const std::vector<double>& degrees) {
  torch::Tensor t = torch::empty({static_cast<std::int64_t>(degrees.size()), 2}, torch::kFloat32);
  for (std::size_t i = 0; i < degrees.size(); ++i) {
    const double r = degrees[i] * M_PI / 180.0;
    t[static_cast<std::int64_t>(i)][0] = std::cos(r);
    t[static_cast<std::int64_t>(i)][1] = std::sin(r);
  }
  return t;
}

torch::Tensor random_unit(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor x = torch::randn({n, d});
  return x / x.norm(2, 1, true);
}

std::vector<std::int64_t> as_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kInt64).contiguous();
  return {c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel()};
}

// Rank of each row's own column straight from the definition, over a full matrix of distances.
std::vector<std::int64_t> brute_ranks(const torch::Tensor& distances) {
  const auto d = distances.accessor<float, 2>();
  std::vector<std::int64_t> ranks;
  for (std::int64_t i = 0; i < distances.size(0); ++i) {
    std::int64_t rank = 1;
    for (std::int64_t j = 0; j < distances.size(1); ++j) {
      if (d[i][j] < d[i][i] || (j < i && d[i][j] == d[i][i])) ++rank;
    }
    ranks.push_back(rank);
  }
  return ranks;
}

}  // namespace

TEST_CASE("summarize_ranks: recall at 1/5/10, numpy-style median, mean", "[metrics]") {
  const RetrievalMetrics m = summarize_ranks({1, 20, 3, 5, 1, 10, 11, 6});
  CHECK(m.r1 == Approx(2.0 / 8));
  CHECK(m.r5 == Approx(4.0 / 8));
  CHECK(m.r10 == Approx(6.0 / 8));
  CHECK(m.median_rank == Approx(5.5));  // even n: mean of 5 and 6
  CHECK(m.mean_rank == Approx(57.0 / 8));
  CHECK(summarize_ranks({4, 1, 2}).median_rank == Approx(2.0));
  CHECK_THROWS_AS(summarize_ranks({}), Error);
  CHECK_THROWS_WITH(summarize_ranks({1, 0}), Contains("query 1"));
}

TEST_CASE("acc_dim0 / acc_dim1 orientation on an asymmetric example", "[metrics]") {
  // Posters at 0°, 30°, 60°; intros at 10°, 35°, 0°. Angles decide the order (smaller angle = nearer):
  // poster rows → own intro ranks 2, 1, 3; intro columns → own poster ranks 1, 1, 3.
  const torch::Tensor posters = at_angles({0, 30, 60});
  const torch::Tensor intros = at_angles({10, 35, 0});
  const auto ranks = eval::match_ranks(posters, intros);
  CHECK(ranks.poster_to_intro == std::vector<std::int64_t>{2, 1, 3});
  CHECK(ranks.intro_to_poster == std::vector<std::int64_t>{1, 1, 3});

  const SplitMetrics m = eval::evaluate_block(posters, intros);
  CHECK(m.n == 3);
  CHECK(m.acc_dim1 == Approx(1.0 / 3));
  CHECK(m.acc_dim0 == Approx(2.0 / 3));

  // The course's definition, from the full matrix: argmin along dim 1 per row, along dim 0 per column.
  const torch::Tensor d = eval::distance_matrix(posters, intros);
  const torch::Tensor own = torch::arange(3);
  CHECK(m.acc_dim1 == Approx(d.argmin(1).eq(own).to(torch::kDouble).mean().item<double>()));
  CHECK(m.acc_dim0 == Approx(d.argmin(0).eq(own).to(torch::kDouble).mean().item<double>()));
  CHECK(m.poster_to_intro.mean_rank == Approx(2.0));
  CHECK(m.intro_to_poster.median_rank == Approx(1.0));
}

TEST_CASE("ties go to the lower index", "[metrics]") {
  // Every poster and intro is the same vector: all distances tie, so row i's own intro is beaten by j < i.
  const torch::Tensor same = torch::ones({4, 3}) / std::sqrt(3.0);
  const auto ranks = eval::match_ranks(same, same.clone());
  CHECK(ranks.poster_to_intro == std::vector<std::int64_t>{1, 2, 3, 4});
  CHECK(ranks.intro_to_poster == std::vector<std::int64_t>{1, 2, 3, 4});
  const SplitMetrics m = eval::evaluate_block(same, same, /*chunk_rows=*/3);
  CHECK(m.acc_dim1 == Approx(0.25));
  CHECK(m.poster_to_intro.median_rank == Approx(2.5));
  CHECK(m.poster_to_intro.r5 == Approx(1.0));

  const auto nearest = eval::topk_nearest(same, same, 3, /*chunk_rows=*/2);
  for (std::int64_t i = 0; i < 4; ++i) CHECK(as_vector(nearest.indices[i]) == std::vector<std::int64_t>{0, 1, 2});
}

TEST_CASE("distance kinds and the full matrix", "[metrics]") {
  const torch::Tensor posters = at_angles({0, 90});
  const torch::Tensor intros = at_angles({0, 60, 180});
  const torch::Tensor d = eval::distance_matrix(posters, intros, DistanceKind::OneMinusCosine, 1);
  REQUIRE(d.sizes() == torch::IntArrayRef{2, 3});
  CHECK(d.device().is_cpu());
  CHECK(d[0][0].item<float>() == Approx(0.0).margin(1e-6));
  CHECK(d[0][1].item<float>() == Approx(0.5).margin(1e-6));
  CHECK(d[0][2].item<float>() == Approx(2.0).margin(1e-6));
  CHECK(d[1][1].item<float>() == Approx(1.0 - std::cos(M_PI / 6)).margin(1e-6));
  const torch::Tensor neg = eval::distance_matrix(posters, intros, DistanceKind::NegativeCosine);
  CHECK(neg[0][1].item<float>() == Approx(-0.5).margin(1e-6));
  CHECK(std::string(distance_name(DistanceKind::OneMinusCosine)) == "1-cos");
  CHECK(std::string(distance_name(DistanceKind::NegativeCosine)) == "-cos");

  std::vector<std::int64_t> starts;
  eval::for_each_distance_chunk(posters, intros, DistanceKind::OneMinusCosine, 1,
                                [&](std::int64_t begin, const torch::Tensor& chunk) {
                                  starts.push_back(begin);
                                  CHECK(chunk.sizes() == torch::IntArrayRef{1, 3});
                                  CHECK(torch::equal(chunk, d.slice(0, begin, begin + 1)));
                                });
  CHECK(starts == std::vector<std::int64_t>{0, 1});
}

TEST_CASE("chunked results equal unchunked ones and brute force", "[metrics]") {
  const torch::Tensor posters = random_unit(37, 8, 1);
  const torch::Tensor intros = random_unit(37, 8, 2);
  const torch::Tensor whole = eval::distance_matrix(posters, intros, DistanceKind::OneMinusCosine, 1000);
  for (std::int64_t chunk : {1, 5, 36, 37}) {
    CAPTURE(chunk);
    CHECK(torch::allclose(eval::distance_matrix(posters, intros, DistanceKind::OneMinusCosine, chunk), whole));
    const auto ranks = eval::match_ranks(posters, intros, chunk);
    CHECK(ranks.poster_to_intro == brute_ranks(whole));
    CHECK(ranks.intro_to_poster == brute_ranks(whole.t().contiguous()));
    const auto nearest = eval::topk_nearest(posters, intros, 5, chunk);
    const auto reference = eval::topk_nearest(posters, intros, 5, 1000);
    CHECK(torch::equal(nearest.indices, reference.indices));
    CHECK(torch::allclose(nearest.distances, reference.distances));
  }
}

TEST_CASE("top-k equals a brute-force sort, duplicates straddling the cut included", "[metrics]") {
  torch::Tensor keys = random_unit(12, 4, 3);
  for (std::int64_t dup : {4, 6, 9}) keys[dup].copy_(keys[2]);  // keys 2, 4, 6, 9 tie for any query
  torch::Tensor queries = random_unit(7, 4, 4);
  queries[0].copy_(keys[2]);
  const torch::Tensor d = eval::distance_matrix(queries, keys);
  for (std::int64_t k : {1, 2, 3, 5, 12}) {
    CAPTURE(k);
    const auto nearest = eval::topk_nearest(queries, keys, k, /*chunk_rows=*/3);
    REQUIRE(nearest.indices.sizes() == torch::IntArrayRef{7, k});
    for (std::int64_t q = 0; q < 7; ++q) {
      std::vector<std::pair<float, std::int64_t>> order;
      for (std::int64_t j = 0; j < 12; ++j) order.emplace_back(d[q][j].item<float>(), j);
      std::stable_sort(order.begin(), order.end(), [](auto a, auto b) { return a.first < b.first; });
      std::vector<std::int64_t> expected;
      for (std::int64_t r = 0; r < k; ++r) expected.push_back(order[static_cast<std::size_t>(r)].second);
      CAPTURE(q);
      CHECK(as_vector(nearest.indices[q]) == expected);
      CHECK(nearest.distances[q][0].item<float>() == Approx(order[0].first).margin(1e-6));
    }
  }
  CHECK(as_vector(eval::topk_nearest(queries, keys, 2).indices[0]) == std::vector<std::int64_t>{2, 4});
  CHECK_THROWS_WITH(eval::topk_nearest(queries, keys, 13), Contains("k = 13"));
  CHECK_THROWS_AS(eval::topk_nearest(queries, keys, 0), Error);
}

TEST_CASE("splits: all, train block, held-out block", "[metrics]") {
  const torch::Tensor posters = random_unit(9, 5, 5);
  const torch::Tensor intros = (posters + 0.9 * random_unit(9, 5, 6));
  const torch::Tensor intros_unit = intros / intros.norm(2, 1, true);
  const auto splits = eval::evaluate_splits(posters, intros_unit, {7, 0, 2, 4});
  REQUIRE(splits.size() == 3);
  REQUIRE(splits.count("all") == 1);
  CHECK(splits.at("all").n == 9);
  CHECK(splits.at("train").n == 4);
  CHECK(splits.at("heldout").n == 5);

  const torch::Tensor train = torch::tensor(std::vector<std::int64_t>{0, 2, 4, 7});
  const torch::Tensor held = torch::tensor(std::vector<std::int64_t>{1, 3, 5, 6, 8});
  const auto block_ranks = [&](const torch::Tensor& idx) {
    return brute_ranks(eval::distance_matrix(posters.index_select(0, idx), intros_unit.index_select(0, idx)));
  };
  CHECK(splits.at("train").poster_to_intro.mean_rank == Approx(summarize_ranks(block_ranks(train)).mean_rank));
  CHECK(splits.at("heldout").poster_to_intro.r1 == Approx(summarize_ranks(block_ranks(held)).r1));
  CHECK(splits.at("all").poster_to_intro.median_rank ==
        Approx(summarize_ranks(brute_ranks(eval::distance_matrix(posters, intros_unit))).median_rank));
  CHECK(splits.at("train").acc_dim1 == splits.at("train").poster_to_intro.r1);
  CHECK(splits.at("heldout").acc_dim0 == splits.at("heldout").intro_to_poster.r1);

  const auto no_heldout = eval::evaluate_splits(posters, intros_unit, {0, 1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(no_heldout.count("heldout") == 0);
  CHECK(no_heldout.at("train").poster_to_intro.mean_rank == Approx(no_heldout.at("all").poster_to_intro.mean_rank));
  CHECK_THROWS_WITH(eval::evaluate_splits(posters, intros_unit, {0, 9}), Contains("train index 9"));
  CHECK_THROWS_WITH(eval::evaluate_splits(posters, intros_unit, {3, 3}), Contains("repeated"));
}

TEST_CASE("bad embeddings are refused with a message", "[metrics]") {
  const torch::Tensor a = random_unit(4, 3, 7);
  CHECK_THROWS_WITH(eval::match_ranks(a, random_unit(5, 3, 8)), Contains("4 rows but intro embeddings have 5"));
  CHECK_THROWS_WITH(eval::distance_matrix(a, random_unit(4, 2, 8)), Contains("width"));
  CHECK_THROWS_WITH(eval::distance_matrix(torch::ones({4}), a), Contains("2-D"));
  torch::Tensor with_nan = a.clone();
  with_nan[1][1] = std::nan("");
  CHECK_THROWS_WITH(eval::match_ranks(with_nan, a), Contains("NaN"));
  CHECK_THROWS_WITH(eval::distance_matrix(a, a, DistanceKind::OneMinusCosine, 0), Contains("chunk_rows"));
}

TEST_CASE("CUDA: chunked ranks, top-k and distances equal the CPU's, N = 50,000 timing", "[metrics][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("skipped: no CUDA device");
    return;
  }
  // Entries k/8 with small integers k: every dot product is an exact float32 sum on any device, so the GPU
  // must reproduce the CPU's ranks exactly, ties (there are many) included.
  torch::manual_seed(21);
  const torch::Tensor posters = torch::randint(-2, 3, {3000, 16}).to(torch::kFloat32) / 8;
  const torch::Tensor intros = torch::randint(-2, 3, {3000, 16}).to(torch::kFloat32) / 8;
  const torch::Tensor posters_gpu = posters.to(torch::kCUDA), intros_gpu = intros.to(torch::kCUDA);
  const auto cpu = eval::match_ranks(posters, intros, 700);
  const auto gpu = eval::match_ranks(posters_gpu, intros_gpu, 512);
  CHECK(cpu.poster_to_intro == gpu.poster_to_intro);
  CHECK(cpu.intro_to_poster == gpu.intro_to_poster);
  const auto top_cpu = eval::topk_nearest(posters, intros, 10, 1000);
  const auto top_gpu = eval::topk_nearest(posters_gpu, intros_gpu, 10, 333);
  CHECK(torch::equal(top_cpu.indices, top_gpu.indices));
  CHECK(torch::equal(eval::distance_matrix(posters, intros), eval::distance_matrix(posters_gpu, intros_gpu, DistanceKind::OneMinusCosine, 999)));

  const torch::Tensor big_p = random_unit(50000, 512, 22).to(torch::kCUDA);
  const torch::Tensor big_i = (big_p + 0.5 * random_unit(50000, 512, 23).to(torch::kCUDA));
  const torch::Tensor big_i_unit = big_i / big_i.norm(2, 1, true);
  torch::cuda::synchronize();
  const auto start = std::chrono::steady_clock::now();
  const SplitMetrics all = eval::evaluate_block(big_p, big_i_unit, 4096);
  const auto ranked = std::chrono::steady_clock::now();
  const auto nearest = eval::topk_nearest(big_p, big_i_unit, 5, 4096);
  const auto topk_done = std::chrono::steady_clock::now();
  double checksum = 0;
  eval::for_each_distance_chunk(big_p, big_i_unit, DistanceKind::OneMinusCosine, 4096,
                                [&](std::int64_t, const torch::Tensor& chunk) { checksum += chunk[0][0].item<double>(); });
  const auto streamed = std::chrono::steady_clock::now();
  const auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  WARN("N=50000 D=512 on " << torch::cuda::device_count() << " GPU(s): ranks both ways + metrics " << ms(start, ranked)
       << " ms, top-5 " << ms(ranked, topk_done) << " ms, streamed 10 GB distance matrix to host " << ms(topk_done, streamed)
       << " ms; R@1 poster->intro " << all.poster_to_intro.r1);
  CHECK(all.n == 50000);
  CHECK(nearest.indices.size(0) == 50000);
  CHECK(std::isfinite(checksum));
}
