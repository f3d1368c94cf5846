// The state behind clipmatch::Model: towers, heads and temperature in one torch module (so that parameter
// names are the checkpoint names), the device, and the feature pipelines shared by encoding, training and
// evaluation.
#pragma once

#include "core/progress.hpp"
#include "model/projection_head.hpp"
#include "model/towers.hpp"
#include "cache/content_hash.hpp"
#include "io/image_impl.hpp"

#include <clipmatch/model.hpp>

#include <torch/torch.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace clipmatch::model {

/// All trainable and stored tensors, named "image_encoder.*", "text_encoder.*", "image_head.*",
/// "text_head.*", "logit_scale" (t; logits = cos · exp(t)) and, for SigLIP, "logit_bias".
class MatchNetImpl : public torch::nn::Module {
 public:
  MatchNetImpl() = default;
  void set_image_encoder(const std::shared_ptr<nn::ImageEncoderImpl>& encoder);
  void set_text_encoder(const std::shared_ptr<nn::TextEncoderImpl>& encoder);
  void set_image_head(ProjectionHead head);
  void set_text_head(ProjectionHead head);
  void set_logit_scale(double t);
  void ensure_logit_bias(double initial);

  std::shared_ptr<nn::ImageEncoderImpl> image_encoder;
  std::shared_ptr<nn::TextEncoderImpl> text_encoder;
  ProjectionHead image_head{nullptr};
  ProjectionHead text_head{nullptr};
  torch::Tensor logit_scale;  // scalar t
  torch::Tensor logit_bias;   // scalar b (SigLIP); undefined otherwise
};
TORCH_MODULE(MatchNet);

/// The largest logit scale t may reach (CLIP clamps exp(t) at 100).
constexpr double kMaxLogitScale = 4.605170185988092;  // log(100)

torch::Device resolve_device(Device device);
Matrix to_matrix(const torch::Tensor& tensor);
/// The inverse: a float32 CPU tensor [rows, cols] holding a copy of `matrix`.
torch::Tensor to_tensor(const Matrix& matrix);

}  // namespace clipmatch::model

namespace clipmatch {

struct Model::Impl {
  ModelConfig config;
  torch::Device device{torch::kCPU};
  model::ImageTower image;
  model::TextTower text;
  mutable model::MatchNet net;  // forward() is not const in LibTorch; encoding does not change the weights
  bool image_encoder_trained = false;  ///< encoder weights changed (or from scratch): store them in checkpoints
  bool text_encoder_trained = false;
  /// What the last train() changed, per encoder: its top units (0: none; num_blocks(): all) and the cache key
  /// of the unchanged part below, taken before training. Evaluation reads that part from the feature cache
  /// and never fills the cache with one-off features of a fully tuned encoder.
  struct Tuned {
    std::int64_t top = 0;
    std::optional<cache::ContentKey> lower_key;
  };
  Tuned image_tuned, text_tuned;
  /// The poster-text channel's fusion weight (clipmatch/ocr.hpp) train() learned or was given; −1 = none.
  double fusion_weight = -1;

  /// Builds the heads whose encoders exist (tiny_text gets its encoder, and so its head, when training starts).
  void build_heads();
  void require_ready(const char* what) const;
  /// Items per encoder batch where no caller chose one (evaluation, feature-cache fills, training's full
  /// passes): a GPU needs large batches to stay busy; on the CPU larger ones gain nothing and cost memory.
  std::size_t encode_batch_size() const { return device.is_cuda() ? 256 : 64; }

  /// Preprocessed pixels [B,3,S,S] (CPU) of items [begin, end) of some poster source.
  using PixelLoader = std::function<torch::Tensor(std::size_t begin, std::size_t end)>;

  /// Raw encoder features, float32 on the model's device, in eval mode without gradients; the thread's progress
  /// observer hears stage "encode posters" / "encode intros".
  torch::Tensor image_features(std::size_t n, std::size_t batch_size, const PixelLoader& load) const;
  torch::Tensor image_features(const std::vector<std::string>& paths, std::size_t batch_size) const;
  torch::Tensor text_features(const std::vector<std::string>& texts, std::size_t batch_size) const;
  /// One batch through an encoder up to its split depth: forward_lower(inputs, top_k) (top_k 0 = the
  /// features), with bf16 autocast on CUDA; the caller holds the eval pass. Intro hidden states (top_k > 0)
  /// come zeroed past each intro's length and padded to max_tokens, one shape for every intro.
  torch::Tensor encode_image_batch(const std::vector<std::string>& paths, std::int64_t top_k) const;
  torch::Tensor encode_pixel_batch(const torch::Tensor& pixels, std::int64_t top_k) const;
  torch::Tensor encode_token_batch(text::TokenBatch batch, std::int64_t top_k) const;
  /// encode_token_batch over many intros (tokenised once), batched by similar token length (each batch padded only to its own
  /// longest intro) and returned in the given order; on the CPU when `to_cpu`. The caller holds the eval pass.
  torch::Tensor text_stage(const std::vector<std::string>& texts, std::int64_t top_k, std::size_t batch_size,
                           bool to_cpu, Progress* progress) const;
  /// Decoded, preprocessed pixels of posters [N,3,S,S] on CPU (uses all cores), in `memory`.
  torch::Tensor load_pixels(const std::vector<std::string>& paths,
                            io::BatchMemory memory = io::BatchMemory::Pageable) const;
  /// The host memory an encoding batch is preprocessed into: page-locked when the model runs on a GPU, so
  /// host_to_device copies it asynchronously as it is.
  io::BatchMemory batch_memory() const;
  /// Token batch of intros, padded to the longest.
  text::TokenBatch tokenize(const std::vector<std::string>& texts) const;

  /// Heads + L2 normalisation (gradients flow when enabled by the caller).
  torch::Tensor embed_image_features(const torch::Tensor& features) const;
  torch::Tensor embed_text_features(const torch::Tensor& features) const;

  /// Checkpoint I/O (model_checkpoint.cpp).
  void save(const std::string& path) const;
  static std::unique_ptr<Impl> load(const std::string& path, Device device);
};

}  // namespace clipmatch

namespace clipmatch::model {

/// Throws Error(InvalidArgument) naming the first TrainOptions field out of range (trainer.cpp).
void validate_train_options(const TrainOptions& options);

/// One run of the training loop (model::Trainer, trainer.hpp); Model::train adds the text channel's calibration
/// around it.
TrainReport train_contrastive(Model::Impl& model, const Dataset& data, const TrainOptions& options);

}  // namespace clipmatch::model
