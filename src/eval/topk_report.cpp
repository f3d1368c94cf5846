#include "eval/topk_report.hpp"

#include "core/fail.hpp"
#include "io/atomic_file.hpp"

namespace clipmatch::eval {

TopkReport build_topk_report(const torch::Tensor& posters, const torch::Tensor& intros, std::int64_t k,
                             std::int64_t chunk_rows) {
  check_embeddings(posters, intros, /*same_count=*/true, "poster", "intro");
  if (k < 1) fail(ErrorKind::InvalidArgument, "top-k report: k = {} must be at least 1", k);
  if (posters.size(0) == 0) fail(ErrorKind::InvalidArgument, "top-k report: no movies");
  k = std::min(k, posters.size(0));
  return {match_ranks(posters, intros, chunk_rows), topk_nearest(posters, intros, k, chunk_rows),
          topk_nearest(intros, posters, k, chunk_rows)};
}

std::string csv_field(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (const char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

void write_topk_csv(const std::filesystem::path& path, const TopkReport& report, const std::vector<std::string>& titles,
                    const std::vector<std::string>& poster_text) {
  const std::size_t n = report.ranks.poster_to_intro.size();
  if (titles.size() != n || report.ranks.intro_to_poster.size() != n ||
      report.poster_nearest.indices.size(0) != static_cast<std::int64_t>(n) ||
      report.intro_nearest.indices.size(0) != static_cast<std::int64_t>(n)) {
    fail(ErrorKind::InvalidArgument, "topk.csv {}: {} titles for a report of {} movies", path.string(), titles.size(), n);
  }
  if (!poster_text.empty() && poster_text.size() != n) {
    fail(ErrorKind::InvalidArgument, "topk.csv {}: {} poster texts for a report of {} movies", path.string(),
         poster_text.size(), n);
  }
  const std::int64_t k = report.poster_nearest.indices.size(1);
  const auto intros_of = report.poster_nearest.indices.accessor<std::int64_t, 2>();
  const auto posters_of = report.intro_nearest.indices.accessor<std::int64_t, 2>();
  io::write_file_atomically(path, [&](std::ostream& out) {
    out << (poster_text.empty() ? "row,title,poster_rank,intro_rank" : "row,title,poster_text,poster_rank,intro_rank");
    for (std::int64_t j = 1; j <= k; ++j) out << ",nearest_intro_" << j;
    for (std::int64_t j = 1; j <= k; ++j) out << ",nearest_poster_" << j;
    out << "\r\n";
    for (std::size_t i = 0; i < n; ++i) {
      const auto row = static_cast<std::int64_t>(i);
      out << i << ',' << csv_field(titles[i]) << ',';
      if (!poster_text.empty()) out << csv_field(poster_text[i]) << ',';
      out << report.ranks.poster_to_intro[i] << ',' << report.ranks.intro_to_poster[i];
      for (std::int64_t j = 0; j < k; ++j) out << ',' << csv_field(titles[static_cast<std::size_t>(intros_of[row][j])]);
      for (std::int64_t j = 0; j < k; ++j) out << ',' << csv_field(titles[static_cast<std::size_t>(posters_of[row][j])]);
      out << "\r\n";
    }
  });
}

}  // namespace clipmatch::eval
