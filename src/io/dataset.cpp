// Loading a poster/synopsis dataset folder (movies.csv + optional train.txt).
#include <clipmatch/dataset.hpp>

#include "core/fail.hpp"
#include "io/csv.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string_view>

namespace clipmatch {

namespace fs = std::filesystem;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_blank(std::string_view s) { return trim(s).empty(); }

/// Where each known column sits in the header; optional columns may be absent.
struct Columns {
  std::size_t poster = 0;
  std::size_t intro = 0;
  std::optional<std::size_t> movie_id, title, year, genres;
  std::size_t count = 0;
};

Columns find_columns(const io::CsvRecord& header, const std::string& path) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < header.fields.size(); ++i) {
    const std::string name(trim(header.fields[i]));
    if (!index.emplace(name, i).second && !name.empty()) {
      fail(ErrorKind::Format, "{}: line {}: column '{}' appears twice in the header", path, header.line, name);
    }
  }
  auto optional_column = [&](const char* name) -> std::optional<std::size_t> {
    auto it = index.find(name);
    if (it == index.end()) return std::nullopt;
    return it->second;
  };
  auto required_column = [&](const char* name) {
    auto it = index.find(name);
    if (it == index.end()) {
      fail(ErrorKind::Format, "{}: line {}: required column '{}' is missing from the header", path, header.line,
           name);
    }
    return it->second;
  };
  Columns columns;
  columns.poster = required_column("poster");
  columns.intro = required_column("intro");
  columns.movie_id = optional_column("movie_id");
  columns.title = optional_column("title");
  columns.year = optional_column("year");
  columns.genres = optional_column("genres");
  columns.count = header.fields.size();
  return columns;
}

std::vector<std::string> split_genres(const std::string& field) {
  std::vector<std::string> genres;
  std::size_t start = 0;
  while (start <= field.size()) {
    std::size_t end = field.find('|', start);
    if (end == std::string::npos) end = field.size();
    const std::string_view genre = trim(std::string_view(field).substr(start, end - start));
    if (!genre.empty()) genres.emplace_back(genre);
    start = end + 1;
  }
  return genres;
}

/// Why a row cannot be used, or nothing when it is fine; fills `movie` as it goes.
std::optional<std::string> parse_row(const io::CsvRecord& record, const Columns& columns, const fs::path& root,
                                     const DatasetOptions& options, Movie& movie) {
  if (record.fields.size() != columns.count) {
    return fmt::format("has {} fields, the header has {}", record.fields.size(), columns.count);
  }
  const std::string& poster = record.fields[columns.poster];
  if (is_blank(poster)) return std::string("empty 'poster' field");
  if (is_blank(record.fields[columns.intro])) return std::string("empty 'intro' field");
  movie.intro = record.fields[columns.intro];
  const fs::path poster_path(std::string(trim(poster)));
  movie.poster = (poster_path.is_absolute() ? poster_path : root / poster_path).lexically_normal().string();
  if (columns.movie_id) movie.movie_id = std::string(trim(record.fields[*columns.movie_id]));
  if (columns.title) movie.title = record.fields[*columns.title];
  if (columns.genres) movie.genres = split_genres(record.fields[*columns.genres]);
  if (columns.year) {
    const std::string_view year = trim(record.fields[*columns.year]);
    if (!year.empty()) {
      int value = 0;
      const auto [end, ec] = std::from_chars(year.data(), year.data() + year.size(), value);
      if (ec != std::errc() || end != year.data() + year.size()) {
        return fmt::format("'year' is not an integer: '{}'", year);
      }
      movie.year = value;
    }
  }
  if (options.check_posters_exist) {
    std::error_code ec;
    if (fs::is_directory(movie.poster, ec)) return fmt::format("poster is a folder, not an image file: {}", movie.poster);
    if (!fs::is_regular_file(movie.poster, ec)) return fmt::format("poster file not found: {}", movie.poster);
  }
  return std::nullopt;
}

