// Catalog indexes on FAISS: the exact kind answers exactly what clipmatch::top_k does, a saved index loads and
// answers identically, approximate kinds find most true neighbours, and damaged or mismatched files are refused
// with an error naming the file. Skipped (with a warning) when this build has no FAISS.
#include "test_support.hpp"

#include <clipmatch/catalog.hpp>
#include <clipmatch/names.hpp>
#include <clipmatch/search.hpp>

#include <random>

using namespace clipmatch;
using clipmatch::test::TempDir;

namespace {

#define CLIPMATCH_REQUIRE_FAISS()                          \
  do {                                                     \
    if (!catalog_index_available()) {                      \
      WARN("skipped: this build has no FAISS");            \
      return;                                              \
    }                                                      \
  } while (0)

Matrix unit_rows(std::size_t rows, std::size_t dim, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Matrix m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(dim));
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  m.rowwise().normalize();
  return m;
}

std::vector<std::string> names(std::size_t n, const std::string& prefix) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE("catalog index: the flat kind returns exactly clipmatch::top_k", "[catalog]") {
  CLIPMATCH_REQUIRE_FAISS();
  const auto catalog = unit_rows(3000, 64, 1);
  const auto queries = unit_rows(50, 64, 2);
  const std::size_t k = 7;
  CatalogIndexOptions options;
  options.kind = IndexKind::Flat;
  const auto index = CatalogIndex::build(catalog, names(3000, "id"), names(3000, "title "), options);
  CHECK(index.size() == 3000);
  CHECK(index.dim() == 64);
  const auto hits = index.search(queries, k);
  std::vector<std::int64_t> expected(50 * k);
  std::vector<float> expected_distance(50 * k);
  top_k(queries.data(), 50, catalog.data(), 3000, 64, k, DistanceKind::OneMinusCosine, expected.data(),
        expected_distance.data());
  CHECK(hits.indices == expected);  // random rows: no ties
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(std::abs(hits.distances[i] - expected_distance[i]) < 1e-5);
  // k beyond the catalog: the missing entries are −1 / +infinity, as clipmatch_topk reports them.
  const auto small = CatalogIndex::build(unit_rows(3, 64, 3), {}, {}, options);
  const auto all = small.search(queries.topRows(1), 5);
  CHECK(all.indices[3] == -1);
  CHECK(std::isinf(all.distances[4]));
}

TEST_CASE("catalog index: a saved index loads and answers identically, ids and titles kept", "[catalog]") {
  CLIPMATCH_REQUIRE_FAISS();
  TempDir dir;
  const auto catalog = unit_rows(4000, 32, 4);
  const auto queries = unit_rows(20, 32, 5);
  for (const auto kind : {IndexKind::Flat, IndexKind::Hnsw, IndexKind::IvfPq}) {
    CatalogIndexOptions options;
    options.kind = kind;
    const auto index = CatalogIndex::build(catalog, names(4000, "m"), names(4000, "Movie "), options);
    const auto folder = (dir / to_name(kind)).string();
    index.save(folder);
    const auto loaded = CatalogIndex::load(folder);
    CHECK(loaded.kind() == kind);
    CHECK(loaded.size() == 4000);
    CHECK(loaded.ids() == index.ids());
    CHECK(loaded.titles()[17] == "Movie 17");
    const auto before = index.search(queries, 10);
    const auto after = loaded.search(queries, 10);
    CHECK(after.indices == before.indices);
    CHECK(after.distances == before.distances);
  }
}

TEST_CASE("catalog index: approximate kinds find the true nearest row of queries near catalog rows", "[catalog]") {
  CLIPMATCH_REQUIRE_FAISS();
  const auto catalog = unit_rows(5000, 64, 6);
  // Queries a little off catalog rows: their nearest row is known.
  Matrix queries = catalog.topRows(100) + 0.05f * unit_rows(100, 64, 7);
  queries.rowwise().normalize();
  for (const auto kind : {IndexKind::Hnsw, IndexKind::IvfPq}) {
    CatalogIndexOptions options;
    options.kind = kind;
    const auto hits = CatalogIndex::build(catalog, {}, {}, options).search(queries, 1);
    std::size_t right = 0;
    for (std::size_t q = 0; q < 100; ++q) right += hits.indices[q] == static_cast<std::int64_t>(q);
    INFO(to_name(kind) << ": " << right << " of 100");
    CHECK(right >= 95);
  }
}

TEST_CASE("catalog index: bad input and damaged files are refused with the file named", "[catalog]") {
  CLIPMATCH_REQUIRE_FAISS();
  TempDir dir;
  const auto catalog = unit_rows(500, 16, 8);
  CHECK_THROWS_AS(CatalogIndex::build(catalog, names(3, "x"), {}, {}), Error);  // ids do not match the rows
  CatalogIndexOptions pq;
  pq.kind = IndexKind::IvfPq;
  pq.pq_bytes = 5;  // does not divide 16
  CHECK_THROWS_AS(CatalogIndex::build(catalog, {}, {}, pq), Error);
  const auto index = CatalogIndex::build(catalog, {}, {}, {});
  CHECK_THROWS_AS(index.search(unit_rows(2, 8, 9), 3), Error);  // wrong width
  CHECK_THROWS_AS(index.search(unit_rows(2, 16, 9), 0), Error);

  const auto folder = dir / "index";
  index.save(folder.string());
  auto message_of = [](const std::string& path) {
    try {
      CatalogIndex::load(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  CHECK(message_of((dir / "missing").string()).find("missing") != std::string::npos);

  const auto bytes = test::read_all(folder / "index.faiss");
  test::write_all(folder / "index.faiss", bytes.substr(0, bytes.size() / 2));  // truncated
  CHECK(message_of(folder.string()).find("index.faiss") != std::string::npos);
  test::write_all(folder / "index.faiss", "not a faiss index at all");
  CHECK(message_of(folder.string()).find("index.faiss") != std::string::npos);

  // A valid index beside another index's description: the counts disagree.
  CatalogIndex::build(unit_rows(400, 16, 10), {}, {}, {}).save((dir / "other").string());
  std::filesystem::copy_file(dir / "other" / "index.faiss", folder / "index.faiss",
                             std::filesystem::copy_options::overwrite_existing);
  CHECK(message_of(folder.string()).find("400 rows") != std::string::npos);
  test::write_all(folder / "catalog.json", "{\"format\": \"something else\"}");
  CHECK(message_of(folder.string()).find("catalog.json") != std::string::npos);
}
