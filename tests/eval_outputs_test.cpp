// metrics.json, heatmap.png and topk.csv as files: read back and checked field by field / pixel by pixel.
#include "eval/canvas.hpp"
#include "eval/colormap.hpp"
#include "eval/distance.hpp"
#include "eval/distance_npy.hpp"
#include "eval/heatmap.hpp"
#include "eval/metrics_json.hpp"
#include "eval/outputs.hpp"
#include "eval/splits.hpp"
#include "eval/topk_report.hpp"
#include "test_support.hpp"

#include <clipmatch/error.hpp>

#include <stb/stb_image.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

using namespace clipmatch;
using Catch::Matchers::Contains;

namespace {

torch::Tensor random_unit(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor x = torch::randn({n, d});
  return x / x.norm(2, 1, true);
}

std::set<std::string> keys_of(const nlohmann::json& j) {
  std::set<std::string> keys;
  for (const auto& item : j.items()) keys.insert(item.key());
  return keys;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// RFC 4180 reader, independent of the writer: quoted fields may hold commas, doubled quotes and newlines.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field), field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(field), field.clear();
      rows.emplace_back();
      ++i;
    } else {
      field += c;
    }
  }
  if (rows.back().empty() && field.empty()) rows.pop_back();
  return rows;
}

struct Image {
  int width = 0, height = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels{nullptr, stbi_image_free};
  eval::Rgb at(int x, int y) const {
    const unsigned char* p = pixels.get() + (static_cast<std::size_t>(y) * width + x) * 3;
    return {p[0], p[1], p[2]};
  }
};

Image load_png(const std::filesystem::path& path) {
  Image image;
  int channels = 0;
  image.pixels.reset(stbi_load(path.string().c_str(), &image.width, &image.height, &channels, 3));
  REQUIRE(image.pixels != nullptr);
  return image;
}

}  // namespace

TEST_CASE("metrics.json has exactly the agreed fields", "[eval_outputs]") {
  test::TempDir dir;
  const torch::Tensor posters = random_unit(12, 6, 11);
  const torch::Tensor intros = random_unit(12, 6, 12);
  const auto splits = eval::evaluate_splits(posters, intros, {0, 1, 2, 3, 4, 5, 6, 7});
  eval::write_metrics_json(dir / "metrics.json", 12, DistanceKind::OneMinusCosine, splits);

  const auto j = nlohmann::json::parse(read_text(dir / "metrics.json"));
  CHECK(keys_of(j) == std::set<std::string>{"n", "distance", "splits"});
  CHECK(j["n"] == 12);
  CHECK(j["distance"] == "1-cos");
  CHECK(keys_of(j["splits"]) == std::set<std::string>{"all", "train", "heldout"});
  const std::set<std::string> retrieval_keys{"r1", "r5", "r10", "median_rank", "mean_rank"};
  for (const char* name : {"all", "train", "heldout"}) {
    CAPTURE(name);
    const auto& s = j["splits"][name];
    CHECK(keys_of(s) == std::set<std::string>{"n", "acc_dim0", "acc_dim1", "poster_to_intro", "intro_to_poster"});
    CHECK(keys_of(s["poster_to_intro"]) == retrieval_keys);
    CHECK(keys_of(s["intro_to_poster"]) == retrieval_keys);
    const SplitMetrics& m = splits.at(name);
    CHECK(s["n"] == m.n);
    CHECK(s["acc_dim0"].get<double>() == m.acc_dim0);
    CHECK(s["acc_dim1"].get<double>() == m.acc_dim1);
    CHECK(s["poster_to_intro"]["median_rank"].get<double>() == m.poster_to_intro.median_rank);
    CHECK(s["intro_to_poster"]["mean_rank"].get<double>() == m.intro_to_poster.mean_rank);
    CHECK(s["intro_to_poster"]["r10"].get<double>() == m.intro_to_poster.r10);
  }
  CHECK(j["splits"]["train"]["n"] == 8);
  CHECK(j["splits"]["heldout"]["n"] == 4);
  // Written in the documented order for people reading the file.
  CHECK(eval::metrics_to_json(12, DistanceKind::NegativeCosine, splits).dump().rfind(
            R"({"n":12,"distance":"-cos","splits":{"all":)", 0) == 0);
  CHECK_THROWS_AS(eval::write_metrics_json(dir / "missing" / "metrics.json", 12, DistanceKind::OneMinusCosine, splits),
                  Error);
}

