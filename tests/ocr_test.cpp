// The poster-text channel: Tesseract reading rendered words, the OCR cache, the lexical scoring, and fusion
// where only the printed text can tell movies apart. Skipped (with a warning) when this build or machine has
// no Tesseract with English data.
#include "test_support.hpp"

#include "eval/canvas.hpp"
#include "eval/ranking.hpp"
#include "model/text_channel.hpp"
#include "ocr/ocr_cache.hpp"
#include "ocr/poster_reader.hpp"
#include "ocr/read_posters.hpp"
#include "text/lexical.hpp"

#include <clipmatch/dataset.hpp>
#include <clipmatch/model.hpp>
#include <clipmatch/ocr.hpp>


#include <algorithm>
#include <cctype>
#include <set>

using namespace clipmatch;
using clipmatch::test::TempDir;

namespace {

#define CLIPMATCH_REQUIRE_OCR()                                      \
  do {                                                               \
    std::string why;                                                 \
    if (!ocr_available({}, &why)) {                                  \
      WARN("skipped: OCR unavailable: " << why);                     \
      return;                                                        \
    }                                                                \
  } while (0)

/// A poster-sized PNG (100×150, the size of the course's small posters) with `lines` printed in dark type on
/// a light background at stb_easy_font's 12-pixel line height, the way small posters print names and titles.
void write_poster(const std::filesystem::path& path, const std::vector<std::string>& lines, eval::Rgb background) {
  eval::Canvas canvas(100, 150, background);
  int y = 20;
  for (const auto& line : lines) {
    canvas.draw_text(6, y, line, eval::Rgb{20, 20, 30});
    y += 40;
  }
  const auto png = canvas.encode_png();
  test::write_all(path, std::string(png.begin(), png.end()));
}

std::set<std::string> lower_words(const PosterText& text) {
  std::set<std::string> out;
  for (const auto& word : text.words) {
    std::string lower;
    for (const char c : word.text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.insert(lower);
  }
  return out;
}

}  // namespace

TEST_CASE("lexical terms: lower-cased, stop words and short fragments dropped, light stemming", "[ocr]") {
  CHECK(text::lexical_terms("The Wars of the STARS, and 007!", true) == std::vector<std::string>{"war", "star", "007"});
  CHECK(text::lexical_terms("The Wars of the STARS, and 007!", false) == std::vector<std::string>{"wars", "stars", "007"});
  CHECK(text::lexical_terms("Andy's toys: a boss, bosses, running, armed, stories", true) ==
        std::vector<std::string>{"andy", "toy", "boss", "boss", "runn", "arm", "story"});
  CHECK(text::lexical_terms("ee il | » — “a” ©©© x", true).empty());
  CHECK(text::lexical_terms("Amélie’s café", false) == std::vector<std::string>{"amélie", "café"});
}

TEST_CASE("BM25 vectors: a rare shared word outscores a common one, unrelated words score nothing", "[ocr]") {
  const std::vector<std::string> intros{"A sheriff hunts a killer in the town.", "A killer stalks the harbor town.",
                                        "Two sisters open a bakery in the town."};
  const auto lexical = text::bm25_vectors({{"harbor", "killer"}, {"killer"}, {"zebra"}}, intros, true);
  CHECK(lexical.vocabulary == std::vector<std::string>{"harbor", "killer"});
  const auto scores = torch::matmul(lexical.queries, lexical.documents.t());
  CHECK(scores[0].argmax().item<std::int64_t>() == 1);                  // harbor + killer: intro 1
  CHECK(scores[0][1].item<float>() > 2 * scores[0][0].item<float>());   // harbor is rare, killer is not
  CHECK(scores[1][0].item<float>() > 0);
  CHECK(scores[1][2].item<float>() == 0);
  CHECK(scores[2].abs().sum().item<float>() == 0);                      // zebra is in no intro
  CHECK(scores.max().item<float>() <= 2.0f);                            // ≈ 1 per rare shared term
}

TEST_CASE("OCR reads words rendered on small posters", "[ocr]") {
  CLIPMATCH_REQUIRE_OCR();
  TempDir dir;
  const std::vector<std::vector<std::string>> printed{{"HARBOR", "NIGHT"}, {"GARDEN", "THIEF"}, {"MIDNIGHT", "EXPRESS"}};
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < printed.size(); ++i) {
    paths.push_back((dir / ("poster" + std::to_string(i) + ".png")).string());
    write_poster(paths.back(), printed[i], eval::Rgb{235, 230, 215});
  }
  OcrOptions options;
  const auto texts = read_poster_text(paths, options);
  REQUIRE(texts.size() == printed.size());
  std::size_t found = 0, total = 0;
  for (std::size_t i = 0; i < printed.size(); ++i) {
    const auto words = lower_words(texts[i]);
    for (const auto& word : printed[i]) {
      std::string lower = word;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      ++total;
      found += words.count(lower);
      INFO("poster " << i << " read as '" << texts[i].text() << "'");
      CHECK(words.count(lower) == 1);
    }
    for (const auto& word : texts[i].words) CHECK(word.confidence >= options.min_confidence);
  }
  CHECK(found == total);
}

