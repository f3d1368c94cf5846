// clipmatch — catalog search with FAISS: an index over the L2-normalised embeddings of a whole catalog
// (posters, or intros for the other direction), searched by inner product, for catalogs where an N×N matrix
// is impossible.
//
//   auto index = clipmatch::CatalogIndex::build(model.encode_posters(paths), ids, titles, {IndexKind::Hnsw});
//   index.save("catalog.index");                        // a folder: index.faiss + catalog.json
//   auto loaded = clipmatch::CatalogIndex::load("catalog.index");
//   auto hits = loaded.search(model.encode_intros({"A heist…"}), 10);
//
// Distances are 1 − inner product (DistanceKind::OneMinusCosine for unit rows), nearest first; with the flat
// kind the results equal clipmatch::top_k (search.hpp), ties aside. Building, loading and searching throw
// clipmatch::Error naming the file or field; Unsupported when this build has no FAISS.
#pragma once

#include <clipmatch/export.h>
#include <clipmatch/model.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace clipmatch {

/// The FAISS index behind a catalog (names: "flat", "hnsw", "ivf-pq" in clipmatch/names.hpp).
enum class IndexKind {
  Flat,  ///< exact inner product (IndexFlatIP): every query scans every row
  Hnsw,  ///< graph search (IndexHNSWFlat, inner product): the default approximate kind
  IvfPq  ///< inverted lists of product-quantised codes (IVF + PQ): the smallest per row, the least exact
};

struct CatalogIndexOptions {
  IndexKind kind = IndexKind::Hnsw;
  int hnsw_neighbors = 32;         ///< HNSW: links per node (M)
  int hnsw_ef_construction = 120;  ///< HNSW: candidate list while building
  int hnsw_ef_search = 128;        ///< HNSW: candidate list while searching
  int ivf_lists = 0;               ///< IVF: inverted lists; 0 = 4·√N (at most N / 39, so k-means has data)
  int ivf_probes = 32;             ///< IVF: lists visited per query
  int pq_bytes = 32;               ///< PQ: bytes per row (sub-quantisers of 8 bits); must divide the width
  std::uint64_t seed = 0;          ///< k-means initialisation of IVF-PQ
};

/// Results of a search: row q holds the k nearest catalog rows of query q, nearest first. Missing entries
/// (k larger than the catalog, or an approximate index finding fewer) are index −1, distance +infinity.
struct CatalogHits {
  std::size_t queries = 0, k = 0;
  std::vector<std::int64_t> indices;  ///< queries × k catalog row numbers
  std::vector<float> distances;       ///< queries × k, 1 − inner product
};

class CLIPMATCH_API CatalogIndex {
 public:
  /// Indexes `rows` (L2-normalised, one per catalog item). `ids` and `titles` (empty, or one per row) are kept
  /// beside the index and saved with it.
  static CatalogIndex build(const Embeddings& rows, std::vector<std::string> ids, std::vector<std::string> titles,
                            const CatalogIndexOptions& options = {});
  /// Loads a saved index folder; IVF-PQ inverted lists are memory-mapped rather than read.
  static CatalogIndex load(const std::string& folder);

  CatalogIndex(CatalogIndex&&) noexcept;
  CatalogIndex& operator=(CatalogIndex&&) noexcept;
  ~CatalogIndex();

  /// Writes `folder`/index.faiss and `folder`/catalog.json (kind, width, count, ids, titles), each atomically.
  void save(const std::string& folder) const;

  /// The k nearest rows of each query row (L2-normalised, the catalog's width).
  CatalogHits search(const Embeddings& queries, std::size_t k) const;

  /// Changes how hard later searches look (hnsw_ef_search, ivf_probes of `options`; the rest is ignored):
  /// recall against latency, without rebuilding. Saved with the index. Not while another thread searches.
  void set_search_options(const CatalogIndexOptions& options);

  std::size_t size() const;
  std::int64_t dim() const;
  IndexKind kind() const;
  const std::vector<std::string>& ids() const;
  const std::vector<std::string>& titles() const;

 private:
  struct State;
  explicit CatalogIndex(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

/// Whether this build of clipmatch has FAISS (catalog indexes).
CLIPMATCH_API bool catalog_index_available();

}  // namespace clipmatch
