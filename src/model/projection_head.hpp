// The trainable map from an encoder's feature space into the shared embedding space.
#pragma once

#include <clipmatch/model.hpp>

#include <torch/torch.h>

namespace clipmatch::model {

/// Linear → embed_dim (the course model), or Linear → GELU → Linear (MLP), or the identity (CLIP towers
/// used with their own pretrained projections). Output is not normalised; the model L2-normalises it.
class ProjectionHeadImpl : public torch::nn::Module {
 public:
  ProjectionHeadImpl(std::int64_t in_features, std::int64_t out_features, HeadKind kind, std::int64_t hidden,
                     bool identity);
  torch::Tensor forward(const torch::Tensor& features);
  std::int64_t out_features() const { return out_features_; }

 private:
  std::int64_t out_features_;
  torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(ProjectionHead);

}  // namespace clipmatch::model
