// CatalogIndex: FAISS indexes over catalog embeddings (include/clipmatch/catalog.hpp). Inner product on unit
// rows; distances reported as 1 − inner product like the rest of the library. A saved index is a folder:
// index.faiss (FAISS's own format, memory-mapped on load where FAISS allows: IVF inverted lists) and
// catalog.json (what the rows are: kind, width, count, ids, titles), checked against each other on load.
#include <clipmatch/catalog.hpp>
#include <clipmatch/names.hpp>

#include "core/fail.hpp"
#include "io/atomic_file.hpp"

#include <nlohmann/json.hpp>

#ifdef CLIPMATCH_HAVE_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>
#include <omp.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

namespace clipmatch {

namespace {

namespace fs = std::filesystem;
constexpr const char* kFormat = "clipmatch-catalog-v1";
constexpr const char* kIndexFile = "index.faiss";
constexpr const char* kLabelsFile = "catalog.json";

}  // namespace

#ifdef CLIPMATCH_HAVE_FAISS

using Label = faiss::Index::idx_t;  // a namespace-level faiss::idx_t only from FAISS 1.7.4 on

struct CatalogIndex::State {
  std::unique_ptr<faiss::Index> index;
  std::unique_ptr<faiss::Index> quantizer;  // IVF-PQ built here owns its coarse quantizer apart from the index
  IndexKind kind = IndexKind::Flat;
  std::vector<std::string> ids, titles;
  CatalogIndexOptions options;
};

namespace {

/// FAISS reports misuse and bad files as faiss::FaissException; the library's callers get clipmatch::Error.
/// FAISS parallelises with OpenMP, whose thread count is per calling thread and started at 1 here (see
/// core/compute_threads.hpp): give this thread every core unless OMP_NUM_THREADS chose.
void use_every_core_here() {
  static const bool chosen = std::getenv("OMP_NUM_THREADS") != nullptr;
  const int cores = omp_get_num_procs();
  if (!chosen && omp_get_max_threads() < cores) omp_set_num_threads(cores);
}

template <typename Work>
auto faiss_call(const std::string& what, Work&& work) -> decltype(work()) {
  use_every_core_here();
  try {
    return work();
  } catch (const faiss::FaissException& e) {
    fail(ErrorKind::Format, "{}: {}", what, e.msg);
  }
}

void apply_search_settings(faiss::Index& index, IndexKind kind, const CatalogIndexOptions& o) {
  if (kind == IndexKind::Hnsw) dynamic_cast<faiss::IndexHNSW&>(index).hnsw.efSearch = o.hnsw_ef_search;
  if (kind == IndexKind::IvfPq) dynamic_cast<faiss::IndexIVF&>(index).nprobe = static_cast<std::size_t>(o.ivf_probes);
}

IndexKind kind_of(const faiss::Index& index, const std::string& file) {
  if (dynamic_cast<const faiss::IndexFlatIP*>(&index)) return IndexKind::Flat;
  if (dynamic_cast<const faiss::IndexHNSW*>(&index)) return IndexKind::Hnsw;
  if (dynamic_cast<const faiss::IndexIVFPQ*>(&index)) return IndexKind::IvfPq;
  fail(ErrorKind::Format, "{}: a FAISS index of a kind clipmatch does not build", file);
}

}  // namespace

CatalogIndex CatalogIndex::build(const Embeddings& rows, std::vector<std::string> ids, std::vector<std::string> titles,
                                 const CatalogIndexOptions& o) {
  const auto n = static_cast<std::size_t>(rows.rows());
  const auto d = static_cast<int>(rows.cols());
  if (n == 0 || d == 0) fail(ErrorKind::InvalidArgument, "catalog index: no rows to index ({}×{})", n, d);
  if (!ids.empty() && ids.size() != n) fail(ErrorKind::InvalidArgument, "catalog index: {} ids for {} rows", ids.size(), n);
  if (!titles.empty() && titles.size() != n) {
    fail(ErrorKind::InvalidArgument, "catalog index: {} titles for {} rows", titles.size(), n);
  }
  if (!rows.allFinite()) fail(ErrorKind::InvalidArgument, "catalog index: the rows hold NaN or infinite values");
  auto state = std::make_unique<State>();
  state->kind = o.kind;
  state->options = o;
  state->ids = std::move(ids);
  state->titles = std::move(titles);
  faiss_call("catalog index: building", [&] {
    switch (o.kind) {
      case IndexKind::Flat:
        state->index = std::make_unique<faiss::IndexFlatIP>(d);
        break;
      case IndexKind::Hnsw: {
        if (o.hnsw_neighbors < 2) fail(ErrorKind::InvalidArgument, "catalog index: hnsw_neighbors must be >= 2");
        auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(d, o.hnsw_neighbors, faiss::METRIC_INNER_PRODUCT);
        hnsw->hnsw.efConstruction = std::max(1, o.hnsw_ef_construction);
        state->index = std::move(hnsw);
        break;
      }
      case IndexKind::IvfPq: {
        if (o.pq_bytes < 1 || d % o.pq_bytes != 0) {
          fail(ErrorKind::InvalidArgument, "catalog index: pq_bytes = {} must divide the width {}", o.pq_bytes, d);
        }
        // k-means wants ≥ 39 rows per list; 4·√N lists is FAISS's usual starting point.
        auto lists = o.ivf_lists > 0 ? static_cast<std::size_t>(o.ivf_lists)
                                     : static_cast<std::size_t>(4 * std::sqrt(static_cast<double>(n)));
        lists = std::max<std::size_t>(1, std::min(lists, n / 39));
        state->quantizer = std::make_unique<faiss::IndexFlatIP>(d);
        auto ivf = std::make_unique<faiss::IndexIVFPQ>(state->quantizer.get(), d, lists,
                                                       static_cast<std::size_t>(o.pq_bytes), 8,
                                                       faiss::METRIC_INNER_PRODUCT);
        ivf->cp.seed = static_cast<int>(o.seed);
        // k-means on a sample of 64 rows per list (FAISS's default, 256, trains on all of a 1M catalog).
        ivf->cp.max_points_per_centroid = 64;
        // Small catalogs train on fewer rows than FAISS likes; it would print a warning to stderr for each.
        ivf->cp.min_points_per_centroid = 1;
        ivf->pq.cp.min_points_per_centroid = 1;
        ivf->pq.cp.seed = static_cast<int>(o.seed);
        ivf->train(static_cast<Label>(n), rows.data());
        state->index = std::move(ivf);
        break;
      }
    }
    state->index->add(static_cast<Label>(n), rows.data());
    apply_search_settings(*state->index, o.kind, o);
    return 0;
  });
  return CatalogIndex(std::move(state));
}

CatalogIndex CatalogIndex::load(const std::string& folder) {
  const auto index_file = (fs::path(folder) / kIndexFile).string();
  const auto labels_file = (fs::path(folder) / kLabelsFile).string();
  if (!fs::is_directory(folder)) fail(ErrorKind::Io, "{}: no such catalog index folder", folder);
  std::ifstream in(labels_file);
  if (!in) fail(ErrorKind::Io, "{}: cannot open (a catalog index folder holds {} and {})", labels_file, kIndexFile, kLabelsFile);
  nlohmann::json labels;
  try {
    labels = nlohmann::json::parse(in);
    if (labels.at("format").get<std::string>() != kFormat) throw std::invalid_argument("format");
  } catch (const std::exception& e) {
    fail(ErrorKind::Format, "{}: not a {} file ({})", labels_file, kFormat, e.what());
  }
  auto state = std::make_unique<State>();
  try {
    state->kind = from_name<IndexKind>(labels.at("kind").get<std::string>(), "kind");
    state->ids = labels.at("ids").get<std::vector<std::string>>();
    state->titles = labels.at("titles").get<std::vector<std::string>>();
    const auto& settings = labels.at("search");
    state->options.hnsw_ef_search = settings.at("hnsw_ef_search").get<int>();
    state->options.ivf_probes = settings.at("ivf_probes").get<int>();
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::Format, "{}: {}", labels_file, e.what());
  }
  if (!fs::is_regular_file(index_file)) fail(ErrorKind::Io, "{}: missing", index_file);
  // IVF inverted lists can stay on disk (FAISS maps them); other kinds are read whole.
  const int flags = state->kind == IndexKind::IvfPq ? faiss::IO_FLAG_MMAP | faiss::IO_FLAG_READ_ONLY : 0;
  state->index.reset(faiss_call(index_file, [&] { return faiss::read_index(index_file.c_str(), flags); }));
  if (kind_of(*state->index, index_file) != state->kind) {
    fail(ErrorKind::Format, "{}: holds a {} index but {} says {}", index_file, to_name(kind_of(*state->index, index_file)),
         labels_file, to_name(state->kind));
  }
  const auto count = static_cast<std::size_t>(state->index->ntotal);
  const auto expected_count = labels.value("count", std::size_t{0});
  const auto expected_dim = labels.value("dim", std::int64_t{0});
  if (count != expected_count || state->index->d != expected_dim) {
    fail(ErrorKind::Format, "{}: {} rows of width {}, but {} describes {} of width {} (files from different builds?)",
         index_file, count, state->index->d, labels_file, expected_count, expected_dim);
  }
  if ((!state->ids.empty() && state->ids.size() != count) || (!state->titles.empty() && state->titles.size() != count)) {
    fail(ErrorKind::Format, "{}: {} ids and {} titles for {} rows", labels_file, state->ids.size(), state->titles.size(),
         count);
  }
  apply_search_settings(*state->index, state->kind, state->options);
  return CatalogIndex(std::move(state));
}

