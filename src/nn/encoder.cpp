#include "nn/encoder.hpp"

#include "core/fail.hpp"
#include "nn/weight_loader.hpp"  // shape_string


namespace clipmatch::nn {

namespace {

void check_top_k(std::int64_t top_k, std::int64_t blocks, const char* encoder) {
  if (top_k < 0 || top_k >= blocks) {
    fail(ErrorKind::InvalidArgument,
         "{}: split forward needs 0 <= top_k < num_blocks() = {}, got top_k = {} (top_k >= num_blocks() trains "
         "the whole encoder, leaving no frozen part to encode once)",
         encoder, blocks, top_k);
  }
}

}  // namespace

void ImageEncoderImpl::check_split(std::int64_t top_k, const char* encoder) const {
  check_top_k(top_k, num_blocks(), encoder);
}

torch::Tensor ImageEncoderImpl::forward_lower(const torch::Tensor& pixel_values, std::int64_t top_k) {
  check_split(top_k, name().c_str());
  if (top_k != 0) {
    fail(ErrorKind::Unsupported, "{}: no split forward for top_k = {}; only top_k = 0 (cached final features)",
         name(), top_k);
  }
  return forward(pixel_values).contiguous();  // may be a view (a CLS row); cached as a plain tensor
}

torch::Tensor ImageEncoderImpl::forward_upper(const torch::Tensor& lower, std::int64_t top_k) {
  check_split(top_k, name().c_str());
  if (top_k != 0) {
    fail(ErrorKind::Unsupported, "{}: no split forward for top_k = {}; only top_k = 0 (cached final features)",
         name(), top_k);
  }
  return lower;
}

void TextEncoderImpl::check_split(std::int64_t top_k, const char* encoder) const {
  check_top_k(top_k, num_blocks(), encoder);
}

torch::Tensor TextEncoderImpl::forward_lower(const text::TokenBatch& batch, std::int64_t top_k) {
  check_split(top_k, name().c_str());
  if (top_k != 0) {
    fail(ErrorKind::Unsupported, "{}: no split forward for top_k = {}; only top_k = 0 (cached final features)",
         name(), top_k);
  }
  return forward(batch).contiguous();
}

torch::Tensor TextEncoderImpl::forward_upper(const torch::Tensor& lower, const torch::Tensor& /*attention_mask*/,
                                             std::int64_t top_k) {
  check_split(top_k, name().c_str());
  if (top_k != 0) {
    fail(ErrorKind::Unsupported, "{}: no split forward for top_k = {}; only top_k = 0 (cached final features)",
         name(), top_k);
  }
  return lower;
}

void check_split_hidden(const torch::Tensor& hidden, const torch::Tensor& attention_mask, std::int64_t hidden_size,
                        const char* encoder) {
  if (hidden.dim() != 3 || hidden.size(2) != hidden_size) {
    fail(ErrorKind::InvalidArgument, "{}: forward_upper needs hidden states [B, T, {}], got {}", encoder, hidden_size,
         shape_string(hidden.sizes()));
  }
  if (attention_mask.defined() && (attention_mask.dim() != 2 || attention_mask.size(0) != hidden.size(0) ||
                                   attention_mask.size(1) != hidden.size(1))) {
    fail(ErrorKind::InvalidArgument,
         "{}: forward_upper's attention_mask must be [{}, {}] like the hidden states, got {}", encoder,
         hidden.size(0), hidden.size(1), shape_string(attention_mask.sizes()));
  }
}

}  // namespace clipmatch::nn
