// Starts a process that uses LibTorch and sentencepiece together (placeholder until the sentencepiece
// wrapper lands: it checks LibTorch alone).
#include <torch/torch.h>

#include <iostream>

int main() {
  const auto sum = torch::ones({4, 4}).matmul(torch::ones({4, 4})).sum().item<float>();
  if (sum != 64.0f) return 1;
  std::cout << "startup ok\n";
  return 0;
}
