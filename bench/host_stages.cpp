// Host-side stages that feed the encoders, alone: JPEG decoding, resize + normalise to the model input, and
// WordPiece tokenisation to BERT's 128 tokens, each on 1 thread and on every pool thread.
//
// Why: on a GPU these run on the CPU while the encoders run on the chip, so they cap end-to-end throughput
// (an H200 encodes ~8,600 ViT-B/16 images/s and ~14,000 BERT-base intros/s in bf16). A figure here below the
// encoder's says the host, not the GPU, limits `clipmatch bench --device cuda`.
//
//   bench_host_stages DATASET_DIR VOCAB_TXT [--limit N] [--json OUT]
// Prints one JSON object: items/s per stage and thread count.
#include "core/thread_pool.hpp"
#include "io/image_impl.hpp"
#include "text/wordpiece.hpp"

#include <clipmatch/dataset.hpp>
#include <clipmatch/image.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

using namespace clipmatch;

namespace {

double items_per_second(std::size_t items, const std::function<void()>& work, int repeat = 3) {
  work();  // warm-up: file cache, allocator, vocabulary hash table
  double best = 0;
  for (int i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (i == 0 || s < best) best = s;
  }
  return static_cast<double>(items) / best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: bench_host_stages DATASET_DIR VOCAB_TXT [--limit N] [--json OUT]\n";
    return 2;
  }
  std::size_t limit = 1024;
  std::string json_path;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--limit") limit = std::stoul(argv[i + 1]);
    else if (flag == "--json") json_path = argv[i + 1];
  }
  try {
    const auto data = load_dataset(argv[1]);
    std::vector<std::string> paths, intros;
    for (std::size_t i = 0; i < data.movies.size() && i < limit; ++i) {
      paths.push_back(data.movies[i].poster);
      intros.push_back(data.movies[i].intro);
    }
    const auto tokenizer = text::WordPieceTokenizer::from_vocab_file(argv[2]);
    const auto vit = ImagePreprocess::vit();
    std::vector<Image> decoded;
    for (const auto& path : paths) decoded.push_back(decode_image_file(path));

    nlohmann::ordered_json out;
    out["items"] = paths.size();
    out["pool_threads"] = ThreadPool::shared().size() + 1;
    for (const auto& [label, pool] : {std::pair{"1_thread", static_cast<ThreadPool*>(nullptr)},
                                      std::pair{"all_threads", &ThreadPool::shared()}}) {
      nlohmann::ordered_json figures;
      const auto run = [&](std::size_t n, const std::function<void(std::size_t)>& fn) {
        if (pool == nullptr) {
          for (std::size_t i = 0; i < n; ++i) fn(i);
        } else {
          pool->parallel_for(n, fn);
        }
      };
      figures["decode_jpeg_per_s"] = items_per_second(paths.size(), [&] {
        run(paths.size(), [&](std::size_t i) { (void)decode_image_file(paths[i]); });
      });
      figures["resize_normalise_224_per_s"] = items_per_second(decoded.size(), [&] {
        run(decoded.size(), [&](std::size_t i) { (void)io::to_tensor_batch({decoded[i]}, vit); });
      });
      figures["wordpiece_128_per_s"] = items_per_second(intros.size(), [&] {
        run(intros.size(), [&](std::size_t i) { (void)tokenizer.encode(intros[i], 128); });
      });
      out[label] = figures;
    }
    const auto text = out.dump(2);
    std::cout << text << "\n";
    if (!json_path.empty()) std::ofstream(json_path) << text << "\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_host_stages: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
