// Writing a dataset folder (movies.csv + train.txt), each file replaced atomically.
#include <clipmatch/dataset.hpp>

#include "core/fail.hpp"
#include "io/csv.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace clipmatch {

namespace fs = std::filesystem;

namespace {

/// Writes `content` beside `path` under a temporary name, then renames it over `path`: rename within one
/// folder is atomic on POSIX, so readers see either the old file or the complete new one.
void replace_file(const fs::path& path, const std::string& content) {
  fs::path temp = path;
  temp += ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) fail(ErrorKind::Io, "{}: cannot create file", temp.string());
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) fail(ErrorKind::Io, "{}: write failed (disk full?)", temp.string());
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    fs::remove(temp, ec);
    fail(ErrorKind::Io, "{}: cannot rename temporary file into place", path.string());
  }
}

std::string join_genres(const std::vector<std::string>& genres) {
  std::string joined;
  for (const std::string& genre : genres) {
    if (!joined.empty()) joined += '|';
    joined += genre;
  }
  return joined;
}

/// The poster path as stored: relative to the dataset folder when it lies inside it.
std::string stored_poster_path(const std::string& poster, const fs::path& root) {
  const fs::path path(poster);
  if (!path.is_absolute()) return path.generic_string();
  const fs::path relative = path.lexically_normal().lexically_relative(root);
  if (relative.empty() || *relative.begin() == "..") return path.generic_string();
  return relative.generic_string();
}

}  // namespace

void save_dataset(const std::string& folder, const Dataset& dataset) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) fail(ErrorKind::Io, "{}: cannot create dataset folder: {}", folder, ec.message());
  const fs::path root = fs::absolute(folder).lexically_normal();

  std::ostringstream csv;
  io::CsvWriter writer(csv);
  writer.write_row({"movie_id", "title", "year", "genres", "poster", "intro"});
  for (const Movie& movie : dataset.movies) {
    if (movie.poster.empty() || movie.intro.empty()) {
      fail(ErrorKind::InvalidArgument, "save_dataset: movie '{}' (row {}) has an empty poster or intro",
           movie.title, movie.row);
    }
    writer.write_row({movie.movie_id, movie.title, movie.year != 0 ? std::to_string(movie.year) : std::string(),
                      join_genres(movie.genres), stored_poster_path(movie.poster, root), movie.intro});
  }

  std::string train;
  std::vector<bool> listed(dataset.movies.size(), false);
  for (std::size_t index : dataset.train) {
    if (index >= dataset.movies.size()) {
      fail(ErrorKind::InvalidArgument, "save_dataset: train index {} is out of range ({} movies)", index,
           dataset.movies.size());
    }
    if (listed[index]) fail(ErrorKind::InvalidArgument, "save_dataset: train index {} is listed twice", index);
    listed[index] = true;
    train += std::to_string(index);
    train += '\n';
  }
  // train.txt first: movies.csv is what marks a folder as a dataset, so it goes in last.
  replace_file(root / "train.txt", train);
  replace_file(root / "movies.csv", csv.str());
}

}  // namespace clipmatch