/// Reads train.txt: CSV data-row indices, validated against `row_count`, each with its line number.
std::vector<std::pair<std::size_t, std::size_t>> read_train_rows(const std::string& path, std::size_t row_count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "{}: cannot open", path);
  std::vector<std::pair<std::size_t, std::size_t>> rows;  // (row, line)
  std::vector<std::size_t> first_line(row_count, 0);
  std::string text;
  std::size_t line_number = 0;
  while (std::getline(in, text)) {
    ++line_number;
    std::string_view value = trim(text);
    if (line_number == 1 && value.substr(0, 3) == "\xEF\xBB\xBF") value = trim(value.substr(3));
    if (value.empty()) continue;
    std::size_t row = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), row);
    if (ec != std::errc() || end != value.data() + value.size()) {
      fail(ErrorKind::Format, "{}: line {}: '{}' is not a non-negative integer row index", path, line_number,
           value);
    }
    if (row >= row_count) {
      fail(ErrorKind::Format, "{}: line {}: row index {} is out of range (movies.csv has {} data rows)", path,
           line_number, row, row_count);
    }
    if (first_line[row] != 0) {
      fail(ErrorKind::Format, "{}: line {}: row index {} is listed twice (first on line {})", path, line_number,
           row, first_line[row]);
    }
    first_line[row] = line_number;
    rows.emplace_back(row, line_number);
  }
  if (in.bad()) fail(ErrorKind::Io, "{}: read error", path);
  return rows;
}

}  // namespace

std::vector<std::size_t> Dataset::heldout() const {
  std::vector<bool> in_train(movies.size(), false);
  for (std::size_t index : train) {
    if (index < in_train.size()) in_train[index] = true;
  }
  std::vector<std::size_t> held;
  for (std::size_t i = 0; i < movies.size(); ++i) {
    if (!in_train[i]) held.push_back(i);
  }
  return held;
}

Dataset load_dataset(const std::string& folder, const DatasetOptions& options, DatasetReport* report) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) fail(ErrorKind::Io, "{}: dataset folder not found", folder);
  const fs::path root = fs::absolute(folder).lexically_normal();
  const std::string csv_path = (root / "movies.csv").string();
  if (!fs::exists(csv_path, ec)) fail(ErrorKind::Io, "{}: file not found", csv_path);

  const std::vector<io::CsvRecord> records = io::read_csv_file(csv_path);
  if (records.empty()) fail(ErrorKind::Format, "{}: empty file (no header row)", csv_path);
  const Columns columns = find_columns(records.front(), csv_path);

  DatasetReport local_report;
  DatasetReport& rep = report != nullptr ? *report : local_report;
  rep = DatasetReport{};

  Dataset dataset;
  dataset.root = root.string();
  const std::size_t row_count = records.size() - 1;
  constexpr std::size_t skipped = static_cast<std::size_t>(-1);
  std::vector<std::size_t> movie_of_row(row_count, skipped);
  for (std::size_t row = 0; row < row_count; ++row) {
    const io::CsvRecord& record = records[row + 1];
    Movie movie;
    movie.row = row;
    if (auto problem = parse_row(record, columns, root, options, movie)) {
      const std::string message = fmt::format("{}: line {} (row {}): {}", csv_path, record.line, row, *problem);
      if (!options.skip_bad_rows) throw Error(ErrorKind::Format, message);
      ++rep.rows_skipped;
      rep.messages.push_back(message + " — row skipped");
      continue;
    }
    movie_of_row[row] = dataset.movies.size();
    dataset.movies.push_back(std::move(movie));
  }
  rep.rows_read = row_count;

  const std::string train_path = (root / "train.txt").string();
  rep.has_split = fs::exists(train_path, ec);
  if (rep.has_split) {
    for (const auto& [row, line] : read_train_rows(train_path, row_count)) {
      if (movie_of_row[row] == skipped) {
        ++rep.train_dropped;
        rep.messages.push_back(
            fmt::format("{}: line {}: row {} was skipped, dropped from the training split", train_path, line, row));
        continue;
      }
      dataset.train.push_back(movie_of_row[row]);
    }
    std::sort(dataset.train.begin(), dataset.train.end());
  }
  return dataset;
}

}  // namespace clipmatch