TEST_CASE("heatmap.png decodes, has the laid-out size, and maps min/max to the colour-map ends", "[eval_outputs]") {
  test::TempDir dir;
  // A 3 x 4 block whose minimum sits at (0, 1) and maximum at (2, 3).
  const torch::Tensor block = torch::tensor({0.5, 0.0, 0.7, 0.9, 0.4, 0.3, 1.1, 1.2, 0.6, 0.8, 1.0, 2.0}).reshape({3, 4});
  eval::HeatmapOptions options;
  options.title = "test block";
  const auto g = eval::write_heatmap_png(dir / "heatmap.png", block, {"Alien", "Heat, the movie", "Amélie"}, {}, options);
  const Image image = load_png(dir / "heatmap.png");
  CHECK(image.width == g.width);
  CHECK(image.height == g.height);
  CHECK(g.cell == 48);  // 768 / 4 = 192, clamped to the largest cell size
  CHECK(g.min == Approx(0.0));
  CHECK(g.max == Approx(2.0));
  const auto centre = [&](int row, int col) { return image.at(g.grid_x + col * g.cell + g.cell / 2, g.grid_y + row * g.cell + g.cell / 2); };
  CHECK(centre(0, 1) == eval::viridis(0.0));
  CHECK(centre(2, 3) == eval::viridis(1.0));
  CHECK(centre(0, 0) == eval::viridis(0.25));
  // The table's ends are viridis' (matplotlib: 0.267, 0.005, 0.329 and 0.993, 0.906, 0.144) within 4/255.
  const auto near = [](eval::Rgb a, eval::Rgb b) {
    for (int c = 0; c < 3; ++c) if (std::abs(int(a[c]) - int(b[c])) > 4) return false;
    return true;
  };
  CHECK(near(eval::viridis(0.0), {68, 1, 84}));
  CHECK(near(eval::viridis(1.0), {253, 231, 37}));

  // Labels were drawn: the strip left of the grid holds black text pixels, the top strip too.
  auto black_pixels = [&](int x0, int y0, int x1, int y1) {
    int count = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) count += image.at(x, y) == eval::Rgb{0, 0, 0};
    return count;
  };
  CHECK(black_pixels(0, g.grid_y, g.grid_x, g.grid_y + 3 * g.cell) > 30);
  CHECK(black_pixels(g.grid_x, 20, g.grid_x + 4 * g.cell, g.grid_y) > 10);
  CHECK(black_pixels(0, 0, g.width, 8 + 12) > 10);  // the title

  CHECK_THROWS_WITH(eval::write_heatmap_png(dir / "bad.png", block, {"a"}, {}), Contains("1 row labels"));
  CHECK_THROWS_AS(eval::write_heatmap_png(dir / "bad.png", torch::ones({3}), {}, {}), Error);
}

TEST_CASE("distance heatmap of embeddings: first 64 movies by default, chosen ones on request", "[eval_outputs]") {
  test::TempDir dir;
  const torch::Tensor posters = random_unit(70, 8, 13);
  const torch::Tensor intros = random_unit(70, 8, 14);
  std::vector<std::string> titles;
  for (int i = 0; i < 70; ++i) titles.push_back("Movie number " + std::to_string(i) + " with a rather long title");
  const auto g = eval::write_distance_heatmap(dir / "heatmap.png", posters, intros, titles);
  CHECK(g.cell == 12);
  const Image image = load_png(dir / "heatmap.png");
  CHECK(image.width == g.width);
  CHECK(image.height == g.height);
  CHECK(image.width >= g.grid_x + 64 * 12);
  CHECK(image.height >= g.grid_y + 64 * 12);
  const torch::Tensor d = eval::distance_matrix(posters.slice(0, 0, 64), intros.slice(0, 0, 64));
  CHECK(g.min == Approx(d.min().item<double>()));
  CHECK(g.max == Approx(d.max().item<double>()));

  const auto few = eval::write_distance_heatmap(dir / "few.png", posters, intros, {}, {69, 3});
  CHECK(few.cell == 48);
  const torch::Tensor block = eval::distance_matrix(posters.index_select(0, torch::tensor({69, 3})),
                                                    intros.index_select(0, torch::tensor({69, 3})));
  CHECK(few.max == Approx(block.max().item<double>()));
  CHECK_THROWS_WITH(eval::write_distance_heatmap(dir / "x.png", posters, intros, {}, {70}), Contains("70"));
}