void CatalogIndex::save(const std::string& folder) const {
  io::create_directories(folder, "catalog index folder");
  const auto index_file = fs::path(folder) / kIndexFile;
  const auto temporary = fs::path(folder) / (std::string(kIndexFile) + ".partial");
  faiss_call(index_file.string(), [&] {
    faiss::write_index(state_->index.get(), temporary.c_str());
    return 0;
  });
  fs::rename(temporary, index_file);
  const nlohmann::json labels{{"format", kFormat},
                              {"kind", to_name(state_->kind)},
                              {"dim", state_->index->d},
                              {"count", state_->index->ntotal},
                              {"search", {{"hnsw_ef_search", state_->options.hnsw_ef_search},
                                          {"ivf_probes", state_->options.ivf_probes}}},
                              {"ids", state_->ids},
                              {"titles", state_->titles}};
  io::write_file_atomically(fs::path(folder) / kLabelsFile, [&](std::ostream& out) {
    out << labels.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  });
}

CatalogHits CatalogIndex::search(const Embeddings& queries, std::size_t k) const {
  if (k == 0) fail(ErrorKind::InvalidArgument, "catalog search: k must be at least 1");
  if (queries.cols() != state_->index->d) {
    fail(ErrorKind::InvalidArgument, "catalog search: queries have width {} but the catalog {}", queries.cols(),
         state_->index->d);
  }
  if (!queries.allFinite()) fail(ErrorKind::InvalidArgument, "catalog search: the queries hold NaN or infinite values");
  CatalogHits hits;
  hits.queries = static_cast<std::size_t>(queries.rows());
  hits.k = k;
  hits.indices.assign(hits.queries * k, -1);
  hits.distances.assign(hits.queries * k, std::numeric_limits<float>::infinity());
  if (hits.queries == 0) return hits;
  std::vector<float> similarity(hits.queries * k);
  std::vector<Label> labels(hits.queries * k);
  faiss_call("catalog search", [&] {
    state_->index->search(static_cast<Label>(hits.queries), queries.data(), static_cast<Label>(k),
                          similarity.data(), labels.data());
    return 0;
  });
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    hits.indices[i] = labels[i];
    hits.distances[i] = 1.0f - similarity[i];
  }
  return hits;
}

