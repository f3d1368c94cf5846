// Builds the convolutional image encoders and the word-vector text encoder from checkpoint folders.
//
// torchvision checkpoints carry no config: the ResNet structure is read off the tensor names and shapes,
// MobileNetV2 uses the standard block table (width_mult from an optional config.json) checked tensor by
// tensor. Every tensor must be present with its exact shape and none may be left over (num_batches_tracked
// is ignored: it does not affect inference and torchvision writes it with varying shapes); errors name the
// tensor and the file.
#pragma once

#include "nn/mobilenet_v2.hpp"
#include "nn/resnet.hpp"
#include "nn/word_vectors.hpp"

#include <memory>
#include <string>

namespace clipmatch::io {
class CheckpointReader;
}

namespace clipmatch::nn {

/// `folder` holds model.safetensors (torchvision ResNet names; F16/BF16/F32). Returned in eval mode.
ResNet load_resnet(const std::string& folder);
/// `folder` holds model.safetensors (torchvision mobilenet_v2 names) and optionally config.json
/// ({"width_mult": …}). Returned in eval mode.
MobileNetV2 load_mobilenet_v2(const std::string& folder);

/// Loads `reader`'s tensors into an already built ResNet / MobileNetV2 (strict, see the file comment).
void load_conv_weights(torch::nn::Module& module, const io::CheckpointReader& reader);

struct WordVectorModel {
  WordVectorEncoder encoder{nullptr};
  std::shared_ptr<WordVectorTokenizer> tokenizer;
};

/// `folder` holds embeddings.safetensors (tensor "embeddings" [V, D], any float dtype) and vocab.txt (V lines,
/// row order). Embeddings are frozen unless `trainable`.
WordVectorModel load_word_vectors(const std::string& folder, WordPooling pooling, bool trainable = false);

}  // namespace clipmatch::nn
