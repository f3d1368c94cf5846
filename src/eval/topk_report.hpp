// topk.csv: per movie, how its poster and its intro rank each other, and what each retrieves first.
#pragma once

#include "eval/ranking.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace clipmatch::eval {

/// Everything topk.csv holds, computed chunk-wise (no N × N matrix).
struct TopkReport {
  MatchRanks ranks;        ///< rank of the true intro per poster, of the true poster per intro
  Nearest poster_nearest;  ///< per poster: its k nearest intros
  Nearest intro_nearest;   ///< per intro: its k nearest posters
};

/// k is capped at N. Throws clipmatch::Error on mismatched embeddings or k < 1.
TopkReport build_topk_report(const torch::Tensor& posters, const torch::Tensor& intros, std::int64_t k = 5,
                             std::int64_t chunk_rows = kDefaultChunkRows);

/// One CSV row per movie (RFC 4180 quoting, header first):
///   row, title, poster_rank, intro_rank, nearest_intro_1..k, nearest_poster_1..k
/// poster_rank: rank of the movie's intro among all intros for its poster (1 = best); intro_rank: rank of its
/// poster among all posters for its intro; nearest_intro_j: title of the j-th nearest intro of its poster;
/// nearest_poster_j: title of the j-th nearest poster of its intro. titles[i] names movie i. With `poster_text`
/// (one entry per movie: the words read on its poster) a poster_text column follows the title.
void write_topk_csv(const std::filesystem::path& path, const TopkReport& report, const std::vector<std::string>& titles,
                    const std::vector<std::string>& poster_text = {});

/// `field` quoted for CSV when it holds a comma, quote, CR or LF (quotes doubled), else unchanged.
std::string csv_field(const std::string& field);

}  // namespace clipmatch::eval