TEST_CASE("topk.csv parses with the right columns and agrees with the ranks", "[eval_outputs]") {
  test::TempDir dir;
  const torch::Tensor posters = random_unit(9, 5, 15);
  const torch::Tensor intros = random_unit(9, 5, 16);
  std::vector<std::string> titles;
  for (int i = 0; i < 9; ++i) titles.push_back("Title " + std::to_string(i));
  titles[2] = "Crouching Tiger, Hidden Dragon";
  titles[4] = "The \"Quoted\" One";
  titles[5] = "Line\nbreak";
  const auto report = eval::build_topk_report(posters, intros, 5, /*chunk_rows=*/4);
  eval::write_topk_csv(dir / "topk.csv", report, titles);

  const auto rows = parse_csv(read_text(dir / "topk.csv"));
  REQUIRE(rows.size() == 10);
  const std::vector<std::string> header{"row", "title", "poster_rank", "intro_rank", "nearest_intro_1",
                                        "nearest_intro_2", "nearest_intro_3", "nearest_intro_4", "nearest_intro_5",
                                        "nearest_poster_1", "nearest_poster_2", "nearest_poster_3",
                                        "nearest_poster_4", "nearest_poster_5"};
  CHECK(rows[0] == header);
  const auto ranks = eval::match_ranks(posters, intros);
  const auto nearest_intros = eval::topk_nearest(posters, intros, 5);
  const auto nearest_posters = eval::topk_nearest(intros, posters, 5);
  for (std::size_t i = 0; i < 9; ++i) {
    CAPTURE(i);
    const auto& row = rows[i + 1];
    REQUIRE(row.size() == header.size());
    CHECK(row[0] == std::to_string(i));
    CHECK(row[1] == titles[i]);
    CHECK(row[2] == std::to_string(ranks.poster_to_intro[i]));
    CHECK(row[3] == std::to_string(ranks.intro_to_poster[i]));
    for (std::int64_t j = 0; j < 5; ++j) {
      CHECK(row[4 + j] == titles[nearest_intros.indices[static_cast<std::int64_t>(i)][j].item<std::int64_t>()]);
      CHECK(row[9 + j] == titles[nearest_posters.indices[static_cast<std::int64_t>(i)][j].item<std::int64_t>()]);
    }
    // A movie whose poster ranks its own intro first lists that intro first.
    if (ranks.poster_to_intro[i] == 1) CHECK(row[4] == titles[i]);
  }
  CHECK(eval::csv_field("plain") == "plain");
  CHECK(eval::csv_field("a,b") == "\"a,b\"");
  CHECK(eval::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");

  // Fewer movies than k: k is capped.
  const auto small = eval::build_topk_report(posters.slice(0, 0, 3), intros.slice(0, 0, 3), 5);
  CHECK(small.poster_nearest.indices.size(1) == 3);
  CHECK_THROWS_AS(eval::write_topk_csv(dir / "bad.csv", small, titles), Error);
}

TEST_CASE("labels are reduced to printable ASCII", "[eval_outputs]") {
  CHECK(eval::printable_label("Amélie", 28) == "Am?lie");
  CHECK(eval::printable_label("abcdefghij", 8) == "abcde...");
  CHECK(eval::printable_label("tab\there", 28) == "tab here");
}

TEST_CASE("distances.npy is streamed in chunks and holds the full matrix", "[eval_outputs]") {
  test::TempDir dir;
  const torch::Tensor posters = random_unit(11, 4, 17);
  const torch::Tensor intros = random_unit(7, 4, 18);
  eval::write_distance_npy(dir / "d.npy", posters, intros, DistanceKind::NegativeCosine, /*chunk_rows=*/3);
  const std::string bytes = read_text(dir / "d.npy");
  REQUIRE(bytes.size() > 10);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  const std::size_t data_at = 10 + header_len;
  CHECK(data_at % 64 == 0);
  const std::string dict = bytes.substr(10, header_len);
  CHECK_THAT(dict, Contains("'descr': '<f4'") && Contains("'fortran_order': False") && Contains("'shape': (11, 7)"));
  CHECK(dict.back() == '\n');
  REQUIRE(bytes.size() == data_at + 11 * 7 * sizeof(float));
  torch::Tensor read = torch::empty({11, 7}, torch::kFloat32);
  std::memcpy(read.data_ptr<float>(), bytes.data() + data_at, 11 * 7 * sizeof(float));
  CHECK(torch::equal(read, eval::distance_matrix(posters, intros, DistanceKind::NegativeCosine, 3)));
}

TEST_CASE("outputs.hpp: heatmap and topk.csv straight from embeddings", "[eval_outputs]") {
  test::TempDir dir;
  const torch::Tensor posters = random_unit(6, 4, 19);
  const torch::Tensor intros = random_unit(6, 4, 20);
  const std::vector<std::string> titles{"a", "b", "c", "d", "e", "f"};
  const auto g = eval::write_heatmap_png(dir / "h.png", posters, intros, titles, DistanceKind::OneMinusCosine, 4);
  const Image image = load_png(dir / "h.png");
  CHECK(image.width == g.width);
  const torch::Tensor block = eval::distance_matrix(posters.slice(0, 0, 4), intros.slice(0, 0, 4));
  CHECK(g.min == Approx(block.min().item<double>()));
  eval::write_topk_csv(dir / "topk.csv", posters, intros, titles);
  const auto rows = parse_csv(read_text(dir / "topk.csv"));
  CHECK(rows.size() == 7);
  CHECK(rows[1].size() == 14);
  CHECK_THROWS_AS(eval::write_heatmap_png(dir / "z.png", posters, intros, titles, DistanceKind::OneMinusCosine, 0), Error);
}
