#include <clipmatch/dataset.hpp>
#include <clipmatch/error.hpp>

#include <fstream>

#include "test_support.hpp"

using clipmatch::Dataset;
using clipmatch::DatasetOptions;
using clipmatch::DatasetReport;
using clipmatch::load_dataset;
using clipmatch::test::TempDir;

namespace {

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

/// A folder with posters p0.jpg … p{n-1}.jpg (content irrelevant: existence is what is checked).
void make_posters(const TempDir& dir, int n) {
  for (int i = 0; i < n; ++i) write_text(dir / ("p" + std::to_string(i) + ".jpg"), "x");
}

std::string load_error(const std::string& folder, const DatasetOptions& options = {}) {
  try {
    load_dataset(folder, options);
  } catch (const clipmatch::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("dataset: all columns, quoted intro, split", "[dataset]") {
  TempDir dir;
  make_posters(dir, 3);
  write_text(dir / "movies.csv",
             "movie_id,title,year,genres,poster,intro\n"
             "7,\"Up, Up\",1999,Action|Comedy,p0.jpg,\"A \"\"tall\"\" tale,\nover two lines.\"\n"
             "8,B,,,p1.jpg,Caf\xC3\xA9 Society\n"
             "9,C,2001,Drama,p2.jpg,Third\n");
  write_text(dir / "train.txt", "2\n\n0  \r\n");
  DatasetReport report;
  const Dataset data = load_dataset(dir.path().string(), {}, &report);
  REQUIRE(data.movies.size() == 3);
  const auto& first = data.movies[0];
  CHECK(first.movie_id == "7");
  CHECK(first.title == "Up, Up");
  CHECK(first.year == 1999);
  CHECK(first.genres == std::vector<std::string>{"Action", "Comedy"});
  CHECK(first.intro == "A \"tall\" tale,\nover two lines.");
  CHECK(first.poster == (dir / "p0.jpg").string());
  CHECK(data.movies[1].year == 0);
  CHECK(data.movies[1].genres.empty());
  CHECK(data.movies[1].intro == "Caf\xC3\xA9 Society");
  CHECK(data.train == std::vector<std::size_t>{0, 2});
  CHECK(data.heldout() == std::vector<std::size_t>{1});
  CHECK(report.rows_read == 3);
  CHECK(report.has_split);
}

TEST_CASE("dataset: only the required columns, in another order, extra columns ignored, no train.txt",
          "[dataset]") {
  TempDir dir;
  make_posters(dir, 2);
  write_text(dir / "movies.csv", "intro,rating,poster\nFirst,5,p0.jpg\nSecond,3,p1.jpg\n");
  DatasetReport report;
  const Dataset data = load_dataset(dir.path().string(), {}, &report);
  REQUIRE(data.movies.size() == 2);
  CHECK(data.movies[1].intro == "Second");
  CHECK(data.movies[1].poster == (dir / "p1.jpg").string());
  CHECK(data.movies[1].title.empty());
  CHECK(data.movies[1].row == 1);
  CHECK(data.train.empty());
  CHECK(data.heldout().size() == 2);
  CHECK_FALSE(report.has_split);
}

TEST_CASE("dataset: bad rows are errors that name file and line", "[dataset]") {
  TempDir dir;
  make_posters(dir, 2);
  const std::string csv = (dir / "movies.csv").string();
  SECTION("missing required column") {
    write_text(dir / "movies.csv", "poster,synopsis\np0.jpg,x\n");
    CHECK_THAT(load_error(dir.path().string()), Catch::Contains(csv + ": line 1") && Catch::Contains("'intro'"));
  }
  SECTION("missing poster file") {
    write_text(dir / "movies.csv", "poster,intro\np0.jpg,a\n\"nope.jpg\",\"two\nlines\"\np1.jpg,c\n");
    const std::string error = load_error(dir.path().string());
    CHECK_THAT(error, Catch::Contains(csv + ": line 3 (row 1)") && Catch::Contains("nope.jpg"));
    DatasetOptions no_check;
    no_check.check_posters_exist = false;
    CHECK(load_dataset(dir.path().string(), no_check).movies.size() == 3);
  }
  SECTION("empty intro") {
    write_text(dir / "movies.csv", "poster,intro\np0.jpg,a\np1.jpg,  \n");
    CHECK_THAT(load_error(dir.path().string()), Catch::Contains(csv + ": line 3") && Catch::Contains("intro"));
  }
  SECTION("wrong field count") {
    write_text(dir / "movies.csv", "poster,intro\np0.jpg,a,extra\n");
    CHECK_THAT(load_error(dir.path().string()), Catch::Contains(csv + ": line 2") && Catch::Contains("3 fields"));
  }
  SECTION("bad year") {
    write_text(dir / "movies.csv", "poster,intro,year\np0.jpg,a,19x9\n");
    CHECK_THAT(load_error(dir.path().string()), Catch::Contains(csv + ": line 2") && Catch::Contains("year"));
  }
  SECTION("missing folder or movies.csv") {
    CHECK_THAT(load_error((dir / "absent").string()), Catch::Contains("absent"));
    CHECK_THAT(load_error(dir.path().string()), Catch::Contains("movies.csv"));
  }
}

TEST_CASE("dataset: bad train.txt entries name file and line", "[dataset]") {
  TempDir dir;
  make_posters(dir, 3);
  write_text(dir / "movies.csv", "poster,intro\np0.jpg,a\np1.jpg,b\np2.jpg,c\n");
  const std::string train = (dir / "train.txt").string();
  write_text(dir / "train.txt", "0\n\n3\n");
  CHECK_THAT(load_error(dir.path().string()), Catch::Contains(train + ": line 3") && Catch::Contains("out of range"));
  write_text(dir / "train.txt", "1\n0\n1\n");
  CHECK_THAT(load_error(dir.path().string()), Catch::Contains(train + ": line 3") && Catch::Contains("twice"));
  write_text(dir / "train.txt", "1\nfoo\n");
  CHECK_THAT(load_error(dir.path().string()), Catch::Contains(train + ": line 2") && Catch::Contains("'foo'"));
  write_text(dir / "train.txt", "-1\n");
  CHECK_THAT(load_error(dir.path().string()), Catch::Contains(train + ": line 1"));
  write_text(dir / "train.txt", "1.5\n");
  CHECK_THAT(load_error(dir.path().string()), Catch::Contains(train + ": line 1"));
}

TEST_CASE("dataset: skip_bad_rows counts skips and remaps the split", "[dataset]") {
  TempDir dir;
  make_posters(dir, 5);
  write_text(dir / "movies.csv",
             "poster,intro\np0.jpg,a\nmissing.jpg,b\np2.jpg,\np3.jpg,d\np4.jpg,e,extra\np4.jpg,f\n");
  write_text(dir / "train.txt", "1\n3\n5\n2\n");
  DatasetOptions options;
  options.skip_bad_rows = true;
  DatasetReport report;
  const Dataset data = load_dataset(dir.path().string(), options, &report);
  CHECK(report.rows_read == 6);
  CHECK(report.rows_skipped == 3);
  CHECK(report.train_dropped == 2);
  CHECK(report.messages.size() == 5);
  REQUIRE(data.movies.size() == 3);
  CHECK(data.movies[0].row == 0);
  CHECK(data.movies[1].row == 3);
  CHECK(data.movies[2].row == 5);
  CHECK(data.movies[2].intro == "f");
  CHECK(data.train == std::vector<std::size_t>{1, 2});  // rows 3 and 5
  CHECK(data.heldout() == std::vector<std::size_t>{0});
}

TEST_CASE("dataset: save_dataset round-trips through load_dataset", "[dataset]") {
  TempDir dir;
  make_posters(dir, 2);
  Dataset data;
  data.movies.resize(2);
  data.movies[0] = {(dir / "p0.jpg").string(), "Hello, \"world\"\nagain", "T1", {"A", "B"}, "11", 1990, 0};
  data.movies[1] = {"p1.jpg", "Second", "T2", {}, "12", 0, 1};
  data.train = {1};
  clipmatch::save_dataset(dir.path().string(), data);
  const Dataset loaded = load_dataset(dir.path().string());
  REQUIRE(loaded.movies.size() == 2);
  CHECK(loaded.movies[0].intro == data.movies[0].intro);
  CHECK(loaded.movies[0].genres == data.movies[0].genres);
  CHECK(loaded.movies[0].year == 1990);
  CHECK(loaded.movies[1].poster == (dir / "p1.jpg").string());
  CHECK(loaded.train == data.train);
  CHECK_FALSE(std::filesystem::exists(dir / "movies.csv.tmp"));
  std::ifstream csv(dir / "movies.csv");
  std::string header;
  std::getline(csv, header);
  std::string first_row;
  std::getline(csv, first_row);
  CHECK_THAT(first_row, Catch::Contains(",p0.jpg,"));  // written relative to the folder
}

TEST_CASE("dataset: the real ml100k-tmdb set loads", "[dataset][shared]") {
  const auto folder = clipmatch::test::shared_path("data/ml100k-tmdb", "CLIPMATCH_ML100K");
  CLIPMATCH_REQUIRE_SHARED(folder, "data/ml100k-tmdb");
  DatasetReport report;
  const Dataset data = load_dataset(folder->string(), {}, &report);
  CHECK(data.movies.size() == 1625);
  CHECK(data.train.size() == 975);
  CHECK(data.heldout().size() == 650);
  CHECK(report.rows_skipped == 0);
  CHECK(data.movies[0].title == "Toy Story (1995)");
  CHECK(data.movies[0].year == 1995);
  CHECK(data.movies[0].genres == std::vector<std::string>{"Animation", "Children", "Comedy"});
  CHECK_THAT(data.movies[0].intro, Catch::StartsWith("Led by Woody, Andy's toys"));
  CHECK(data.movies[3].intro.find("\"Bones\" Barboni") != std::string::npos);
}
