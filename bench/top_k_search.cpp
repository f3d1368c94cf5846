// clipmatch::top_k at catalog scale: random L2-normalised embeddings (queries × catalog × dim), the k nearest
// of each query in bounded blocks. Prints one JSON object: seconds, queries/s, the memory the search itself
// added (peak resident set before and after), and, on a sample of queries, agreement with brute force.
//
//   bench_top_k_search [--queries 10000] [--catalog 1000000] [--dim 128] [--k 10] [--check 20]
#include <clipmatch/search.hpp>

#include <fmt/format.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

using namespace clipmatch;

namespace {

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

Matrix random_unit_rows(std::size_t rows, std::size_t dim, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Matrix m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(dim));
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  m.rowwise().normalize();
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t queries = 10000, catalog = 1000000, dim = 128, k = 10, check = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const auto value = static_cast<std::size_t>(std::strtoull(argv[i + 1], nullptr, 10));
    if (flag == "--queries") queries = value;
    else if (flag == "--catalog") catalog = value;
    else if (flag == "--dim") dim = value;
    else if (flag == "--k") k = value;
    else if (flag == "--check") check = value;
  }
  const Matrix q = random_unit_rows(queries, dim, 1);
  const Matrix c = random_unit_rows(catalog, dim, 2);
  IndexMatrix indices(static_cast<Eigen::Index>(queries), static_cast<Eigen::Index>(k));
  Matrix distances(static_cast<Eigen::Index>(queries), static_cast<Eigen::Index>(k));
  const double rss_before = peak_rss_mib();
  const auto start = std::chrono::steady_clock::now();
  top_k(q.data(), queries, c.data(), catalog, dim, k, DistanceKind::OneMinusCosine, indices.data(), distances.data());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rss_after = peak_rss_mib();

  // Brute force on a sample: the nearest catalog row of each checked query.
  std::size_t agree = 0;
  for (std::size_t i = 0; i < check && i < queries; ++i) {
    Eigen::Index best = 0;
    (c * q.row(static_cast<Eigen::Index>(i)).transpose()).maxCoeff(&best);
    agree += indices(static_cast<Eigen::Index>(i), 0) == best;
  }
  fmt::print("{{\"queries\": {}, \"catalog\": {}, \"dim\": {}, \"k\": {}, \"seconds\": {:.2f}, \"queries_per_s\": {:.1f}, "
             "\"inputs_mib\": {:.1f}, \"peak_rss_before_mib\": {:.1f}, \"peak_rss_after_mib\": {:.1f}, "
             "\"search_added_mib\": {:.1f}, \"top1_matches_brute_force\": \"{}/{}\"}}\n",
             queries, catalog, dim, k, seconds, static_cast<double>(queries) / seconds,
             static_cast<double>((queries + catalog) * dim * sizeof(float)) / (1 << 20), rss_before, rss_after,
             rss_after - rss_before, agree, std::min(check, queries));
  return agree == std::min(check, queries) ? 0 : 1;
}
