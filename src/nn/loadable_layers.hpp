// Linear and Embedding layers that a checkpoint fills without paying for the random draws it overwrites.
//
// LibTorch's own layers draw their initial weights in the constructor, from the default CPU generator, one
// number at a time: for ViT-B/16 + BERT-base that is 196 million draws, about 0.7 s of a 1 s model load on the
// 2-core CI machine, all thrown away when the Hugging Face weights are copied in. These layers make the same
// draws in the same order (a seeded model without a checkpoint is unchanged), except inside a
// SkipInitialDraws scope, where parameters are only allocated. Loaders open that scope only around modules
// they then load strictly, which fails on any parameter the checkpoint lacks: nothing uninitialised survives.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace clipmatch::nn {

/// While one lives on this thread, LinearLayer and EmbeddingTable allocate their parameters without drawing
/// initial values. Scopes nest.
class SkipInitialDraws {
 public:
  SkipInitialDraws();
  ~SkipInitialDraws();
  SkipInitialDraws(const SkipInitialDraws&) = delete;
  SkipInitialDraws& operator=(const SkipInitialDraws&) = delete;

  /// Whether a scope is open on this thread.
  static bool active();
};

/// torch::nn::Linear's parameters ("weight" [out, in], "bias" [out]) and initialisation.
class LinearLayerImpl : public torch::nn::Cloneable<LinearLayerImpl> {
 public:
  LinearLayerImpl(std::int64_t in_features, std::int64_t out_features, bool with_bias = true);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x) { return torch::linear(x, weight, bias); }

  torch::Tensor weight, bias;

 private:
  std::int64_t in_features_, out_features_;
  bool with_bias_;
};
TORCH_MODULE(LinearLayer);

/// torch::nn::Embedding's parameter ("weight" [rows, dim], standard normal) without padding_idx or max_norm.
class EmbeddingTableImpl : public torch::nn::Cloneable<EmbeddingTableImpl> {
 public:
  EmbeddingTableImpl(std::int64_t rows, std::int64_t dim);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& ids) { return torch::embedding(weight, ids); }

  torch::Tensor weight;

 private:
  std::int64_t rows_, dim_;
};
TORCH_MODULE(EmbeddingTable);

}  // namespace clipmatch::nn
