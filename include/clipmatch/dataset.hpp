// clipmatch — poster/synopsis datasets on disk.
//
// A dataset is a folder with
//   movies.csv  RFC 4180 CSV with a header row. Required columns: `poster` (image path, absolute or relative
//               to the folder) and `intro` (the synopsis, UTF-8, kept verbatim). Optional: `movie_id`,
//               `title`, `year` (integer; empty means unknown), `genres` ('|'-separated). Columns may come in
//               any order; other columns are ignored.
//   train.txt   optional: zero-based data-row indices of movies.csv (row 0 = the first line after the
//               header), one per line; blank lines and surrounding whitespace are allowed.
//               An index listed twice or out of range is an error naming the line. Without it the
//               dataset has no split: `train` is empty and every movie is held out.
// Every error names the file and the line (physical line where the CSV record starts).
#pragma once

#include <clipmatch/export.h>

#include <cstddef>
#include <string>
#include <vector>

namespace clipmatch {

struct Movie {
  std::string poster;               ///< resolved path: absolute, or the dataset folder joined with the CSV value
  std::string intro;                ///< synopsis, UTF-8, verbatim (no case folding, no trimming)
  std::string title;                ///< empty when the column is absent
  std::vector<std::string> genres;  ///< split on '|'; empty entries dropped
  std::string movie_id;             ///< empty when the column is absent
  int year = 0;                     ///< 0 when absent or empty
  std::size_t row = 0;              ///< zero-based data row in movies.csv (the index train.txt uses)
};

struct Dataset {
  std::string root;                ///< the dataset folder, absolute
  std::vector<Movie> movies;       ///< rows that were loaded, in file order
  std::vector<std::size_t> train;  ///< indices into `movies` (not CSV rows), ascending

  /// Indices into `movies` that are not in `train`, ascending.
  CLIPMATCH_API std::vector<std::size_t> heldout() const;
};

struct DatasetOptions {
  /// Skip rows that are malformed (wrong field count, empty poster or intro, bad year, missing poster file)
  /// instead of failing; each skip is counted and described in DatasetReport.
  bool skip_bad_rows = false;
  /// Check that every poster file exists (one stat per row).
  bool check_posters_exist = true;
};

struct DatasetReport {
  std::size_t rows_read = 0;           ///< data rows in movies.csv
  std::size_t rows_skipped = 0;        ///< rows dropped under skip_bad_rows
  std::size_t train_dropped = 0;       ///< train.txt entries that pointed at skipped rows
  bool has_split = false;              ///< whether train.txt was present
  std::vector<std::string> messages;   ///< one line per skipped row / dropped index, naming file and line
};

/// Loads the dataset in `folder`; throws clipmatch::Error (Io or Format) naming file and line.
/// When rows are skipped, train.txt indices (which refer to the original rows) are remapped to `movies`
/// and those of skipped rows are dropped.
CLIPMATCH_API Dataset load_dataset(const std::string& folder, const DatasetOptions& options = {},
                                   DatasetReport* report = nullptr);

/// Writes `dataset.movies` as `folder`/movies.csv (columns movie_id,title,year,genres,poster,intro) and
/// `dataset.train` as `folder`/train.txt (mapped back to row positions of the written file, i.e. indices
/// into `movies`). Posters inside `folder` are written relative to it. Each file is written to a temporary
/// name and renamed into place, so a reader never sees a half-written file. The folder is created if needed.
CLIPMATCH_API void save_dataset(const std::string& folder, const Dataset& dataset);

}  // namespace clipmatch