void CatalogIndex::set_search_options(const CatalogIndexOptions& options) {
  if (options.hnsw_ef_search < 1 || options.ivf_probes < 1) {
    fail(ErrorKind::InvalidArgument, "catalog index: hnsw_ef_search ({}) and ivf_probes ({}) must be at least 1",
         options.hnsw_ef_search, options.ivf_probes);
  }
  state_->options.hnsw_ef_search = options.hnsw_ef_search;
  state_->options.ivf_probes = options.ivf_probes;
  apply_search_settings(*state_->index, state_->kind, state_->options);
}

std::size_t CatalogIndex::size() const { return static_cast<std::size_t>(state_->index->ntotal); }
std::int64_t CatalogIndex::dim() const { return state_->index->d; }

#else

namespace {

[[noreturn]] void require_faiss() {
  fail(ErrorKind::Unsupported, "catalog index: this clipmatch was built without FAISS (on Debian: apt install "
                               "libfaiss-dev, then rebuild)");
}

}  // namespace

struct CatalogIndex::State {
  IndexKind kind = IndexKind::Flat;
  std::vector<std::string> ids, titles;
};

CatalogIndex CatalogIndex::build(const Embeddings&, std::vector<std::string>, std::vector<std::string>,
                                 const CatalogIndexOptions&) {
  require_faiss();
}
CatalogIndex CatalogIndex::load(const std::string&) { require_faiss(); }
void CatalogIndex::save(const std::string&) const { require_faiss(); }
CatalogHits CatalogIndex::search(const Embeddings&, std::size_t) const { require_faiss(); }
void CatalogIndex::set_search_options(const CatalogIndexOptions&) { require_faiss(); }
std::size_t CatalogIndex::size() const { return 0; }
std::int64_t CatalogIndex::dim() const { return 0; }

#endif

CatalogIndex::CatalogIndex(std::unique_ptr<State> state) : state_(std::move(state)) {}
CatalogIndex::CatalogIndex(CatalogIndex&&) noexcept = default;
CatalogIndex& CatalogIndex::operator=(CatalogIndex&&) noexcept = default;
CatalogIndex::~CatalogIndex() = default;

IndexKind CatalogIndex::kind() const { return state_->kind; }
const std::vector<std::string>& CatalogIndex::ids() const { return state_->ids; }
const std::vector<std::string>& CatalogIndex::titles() const { return state_->titles; }

bool catalog_index_available() {
#ifdef CLIPMATCH_HAVE_FAISS
  return true;
#else
  return false;
#endif
}

}  // namespace clipmatch
