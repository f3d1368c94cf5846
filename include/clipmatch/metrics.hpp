// clipmatch — retrieval metrics of a poster × intro distance matrix.
//
// Convention everywhere: rows are posters, columns are intros, and movie i's poster and intro share index i.
// A poster "retrieves" intros by ascending distance; an intro retrieves posters likewise. Ties are broken by
// the lower index, so rank 1 means exactly what numpy's argmin along that axis would pick.
#pragma once

#include <clipmatch/export.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace clipmatch {

/// How a distance is made from the cosine similarity of two L2-normalised embeddings. Both are decreasing in
/// the cosine, so ranks, top-k and every metric below are identical for either; only reported values differ.
enum class DistanceKind {
  OneMinusCosine,  ///< 1 − cos, in [0, 2]; the default ("1-cos" in metrics.json)
  NegativeCosine,  ///< −cos, in [−1, 1]; the course notebook's convention ("-cos")
};

/// "1-cos" or "-cos".
CLIPMATCH_API const char* distance_name(DistanceKind kind);

/// Ranking quality in one direction (poster → intro or intro → poster) over n queries.
struct RetrievalMetrics {
  double r1 = 0;           ///< fraction of queries whose true match has rank 1 (recall@1)
  double r5 = 0;           ///< fraction with rank ≤ 5
  double r10 = 0;          ///< fraction with rank ≤ 10
  double median_rank = 0;  ///< median rank; for even n the mean of the two middle ranks (as numpy.median)
  double mean_rank = 0;    ///< mean rank (1 = perfect)
};

/// Metrics of one square sub-matrix (a split): the same movies as rows and as columns.
struct SplitMetrics {
  std::size_t n = 0;
  /// For each intro column, is its nearest poster its own? (argmin over dim 0; == intro_to_poster.r1)
  double acc_dim0 = 0;
  /// For each poster row, is its nearest intro its own? (argmin over dim 1; == poster_to_intro.r1)
  double acc_dim1 = 0;
  RetrievalMetrics poster_to_intro;
  RetrievalMetrics intro_to_poster;
};

/// Summarises 1-based ranks (one per query). Throws clipmatch::Error when `ranks` is empty or holds a rank < 1.
CLIPMATCH_API RetrievalMetrics summarize_ranks(const std::vector<std::int64_t>& ranks);

/// Metrics of a split from its two rank lists (poster→intro ranks per row, intro→poster ranks per column).
CLIPMATCH_API SplitMetrics split_metrics(const std::vector<std::int64_t>& poster_to_intro_ranks,
                                         const std::vector<std::int64_t>& intro_to_poster_ranks);

/// Split name ("all", "train", "heldout") → its metrics. Splits without movies are left out.
using SplitMetricsMap = std::map<std::string, SplitMetrics>;

}  // namespace clipmatch
