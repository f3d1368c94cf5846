// A bare process that uses LibTorch and sentencepiece together: trains a tiny SentencePiece model through the
// privately loaded shim, encodes a sentence, then runs a LibTorch matmul. Crashing before main, aborting on
// the model load (protobuf clash) or printing anything but "startup ok" last fails the test.
#include "text/sentencepiece_tokenizer.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <random>

int main() {
  namespace fs = std::filesystem;
  std::random_device device;
  const fs::path dir = fs::temp_directory_path() / ("clipmatch-startup-" + std::to_string(device()));
  fs::create_directories(dir);
  int status = 1;
  try {
    std::vector<std::string> texts;
    for (int i = 0; i < 50; ++i) {
      texts.push_back("a detective investigates a case of murder in the city " + std::to_string(i));
      texts.push_back("two lovers meet on a train and talk through the night");
    }
    const std::string model_path = (dir / "probe.model").string();
    clipmatch::text::train_sentencepiece(texts, model_path, 60);
    const clipmatch::text::SentencePieceTokenizer tokenizer(model_path);
    const auto ids = tokenizer.encode("a detective meets two lovers", 0);
    const auto product = torch::ones({4, 4}).matmul(torch::ones({4, 4})).sum().item<float>();
    std::cout << "sentencepiece ids " << ids.size() << ", matmul " << product << "\n";
    if (ids.size() > 2 && product == 64.0f) {
      std::cout << "startup ok\n";
      status = 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "startup probe failed: " << e.what() << "\n";
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return status;
}
