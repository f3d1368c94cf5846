#include "model/projection_head.hpp"

#include "core/fail.hpp"

namespace clipmatch::model {

ProjectionHeadImpl::ProjectionHeadImpl(std::int64_t in_features, std::int64_t out_features, HeadKind kind,
                                       std::int64_t hidden, bool identity)
    : out_features_(identity ? in_features : out_features) {
  if (in_features <= 0 || out_features_ <= 0 || (kind == HeadKind::Mlp && hidden <= 0)) {
    fail(ErrorKind::InvalidArgument, "projection head: bad sizes (in {}, out {}, hidden {})", in_features,
         out_features, hidden);
  }
  layers_ = torch::nn::Sequential();
  if (!identity) {
    if (kind == HeadKind::Linear) {
      layers_->push_back(torch::nn::Linear(in_features, out_features));
    } else {
      layers_->push_back(torch::nn::Linear(in_features, hidden));
      layers_->push_back(torch::nn::GELU());
      layers_->push_back(torch::nn::Linear(hidden, out_features));
    }
  }
  register_module("layers", layers_);
}

torch::Tensor ProjectionHeadImpl::forward(const torch::Tensor& features) {
  return layers_->is_empty() ? features : layers_->forward(features);
}

}  // namespace clipmatch::model
