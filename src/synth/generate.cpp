// synthesize_dataset: samples scenes, draws and encodes the posters, writes the intros and the split.
#include <clipmatch/dataset.hpp>
#include <clipmatch/synth.hpp>

#include "core/fail.hpp"
#include "core/progress.hpp"
#include "io/atomic_file.hpp"
#include "synth/intro.hpp"
#include "synth/rasterize.hpp"
#include "synth/scene.hpp"
#include "synth/title.hpp"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>

namespace clipmatch {

namespace fs = std::filesystem;

namespace {

void validate(const SynthOptions& options) {
  if (options.out.empty()) fail(ErrorKind::InvalidArgument, "synth: the output folder is empty");
  if (options.n == 0 || options.n > 1'000'000) {
    fail(ErrorKind::InvalidArgument, "synth: n must be in [1, 1000000], got {}", options.n);
  }
  if (options.width < 16 || options.height < 16 || options.width > 4096 || options.height > 4096) {
    fail(ErrorKind::InvalidArgument, "synth: poster size must be within 16..4096 px per side, got {}x{}",
         options.width, options.height);
  }
  if (!(options.train_fraction >= 0.0 && options.train_fraction <= 1.0)) {
    fail(ErrorKind::InvalidArgument, "synth: train_fraction must be in [0, 1], got {}", options.train_fraction);
  }
  if (options.jpeg_quality < 1 || options.jpeg_quality > 100) {
    fail(ErrorKind::InvalidArgument, "synth: jpeg_quality must be in [1, 100], got {}", options.jpeg_quality);
  }
}

std::string encode_jpeg(const synth::RgbImage& image, int quality, const std::string& name) {
  std::string bytes;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  };
  if (stbi_write_jpg_to_func(append, &bytes, image.width, image.height, 3, image.pixels.data(), quality) == 0) {
    fail(ErrorKind::Internal, "{}: JPEG encoding failed", name);
  }
  return bytes;
}

/// A seeded choice of round(n · fraction) rows, ascending.
std::vector<std::size_t> choose_train(std::size_t n, double fraction, std::uint64_t seed) {
  synth::Rng rng(synth::stream_seed(seed, std::uint64_t{1} << 62));
  std::vector<std::size_t> rows(n);
  for (std::size_t i = 0; i < n; ++i) rows[i] = i;
  const auto count = static_cast<std::size_t>(std::llround(static_cast<double>(n) * fraction));
  for (std::size_t i = 0; i < count; ++i) std::swap(rows[i], rows[i + rng.below(n - i)]);
  rows.resize(count);
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::size_t vocabulary_size(const std::vector<Movie>& movies) {
  std::set<std::string> words;
  for (const Movie& movie : movies) {
    std::string word;
    for (char c : movie.intro + " ") {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else if (!word.empty()) {
        words.insert(word);
        word.clear();
      }
    }
  }
  return words.size();
}

}  // namespace

SynthReport synthesize_dataset(const SynthOptions& options) {
  validate(options);
  const auto start = std::chrono::steady_clock::now();
  const fs::path root = fs::absolute(options.out).lexically_normal();
  std::error_code ec;
  fs::create_directories(root / "posters", ec);
  if (ec) fail(ErrorKind::Io, "{}: cannot create folder: {}", (root / "posters").string(), ec.message());

  Dataset dataset;
  dataset.root = root.string();
  Progress progress("synthesize posters", options.n, options.show_progress);
  for (std::size_t i = 0; i < options.n; ++i) {
    // Each movie draws from its own stream, so movie i does not depend on how the others were drawn.
    synth::Rng rng(synth::stream_seed(options.seed, i));
    const synth::Scene scene = synth::sample_scene(rng);
    Movie movie;
    movie.row = i;
    movie.movie_id = std::to_string(i + 1);
    movie.intro = synth::describe_scene(scene, rng);
    movie.title = synth::make_title(rng);
    movie.year = rng.between(1950, 2025);
    movie.genres = synth::scene_genres(scene);
    movie.poster = fmt::format("posters/{:06}.jpg", i + 1);
    const synth::RgbImage image = synth::rasterize(scene, options.width, options.height);
    // Atomic, so an interrupted run never leaves a truncated poster behind under a valid name.
    const auto jpeg = encode_jpeg(image, options.jpeg_quality, (root / movie.poster).string());
    io::write_bytes_atomically(root / movie.poster, jpeg.data(), jpeg.size());
    dataset.movies.push_back(std::move(movie));
    progress.advance();
  }
  progress.finish();
  dataset.train = choose_train(options.n, options.train_fraction, options.seed);
  save_dataset(root.string(), dataset);

  std::set<std::string> intros;
  for (const Movie& movie : dataset.movies) intros.insert(movie.intro);
  SynthReport report;
  report.folder = root.string();
  report.movies = dataset.movies.size();
  report.train = dataset.train.size();
  report.distinct_intros = intros.size();
  report.vocabulary = vocabulary_size(dataset.movies);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace clipmatch