TEST_CASE("OCR cache: the second run reads no poster, a changed poster only itself, damaged lines are re-read",
          "[ocr]") {
  CLIPMATCH_REQUIRE_OCR();
  TempDir dir;
  std::vector<std::string> paths;
  for (const char* word : {"HARBOR", "GARDEN", "THIEF"}) {
    paths.push_back((dir / (std::string(word) + ".png")).string());
    write_poster(paths.back(), {word}, eval::Rgb{240, 240, 240});
  }
  OcrOptions options;
  options.cache_dir = (dir / "cache").string();
  ocr::ReadStats first, second, third;
  const auto texts = ocr::read_posters(paths, options, false, &first);
  CHECK(first.posters_read == 3);
  CHECK(first.cache_hits == 0);
  const auto again = ocr::read_posters(paths, options, false, &second);
  CHECK(second.posters_read == 0);
  CHECK(second.cache_hits == 3);
  for (std::size_t i = 0; i < texts.size(); ++i) CHECK(again[i].text() == texts[i].text());

  write_poster(paths[1], {"CASTLE"}, eval::Rgb{240, 240, 240});  // poster 1 now prints another word
  const auto changed = ocr::read_posters(paths, options, false, &third);
  CHECK(third.posters_read == 1);
  CHECK(third.cache_hits == 2);
  CHECK(lower_words(changed[1]).count("castle") == 1);

  // Another reading setting is another cache file: nothing is shared.
  OcrOptions other = options;
  other.title_bands = false;
  ocr::ReadStats fresh;
  ocr::read_posters(paths, other, false, &fresh);
  CHECK(fresh.posters_read == 3);

  // A damaged line (a truncated write of an older tool, a flipped byte) is dropped and that poster read again.
  const ocr::OcrCache cache(options.cache_dir, ocr::reading_settings(options));
  auto content = test::read_all(cache.file());
  const auto line = content.find("{\"key\":\"" + cache::hash_file(paths[0]).hex());
  REQUIRE(line != std::string::npos);
  content.replace(line, 20, "{\"key\": \"not a key\"");
  test::write_all(cache.file(), content);
  ocr::ReadStats repaired;
  ocr::read_posters(paths, options, false, &repaired);
  CHECK(repaired.posters_read == 1);
  CHECK(repaired.cache_hits == 2);
}

TEST_CASE("OCR: a cancelled reading keeps what it read for the next run", "[ocr]") {
  CLIPMATCH_REQUIRE_OCR();
  TempDir dir;
  std::vector<std::string> paths;
  for (const char* word : {"HARBOR", "GARDEN", "THIEF", "CASTLE", "DESERT", "PIRATE"}) {
    paths.push_back((dir / (std::string(word) + ".png")).string());
    write_poster(paths.back(), {word}, eval::Rgb{240, 240, 240});
  }
  OcrOptions options;
  options.cache_dir = (dir / "cache").string();
  options.threads = 1;  // one poster at a time: the cancel lands after exactly two
  std::size_t calls = 0;
  const auto stop_after_two = [&](const std::string& stage, std::size_t done, std::size_t) {
    CHECK(stage == "read posters");
    ++calls;
    return done < 2;
  };
  try {
    read_poster_text(paths, options, stop_after_two);
    FAIL("the reading was not cancelled");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Cancelled);
  }
  CHECK(calls >= 2);
  ocr::ReadStats rerun;
  ocr::read_posters(paths, options, false, &rerun);
  CHECK(rerun.cache_hits == 2);
  CHECK(rerun.posters_read == 4);
}

TEST_CASE("OCR refuses bad settings and names the unreadable poster", "[ocr]") {
  OcrOptions options;
  options.page_modes = {2};
  CHECK_THROWS_AS(read_poster_text({}, options), Error);
  options.page_modes = {11};
  options.min_height = 0;
  CHECK_THROWS_AS(read_poster_text({}, options), Error);
  CLIPMATCH_REQUIRE_OCR();
  TempDir dir;
  const auto bad = dir / "broken.jpg";
  test::write_all(bad, "not a jpeg");
  try {
    read_poster_text({bad.string()}, OcrOptions{});
    FAIL("a corrupt poster was read");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("broken.jpg") != std::string::npos);
  }
}

