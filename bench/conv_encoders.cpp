// Throughput of the convolutional image encoders on CPU/GPU at batch 32, 224x224: the plain module path
// (NCHW, BatchNorm as its own op), the module path with channels-last tensors, and the fast path
// (BatchNorm folded into channels-last convolutions). Prints img/s and the fast path's max deviation.
//
//   bench_conv_encoders [--iterations N] [--batch B] [--cuda]
#include "nn/conv_factory.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

using namespace clipmatch;

namespace {

std::filesystem::path shared_root() {
  if (const char* env = std::getenv("CLIPMATCH_SHARED")) return env;
  return CLIPMATCH_DEFAULT_SHARED_DIR;
}

void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }
}

double images_per_second(const std::function<torch::Tensor()>& step, int iterations, std::int64_t batch,
                         bool cuda) {
  step();  // warm-up: allocations, oneDNN primitive creation, folding
  if (cuda) torch::cuda::synchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) step();
  if (cuda) torch::cuda::synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(batch) * iterations / seconds;
}

template <typename Model>
void bench(const std::string& name, Model model, int iterations, std::int64_t batch, bool cuda) {
  torch::Device device = cuda ? torch::kCUDA : torch::kCPU;
  model->to(device);
  model->eval();
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const torch::Tensor x = torch::randn({batch, 3, 224, 224}).to(device);

  model->set_fast_inference(false);
  const torch::Tensor reference = model->forward(x);
  const double plain = images_per_second([&] { return model->forward(x); }, iterations, batch, cuda);

  model->set_fast_inference(true);
  const torch::Tensor fused = model->forward(x);
  const double fast = images_per_second([&] { return model->forward(x); }, iterations, batch, cuda);

  to_channels_last(*model);
  model->set_fast_inference(false);
  const torch::Tensor x_last = x.contiguous(at::MemoryFormat::ChannelsLast);
  const double last = images_per_second([&] { return model->forward(x_last); }, iterations, batch, cuda);

  fmt::print("{:<34} batch {:>3}: module NCHW {:7.1f} img/s | module channels-last {:7.1f} img/s | "
             "fast (folded, channels-last) {:7.1f} img/s  ({:.2f}x)  max |Δ| {:.2e}\n",
             name, batch, plain, last, fast, fast / plain, (fused - reference).abs().max().item<double>());
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 3;
  std::int64_t batch = 32;
  bool cuda = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--iterations" && i + 1 < argc) iterations = std::atoi(argv[++i]);
    else if (arg == "--batch" && i + 1 < argc) batch = std::atoll(argv[++i]);
    else if (arg == "--cuda") cuda = true;
    else {
      fmt::print(stderr, "usage: {} [--iterations N] [--batch B] [--cuda]\n", argv[0]);
      return 2;
    }
  }
  if (cuda && !torch::cuda::is_available()) {
    fmt::print(stderr, "--cuda: no CUDA device\n");
    return 2;
  }
  fmt::print("LibTorch threads {}, mkldnn {}, device {}\n", at::get_num_threads(),
             at::hasMKLDNN() ? "yes" : "no", cuda ? "cuda" : "cpu");
  try {
    const auto mobilenet = shared_root() / "weights/mobilenet_v2_imagenet";
    bench("MobileNetV2 1.0 (ImageNet weights)",
          std::filesystem::exists(mobilenet) ? nn::load_mobilenet_v2(mobilenet.string())
                                             : nn::MobileNetV2(nn::MobileNetV2Config{}),
          iterations, batch, cuda);
    const auto fixture = shared_root() / "fixtures/torchvision/resnet_bottleneck_1111_w16";
    if (std::filesystem::exists(fixture)) {
      bench("ResNet fixture (1-1-1-1, w16)", nn::load_resnet(fixture.string()), iterations, batch, cuda);
    }
    bench("ResNet-50 (random weights)", nn::ResNet(nn::ResNetConfig::resnet50()), iterations, batch, cuda);
  } catch (const std::exception& error) {
    fmt::print(stderr, "error: {}\n", error.what());
    return 1;
  }
  return 0;
}
