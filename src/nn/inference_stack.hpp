// Reduced-precision inference of a TransformerStack (Precision::Bf16 and Precision::Int8).
//
// Why a separate path: the fp32 modules stay the parity-tested reference and the trainable weights. For
// inference the stack is rebuilt from them as a few fused operations per block: one QKV projection instead
// of three, bf16 attention (scores and softmax are a third of a ViT block's time in fp32 on CPU), and the
// Linear layers either in bf16 (oneDNN bf16 GEMM) or as int8 weights quantised per output channel with the
// activations quantised per call (LibTorch's dynamic int8 Linear). LayerNorm and the residual stream stay
// fp32, which keeps embeddings within cosine 0.999 (bf16) / 0.99 (int8) of fp32.
//
// The copies are derived state: built on first use under a lock, rebuilt when any weight of the stack
// changed (training, reloading), so many threads may run one stack at once.
#pragma once

#include "nn/fused_conv.hpp"
#include "nn/transformer_block.hpp"

#include <clipmatch/model.hpp>

#include <torch/torch.h>

#include <mutex>
#include <vector>

namespace clipmatch::nn {

/// Whether this CPU's int8 kernels add uint8 × int8 products exactly (VNNI: in 32 bits). Without VNNI, oneDNN's and
/// FBGEMM's x86 kernels add pairs of products in 16 bits with saturation, which full-range uint8 activations
/// overflow (a CLIP text fixture fell to cosine 0.978 of fp32); there the int8 Linear layers quantise their
/// activations to 7 bits (PyTorch's reduce_range), which stays clear of it.
bool int8_products_exact();

/// One Linear layer ready for reduced-precision inference.
class PackedLinear {
 public:
  PackedLinear() = default;
  /// `weight` [out, in] and `bias` [out] (fp32, may be undefined) packed for `precision` (Bf16 or Int8).
  PackedLinear(const torch::Tensor& weight, const torch::Tensor& bias, Precision precision);
  /// x [..., in]: Bf16 → bf16 result; Int8 → x is used as fp32 and the result is fp32.
  torch::Tensor operator()(const torch::Tensor& x) const;

 private:
  Precision precision_ = Precision::Bf16;
  torch::Tensor weight_, bias_;  // Bf16
  c10::IValue packed_;           // Int8: LibTorch's prepacked quantised weight (LinearPackedParamsBase)
};

class InferenceStack {
 public:
  /// Runs blocks [begin, end) of `stack` in `precision` (Bf16 or Int8); x and the result are fp32.
  /// `first_token_only`: the last block computes token 0 alone (its keys and values still come from every
  /// token), and the result is [B, 1, D]. For a [CLS]-pooled encoder that skips the attention output, the MLP
  /// and the residuals of all other rows in the last block: 9/12 of its work, ~6 % of the stack.
  torch::Tensor forward(TransformerStackImpl& stack, torch::Tensor x, const torch::Tensor& additive_mask,
                        bool causal, std::int64_t begin, std::int64_t end, Precision precision,
                        bool first_token_only = false);

 private:
  struct Block {
    BlockOptions options;
    torch::Tensor norm1_weight, norm1_bias, norm2_weight, norm2_bias;
    PackedLinear qkv, out, fc1, fc2;
  };
  struct Copy {
    std::vector<Block> blocks;
    FusedConvCache built_from;  // parameter versions the copy was made from
  };

  const std::vector<Block>& blocks_for(TransformerStackImpl& stack, Precision precision);
  static torch::Tensor run_block(const Block& block, const torch::Tensor& x, const torch::Tensor& additive_mask,
                                 bool causal, bool first_token_only);

  std::mutex mutex_;
  Copy bf16_, int8_;
};

}  // namespace clipmatch::nn
