#include "nn/loadable_layers.hpp"

#include <cmath>

namespace clipmatch::nn {

namespace {

thread_local int skip_depth = 0;

}  // namespace

SkipInitialDraws::SkipInitialDraws() { ++skip_depth; }
SkipInitialDraws::~SkipInitialDraws() { --skip_depth; }
bool SkipInitialDraws::active() { return skip_depth > 0; }

LinearLayerImpl::LinearLayerImpl(std::int64_t in_features, std::int64_t out_features, bool with_bias)
    : in_features_(in_features), out_features_(out_features), with_bias_(with_bias) {
  reset();
}

// The draws of LibTorch's LinearImpl::reset_parameters, in its order.
void LinearLayerImpl::reset() {
  weight = register_parameter("weight", torch::empty({out_features_, in_features_}));
  bias = with_bias_ ? register_parameter("bias", torch::empty({out_features_})) : torch::Tensor();
  if (SkipInitialDraws::active()) return;
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features_));
    torch::nn::init::uniform_(bias, -bound, bound);
  }
}

EmbeddingTableImpl::EmbeddingTableImpl(std::int64_t rows, std::int64_t dim) : rows_(rows), dim_(dim) { reset(); }

void EmbeddingTableImpl::reset() {
  weight = register_parameter("weight", torch::empty({rows_, dim_}));
  if (SkipInitialDraws::active()) return;
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(weight);
}

}  // namespace clipmatch::nn
