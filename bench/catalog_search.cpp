// Catalog search with FAISS (clipmatch::CatalogIndex) at catalog scale: synthetic L2-normalised embeddings
// drawn around random centres (a catalog has structure; uniform noise on the sphere has none), one index per
// kind. Prints one JSON object: per kind the build time, the index file size, the load time, the resident
// memory the index added, and for the default search effort and two larger ones (HNSW efSearch, IVF nprobe)
// query latency p50 / p99 at batch 1 and per batch of 1,000 and recall@k against exact search (clipmatch::top_k).
//
//   bench_catalog_search [--catalog 1000000] [--dim 128] [--queries 1000] [--k 10] [--kinds flat,hnsw,ivf-pq]
//                        [--ivf-lists N] [--ef-construction N] (0 = the library's defaults)
#include <clipmatch/catalog.hpp>
#include <clipmatch/names.hpp>
#include <clipmatch/search.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace clipmatch;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

/// Rows around `centres` random unit centres: centre + noise of comparable norm, normalised.
Matrix clustered_rows(std::size_t rows, std::size_t dim, const Matrix& centres, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(dim)));
  std::uniform_int_distribution<Eigen::Index> pick(0, centres.rows() - 1);
  Matrix m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(dim));
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    m.row(r) = centres.row(pick(rng));
    for (Eigen::Index c = 0; c < m.cols(); ++c) m(r, c) += normal(rng);
  }
  m.rowwise().normalize();
  return m;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t catalog = 1000000, dim = 128, queries = 1000, k = 10;
  std::string kinds = "flat,hnsw,ivf-pq";
  int ivf_lists = 0, ef_construction = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--catalog") catalog = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--dim") dim = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--queries") queries = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--k") k = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--kinds") kinds = argv[i + 1];
    else if (flag == "--ivf-lists") ivf_lists = std::atoi(argv[i + 1]);
    else if (flag == "--ef-construction") ef_construction = std::atoi(argv[i + 1]);
  }
  Matrix centres(1000, static_cast<Eigen::Index>(dim));
  {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    for (Eigen::Index i = 0; i < centres.size(); ++i) centres.data()[i] = normal(rng);
    centres.rowwise().normalize();
  }
  const auto rows = clustered_rows(catalog, dim, centres, 2);
  const auto query_rows = clustered_rows(queries, dim, centres, 3);

  // Exact neighbours of every query: the recall reference.
  auto start = Clock::now();
  std::vector<std::int64_t> exact(queries * k);
  std::vector<float> exact_distance(queries * k);
  top_k(query_rows.data(), queries, rows.data(), catalog, dim, k, DistanceKind::OneMinusCosine, exact.data(),
        exact_distance.data());
  const double exact_seconds = seconds_since(start);

  const auto folder = std::filesystem::temp_directory_path() / fmt::format("clipmatch-bench-catalog-{}", getpid());
  std::string results;
  std::stringstream list(kinds);
  for (std::string name; std::getline(list, name, ',');) {
    CatalogIndexOptions options;
    options.kind = from_name<IndexKind>(name, "kind");
    options.ivf_lists = ivf_lists;
    if (ef_construction > 0) options.hnsw_ef_construction = ef_construction;
    const double rss_before = resident_mib();
    start = Clock::now();
    auto built = CatalogIndex::build(rows, {}, {}, options);
    const double build_seconds = seconds_since(start);
    const double added_mib = resident_mib() - rss_before;
    built.save(folder.string());
    const auto file_bytes = std::filesystem::file_size(folder / "index.faiss");
    built = CatalogIndex::build(Matrix(1, static_cast<Eigen::Index>(dim)).setConstant(0.1f), {}, {}, {});  // free it
    start = Clock::now();
    auto index = CatalogIndex::load(folder.string());
    const double load_seconds = seconds_since(start);

    // Search effort: the default, then more (HNSW candidate list, IVF lists visited), on the same index.
    std::vector<int> efforts{options.kind == IndexKind::Hnsw ? options.hnsw_ef_search : options.ivf_probes};
    if (options.kind == IndexKind::Hnsw) efforts.insert(efforts.end(), {256, 512});
    if (options.kind == IndexKind::IvfPq) efforts.insert(efforts.end(), {64, 128});
    std::string runs;
    for (const int effort : efforts) {
      CatalogIndexOptions search_options;
      search_options.hnsw_ef_search = effort;
      search_options.ivf_probes = options.kind == IndexKind::IvfPq ? effort : search_options.ivf_probes;
      index.set_search_options(search_options);
      std::vector<double> single_ms;
      for (std::size_t q = 0; q < std::min<std::size_t>(queries, 300); ++q) {
        const Matrix one = query_rows.row(static_cast<Eigen::Index>(q));
        start = Clock::now();
        index.search(one, k);
        single_ms.push_back(seconds_since(start) * 1e3);
      }
      std::vector<double> batch_ms;
      CatalogHits hits;
      for (int repeat = 0; repeat < 3; ++repeat) {
        start = Clock::now();
        hits = index.search(query_rows, k);
        batch_ms.push_back(seconds_since(start) * 1e3);
      }
      std::size_t found = 0;
      for (std::size_t q = 0; q < queries; ++q) {
        for (std::size_t a = 0; a < k; ++a) {
          const auto* row = &hits.indices[q * k];
          found += std::find(row, row + k, exact[q * k + a]) != row + k;
        }
      }
      runs += fmt::format(
          "{}{{\"effort\": {}, \"batch1_p50_ms\": {:.3f}, \"batch1_p99_ms\": {:.3f}, \"batch{}_p50_ms\": {:.1f}, "
          "\"batch{}_per_query_ms\": {:.4f}, \"recall_at_{}\": {:.4f}}}",
          runs.empty() ? "" : ", ", options.kind == IndexKind::Flat ? 0 : effort, percentile(single_ms, 0.5),
          percentile(single_ms, 0.99), queries, percentile(batch_ms, 0.5), queries,
          percentile(batch_ms, 0.5) / static_cast<double>(queries), k,
          static_cast<double>(found) / static_cast<double>(queries * k));
      if (options.kind == IndexKind::Flat) break;
    }
    results += fmt::format(
        "{}\"{}\": {{\"build_s\": {:.2f}, \"index_file_mib\": {:.1f}, \"resident_added_mib\": {:.1f}, "
        "\"load_s\": {:.3f}, \"searches\": [{}]}}",
        results.empty() ? "" : ", ", name, build_seconds, static_cast<double>(file_bytes) / (1024.0 * 1024.0), added_mib,
        load_seconds, runs);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(folder);
  fmt::print("{{\"catalog\": {}, \"dim\": {}, \"queries\": {}, \"k\": {}, \"exact_top_k_s\": {:.2f}, \"kinds\": {{{}}}}}\n",
             catalog, dim, queries, k, exact_seconds, results);
}
