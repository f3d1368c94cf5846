// An encoder together with what turns raw inputs into its input: the image tower carries its preprocessing,
// the text tower its tokenizer. Built from an EncoderSpec by the encoder registry.
#pragma once

#include "nn/encoder.hpp"
#include "text/tokenizer.hpp"

#include <clipmatch/image.hpp>
#include <clipmatch/model.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace clipmatch::model {

struct ImageTower {
  std::shared_ptr<nn::ImageEncoderImpl> encoder;
  ImagePreprocess preprocess;
  bool pretrained = false;  ///< weights came from a checkpoint folder (false: from-scratch preset)
};

struct TextTower {
  std::shared_ptr<nn::TextEncoderImpl> encoder;  ///< null for tiny_text until its vocabulary is trained
  std::shared_ptr<text::Tokenizer> tokenizer;
  std::size_t max_tokens = 0;
  bool pretrained = false;
  /// Bytes of a tokenizer model made for this run (tiny_text's sentencepiece model); stored in checkpoints.
  std::string tokenizer_model;
};

/// Builds the poster encoder named by `spec` (pretrained weights loaded when spec.path is set).
ImageTower build_image_tower(const EncoderSpec& spec, std::uint64_t seed);

/// Builds the intro encoder named by `spec`. tiny_text needs a vocabulary: either `tokenizer_model` (bytes
/// from a checkpoint) or `training_texts` to train one; with neither the tower is returned without encoder.
TextTower build_text_tower(const EncoderSpec& spec, std::uint64_t seed, std::size_t max_tokens,
                           const std::string& tokenizer_model, const std::vector<std::string>* training_texts);

/// CLIP's learned logit scale (log) when `spec` is a CLIP folder; nullopt otherwise.
std::optional<double> pretrained_logit_scale(const EncoderSpec& spec);

}  // namespace clipmatch::model