TEST_CASE("fusion: where posters look alike, the printed text alone finds each intro", "[ocr]") {
  CLIPMATCH_REQUIRE_OCR();
  TempDir dir;
  // Four movies whose posters look the same to the visual model (identical embeddings) but print their titles.
  const std::vector<std::string> titles{"HARBOR", "GARDEN", "THIEF", "EXPRESS"};
  const std::vector<std::string> intros{
      "A fisherman guards the old harbor from smugglers.", "Two sisters restore a walled garden in the hills.",
      "A retired thief plans one last job in the city.", "Strangers share a sleeper car on the night express."};
  std::vector<std::string> posters;
  for (const auto& title : titles) {
    posters.push_back((dir / (title + ".png")).string());
    write_poster(posters.back(), {title}, eval::Rgb{230, 225, 210});
  }
  const auto channel = model::build_text_channel(posters, intros, OcrOptions{}, false);
  const auto visual = torch::ones({4, 8}) / std::sqrt(8.0);  // every poster and intro the same embedding

  const auto alone = eval::match_ranks(visual, visual);
  CHECK(std::count(alone.poster_to_intro.begin(), alone.poster_to_intro.end(), 1) == 1);  // only the tie-break

  const auto fused = model::fuse(visual, visual, channel.vectors, 0.5);
  const auto ranks = eval::match_ranks(fused.posters, fused.intros);
  CHECK(ranks.poster_to_intro == std::vector<std::int64_t>{1, 1, 1, 1});
  CHECK(ranks.intro_to_poster == std::vector<std::int64_t>{1, 1, 1, 1});
  // The fused similarity is exactly cos + w·bm25.
  const auto expected = torch::matmul(visual, visual.t()) +
                        0.5 * torch::matmul(channel.vectors.queries, channel.vectors.documents.t());
  CHECK(torch::allclose(torch::matmul(fused.posters, fused.intros.t()), expected, 1e-5, 1e-6));

  std::vector<model::FusionTrial> trials;
  const double weight = model::learn_fusion_weight(visual, visual, channel.vectors, &trials);
  CHECK(weight > 0);
  CHECK(trials.front().weight == 0);
  CHECK(trials.front().mean_r1 == 0.25);
  CHECK(std::any_of(trials.begin(), trials.end(), [](const auto& t) { return t.mean_r1 == 1.0; }));
}

TEST_CASE("train --ocr learns the fusion weight on a calibration slice, saves it, and evaluate uses it", "[ocr]") {
  CLIPMATCH_REQUIRE_OCR();
  TempDir dir;
  const std::vector<std::string> words{"HARBOR", "GARDEN", "THIEF",  "EXPRESS", "CASTLE", "DESERT", "PIRATE", "ROBOT",
                                       "JUNGLE", "CIRCUS", "WINTER", "VAMPIRE", "SHERIFF", "ORCHARD", "PILOT", "GHOST"};
  Dataset data;
  data.root = dir.path().string();
  for (std::size_t i = 0; i < words.size(); ++i) {
    Movie movie;
    movie.poster = (dir / (words[i] + ".png")).string();
    write_poster(movie.poster, {words[i]}, eval::Rgb{static_cast<std::uint8_t>(200 + 3 * i), 220, 210});
    std::string lower = words[i];
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    movie.intro = "A story about the " + lower + " and the people near it.";
    movie.title = words[i];
    movie.row = i;
    data.movies.push_back(movie);
    if (i < 12) data.train.push_back(i);
  }
  ModelConfig config;
  config.embed_dim = 16;
  auto model = Model::create(config, Device::Cpu);
  TrainOptions options;
  options.run_dir = (dir / "run").string();
  options.epochs = 2;
  options.batch_size = 4;
  options.ocr.enabled = true;
  options.ocr.calibration_fraction = 0.34;  // 4 of the 12 training rows
  const auto report = model.train(data, options);
  CHECK(report.calibration_rows.size() == 4);
  for (const auto row : report.calibration_rows) CHECK(row < 12);
  CHECK(report.fusion_weight > 0);  // the text is what tells these posters apart
  CHECK(model.fusion_weight() == report.fusion_weight);
  CHECK(report.posters_read + report.ocr_cache_hits == words.size());

  const auto loaded = Model::load(options.run_dir, Device::Cpu);
  CHECK(loaded.fusion_weight() == report.fusion_weight);
  EvalOptions eval_options;
  eval_options.ocr.enabled = true;
  eval_options.ocr.cache_dir = report.cache_dir;
  const auto out = dir / "eval";
  const auto fused = loaded.evaluate(data, out.string(), eval_options);
  CHECK(fused.fusion_weight == report.fusion_weight);
  CHECK(fused.posters_read == 0);  // the training run's OCR cache served every poster
  std::string read;
  for (const auto& text : fused.poster_text) read += " [" + text.text() + "]";
  INFO("fusion weight " << fused.fusion_weight << "; posters read as" << read);
  CHECK(fused.splits.at("heldout").poster_to_intro.r1 == 1.0);
  CHECK(fused.splits.at("heldout").intro_to_poster.r1 == 1.0);
  const auto visual = loaded.evaluate(data, "", EvalOptions{});
  CHECK(visual.fusion_weight < 0);
  CHECK(visual.splits.at("heldout").poster_to_intro.r1 < 1.0);
  const auto csv = test::read_all(out / "topk.csv");
  CHECK(csv.rfind("row,title,poster_text,poster_rank,intro_rank", 0) == 0);
  CHECK(csv.find("HARBOR,HARBOR,") != std::string::npos);
}
