// match_posters — the C++ API end to end, on an installed clipmatch.
//
//   match_posters [DATASET_DIR]
//
// DATASET_DIR is a folder with movies.csv (+ train.txt); without it, a small synthetic dataset (120 drawn
// posters with intros describing them) is written into a temporary folder. The program trains a small model
// from scratch for a few epochs on the CPU, lists the three nearest intros of the first three posters, and
// checks that a poster handed over as bytes in memory encodes exactly like the same poster read from its file.
// Everything it writes goes into one temporary folder that is removed at the end.
// Exit status: 0 when everything worked and checked out, 1 otherwise.
#include <clipmatch/dataset.hpp>
#include <clipmatch/error.hpp>
#include <clipmatch/log.hpp>
#include <clipmatch/model.hpp>
#include <clipmatch/names.hpp>
#include <clipmatch/search.hpp>
#include <clipmatch/synth.hpp>
#include <clipmatch/version.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

// A new folder under the system's temporary directory, removed again when the object goes away (also when an
// exception unwinds the stack), so the example leaves nothing behind.
class TempFolder {
 public:
  TempFolder() {
    std::random_device random;
    for (int attempt = 0; attempt < 100 && path_.empty(); ++attempt) {
      const fs::path candidate = fs::temp_directory_path() / ("clipmatch-example-" + std::to_string(random()));
      if (fs::create_directory(candidate)) path_ = candidate;  // false: the name was taken, try another
    }
    if (path_.empty()) throw std::runtime_error("cannot create a temporary folder");
  }
  ~TempFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The first `n` bytes of a UTF-8 text, cut at a character boundary.
std::string shorten(const std::string& text, std::size_t n) {
  if (text.size() <= n) return text;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n) + "...";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2) {
    std::cerr << "usage: " << argv[0] << " [DATASET_DIR]\n";
    return 1;
  }
  // A host program usually routes the library's messages (progress lines, one line per epoch) into its own
  // log instead of standard error; here they are only prefixed. The sink is process-wide.
  clipmatch::set_log_callback([](clipmatch::LogLevel level, const std::string& message) {
    std::cout << "[clipmatch " << clipmatch::to_name(level) << "] " << message << "\n";
  });
  int status = 1;
  try {
    std::cout << "clipmatch " << clipmatch::version() << "\n";
    TempFolder scratch;

    std::string dataset_dir;
    if (argc == 2) {
      dataset_dir = argv[1];
    } else {
      clipmatch::SynthOptions synth;
      synth.out = (scratch.path() / "data").string();
      synth.n = 120;
      synth.seed = 7;
      const clipmatch::SynthReport made = clipmatch::synthesize_dataset(synth);
      std::cout << "synthesized " << made.movies << " movies (" << made.train << " for training) in " << made.folder
                << "\n";
      dataset_dir = made.folder;
    }
    const clipmatch::Dataset data = clipmatch::load_dataset(dataset_dir);
    if (data.movies.empty()) throw std::runtime_error(dataset_dir + ": the dataset has no movies");

    // Small from-scratch encoders on the CPU: no pretrained weights to download, a few seconds per epoch.
    clipmatch::ModelConfig config;
    config.image_encoder = clipmatch::EncoderSpec::parse("tiny_cnn");
    config.text_encoder = clipmatch::EncoderSpec::parse("tiny_text");
    config.embed_dim = 32;
    config.seed = 1;
    clipmatch::Model model = clipmatch::Model::create(config, clipmatch::Device::Cpu);

    // Six optimisation steps on 72 training movies: enough to show the API, far too few to learn the task (the
    // neighbours below are still close to chance); `clipmatch demo` trains long enough to see it work.
    clipmatch::TrainOptions train;
    train.run_dir = (scratch.path() / "run").string();  // checkpoints and epochs.jsonl go here
    train.epochs = 3;
    train.batch_size = 32;
    train.freeze = clipmatch::FreezeMode::Full;  // encoders trained from scratch must learn too, not only the heads
    train.learning_rate = 2e-3;
    train.encoder_learning_rate = 2e-3;
    train.verbose = true;  // one line per epoch, delivered to the log callback above
    // Called for every step, so it prints only a few of them. Returning false would cancel the training
    // (train() then throws clipmatch::Error of kind Cancelled and the model keeps its best epoch so far).
    train.progress = [](const std::string& stage, std::size_t done, std::size_t total) {
      const std::size_t quarter = std::max<std::size_t>(1, total / 4);
      if (done == total || done % quarter == 0) std::cout << "progress: " << stage << " " << done << "/" << total << "\n";
      return true;
    };
    const clipmatch::TrainReport trained = model.train(data, train);
    std::cout << "trained " << trained.epochs_run << " epochs in " << trained.seconds << " s; best epoch "
              << trained.best_epoch << ", held-out R@1 " << trained.best_heldout_r1 << "\n";

    // Embed every poster and every intro; then, for each of the first three posters, find the three intros
    // nearest to it. top_k never builds the full poster × intro matrix, so this scales to large catalogs.
    std::vector<std::string> posters, intros;
    for (const clipmatch::Movie& movie : data.movies) {
      posters.push_back(movie.poster);
      intros.push_back(movie.intro);
    }
    const clipmatch::Embeddings poster_embeddings = model.encode_posters(posters);
    const clipmatch::Embeddings intro_embeddings = model.encode_intros(intros);
    const auto shown = static_cast<Eigen::Index>(std::min<std::size_t>(3, data.movies.size()));
    const clipmatch::TopK nearest = clipmatch::top_k(poster_embeddings.topRows(shown), intro_embeddings, 3);
    for (Eigen::Index q = 0; q < shown; ++q) {
      std::cout << "poster " << q << " (\"" << data.movies[static_cast<std::size_t>(q)].title << "\"), nearest intros:\n";
      for (Eigen::Index r = 0; r < nearest.indices.cols(); ++r) {
        const std::int64_t j = nearest.indices(q, r);
        if (j < 0) break;  // the dataset has fewer intros than asked for
        std::cout << "  " << r + 1 << ". distance " << nearest.distances(q, r) << "  "
                  << shorten(data.movies[static_cast<std::size_t>(j)].intro, 70) << (j == q ? "  <- its own intro" : "")
                  << "\n";
      }
    }

    // A poster that arrives over the network or from an archive need not be written to a file first: its
    // encoded bytes give the same embedding as the file.
    const std::vector<std::uint8_t> bytes = read_file(posters.front());
    const clipmatch::Embeddings from_file = model.encode_posters({posters.front()});
    const clipmatch::Embeddings from_bytes =
        model.encode_poster_bytes({clipmatch::EncodedImage{bytes.data(), bytes.size()}});
    const float difference = (from_file - from_bytes).cwiseAbs().maxCoeff();
    const bool same = from_file.rows() == 1 && from_bytes.rows() == 1 && difference <= 1e-6f;
    std::cout << "bytes == file: " << (same ? "yes" : "no") << " (largest difference " << difference << ")\n";
    status = same ? 0 : 1;
  } catch (const clipmatch::Error& e) {
    // Library errors already name what went wrong and where (file, row, argument).
    std::cerr << "clipmatch error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
  }
  clipmatch::set_log_callback({});  // back to standard error
  return status;
}
