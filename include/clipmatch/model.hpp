// clipmatch::Model — the one facade over everything: a poster encoder and an intro encoder (pretrained
// checkpoints or small ones trained from scratch), projection heads into a shared embedding space, a learnable
// temperature, the trainer, the distance matrix and the evaluation. The CLI, the C API and the Python module
// are thin layers over this class.
//
//   auto model = clipmatch::Model::create(config);               // or Model::load("runs/x")
//   auto report = model.train(dataset, options);                  // contrastive training, run folder
//   Embeddings p = model.encode_posters({"a.jpg", "b.jpg"});      // L2-normalised rows
//   Embeddings t = model.encode_intros({"A heist...", "Two..."});
//   Matrix d = clipmatch::distance_matrix(p, t);                  // rows = posters, cols = intros
//
// Threads: a Model may encode (encode_*, poster_features, intro_features) and evaluate() from many threads at
// once. Those const methods change no state of the model (its modules stay in eval mode between calls, and
// derived caches are built under a lock), so concurrent calls give exactly the results of serial ones.
// train(), save() and moving or destroying the model need it to themselves. Random numbers come from
// generators seeded per call (ModelConfig::seed, TrainOptions::seed), never from LibTorch's global generator.
//
// Progress and cancelling: long calls take a ProgressCallback (TrainOptions::progress, EvalOptions::progress,
// EncodeOptions::progress), called on the calling thread; returning false stops the call with an Error of kind
// Cancelled. A cancelled call leaves only complete files and a usable model (training keeps its best epoch so
// far, or the weights it started from).
#pragma once

#include <clipmatch/dataset.hpp>
#include <clipmatch/distributed.hpp>
#include <clipmatch/export.h>
#include <clipmatch/image.hpp>
#include <clipmatch/metrics.hpp>
#include <clipmatch/ocr.hpp>
#include <clipmatch/progress.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace clipmatch {

/// Row-major float matrices: embeddings are [N, dim], distance matrices [posters, intros].
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Embeddings = Matrix;

/// Where computation runs. Auto = CUDA when a GPU is usable, CPU otherwise.
enum class Device { Auto, Cpu, Cuda };

/// Number format of encoder inference (encoding, evaluation, and the frozen towers during training). Weights
/// are always kept in fp32; reduced-precision copies are derived when first needed.
///  - Fp32: the parity-tested default (on CUDA too: no autocast).
///  - Bf16: transformer and convolutional encoders compute in bfloat16 (fast on CPUs with AVX512-BF16 or
///    AMX, and on CUDA; elsewhere correct but emulated).
///  - Int8: the Linear layers of transformer encoders use int8 weights (per output channel) and dynamically
///    quantised int8 inputs; attention runs in bf16; MobileNetV2's convolutions from block 8 on run on int8
///    (the earlier ones in bf16); other encoders compute in fp32. CPU only.
enum class Precision { Fp32, Bf16, Int8 };

/// Which towers an encoder kind can serve.
enum class EncoderSide { Poster, Intro, Both };

/// One kind of encoder the registry can build; encoder_kinds() lists them all (the CLI help, the Python
/// module, error messages and the docs all read this one list).
struct EncoderKind {
  const char* name;         ///< "vit", "bert", …
  EncoderSide side;
  bool needs_path;          ///< pretrained: KIND:PATH to a checkpoint folder; false for from-scratch presets
  const char* description;
};

/// Every encoder kind, in a fixed order.
CLIPMATCH_API const std::vector<EncoderKind>& encoder_kinds();

/// Which encoder and where its weights are: a kind from encoder_kinds() ("vit", "bert", "clip" (a CLIPModel
/// folder; the matching tower is used), "resnet", "mobilenet_v2", "glove", and the from-scratch presets
/// "tiny_cnn" and "tiny_text") and `path`, the checkpoint folder (empty for from-scratch presets).
struct EncoderSpec {
  std::string kind;
  std::string path;

  /// Parses "KIND:PATH" or "KIND"; throws clipmatch::Error for an unknown kind.
  CLIPMATCH_API static EncoderSpec parse(const std::string& text);
  CLIPMATCH_API std::string to_string() const;
};

enum class HeadKind { Linear, Mlp };
enum class TemperatureInit { Clip, Course };  ///< CLIP: t = log(1/0.07), clamped at log(100); Course: t = 1.0

struct ModelConfig {
  EncoderSpec image_encoder{"tiny_cnn", ""};
  EncoderSpec text_encoder{"tiny_text", ""};
  std::int64_t embed_dim = 128;      ///< width of the shared space (the course model used 128)
  HeadKind head = HeadKind::Linear;  ///< Linear → embed_dim (course), or Linear-GELU-Linear
  std::int64_t mlp_hidden = 512;
  TemperatureInit temperature = TemperatureInit::Clip;
  std::int64_t max_text_tokens = 0;  ///< 0 = the text encoder's own default (BERT 128, CLIP 77, tiny 64)
  /// For "clip" towers used zero-shot: use CLIP's own projections as the heads (no new head is trained).
  bool use_pretrained_projection = false;
  std::uint64_t seed = 0;
};

enum class LossKind { InfoNce, SigLip, MultiPositive };
enum class FreezeMode { Frozen, TopK, Full };
enum class Schedule { Constant, WarmupCosine, Plateau };

/// One line of the per-epoch log (also written as JSON to <run>/epochs.jsonl).
struct EpochLog {
  int epoch = 0;
  double train_loss = 0;
  double learning_rate = 0;
  double temperature = 0;  ///< exp(t)
  double seconds = 0;
  std::map<std::string, SplitMetrics> splits;  ///< "train", "heldout", "all" (those that exist)
};

struct TrainOptions {
  std::string run_dir;                ///< run folder: checkpoints, epochs.jsonl, evaluation outputs
  int epochs = 50;
  int batch_size = 128;
  double learning_rate = 1e-3;        ///< heads and temperature
  double encoder_learning_rate = 1e-5;  ///< unfrozen encoder blocks
  double weight_decay = 0.05;
  double warmup_fraction = 0.05;
  Schedule schedule = Schedule::WarmupCosine;
  double plateau_factor = 0.5;
  int plateau_patience = 3;
  double grad_clip_norm = 1.0;        ///< 0 disables clipping
  LossKind loss = LossKind::InfoNce;
  double genre_positive_weight = 0.5;  ///< MultiPositive: weight of a pair sharing all genres
  FreezeMode freeze = FreezeMode::Frozen;
  int unfreeze_top = 0;               ///< TopK: trainable top blocks/stages of each encoder
  int unfreeze_top_text = -1;         ///< TopK: the intro encoder's own depth; -1 = unfreeze_top
  bool mixed_precision = true;        ///< bf16 autocast on CUDA for trainable encoders; ignored on CPU
  /// How frozen encoders (and the frozen lower part under top-K) compute the features training caches, and
  /// how the per-epoch evaluation encodes. Cached features are kept apart per precision.
  Precision precision = Precision::Fp32;
  int early_stopping_patience = 0;    ///< epochs without held-out improvement before stopping; 0 = off
  std::string cache_dir;              ///< persistent feature cache; empty = <run_dir>/../.clipmatch-cache
  bool use_cache = true;
  int eval_every = 1;
  std::uint64_t seed = 0;
  /// Continue the run in run_dir from its last completed epoch (its resume.safetensors, written after every
  /// epoch), ending with exactly the weights and metrics of an uninterrupted run; starts afresh when there is
  /// none. Refused when the options, the model configuration or the data differ from the interrupted run's.
  bool resume = false;
  /// The poster-text channel (clipmatch/ocr.hpp). When enabled and ocr.fusion_weight < 0, the heads train on
  /// the training rows minus a calibration slice (ocr.calibration_fraction, drawn with `seed`; those rows count
  /// as held-out in the per-epoch metrics), and the fusion weight is then learned on that slice and saved with
  /// the model. Per-epoch metrics stay visual; the channel applies to evaluate().
  OcrOptions ocr;
  /// Data-parallel training across processes (clipmatch/distributed.hpp); world_size 1 = this process alone.
  /// batch_size stays the global batch (it must divide by world_size), split across the ranks in rank order;
  /// every rank shuffles the same way. Rank 0 alone writes run_dir and evaluates, so only its report carries
  /// per-epoch metrics; every rank ends with the same weights.
  DistributedOptions distributed;
  bool verbose = false;               ///< progress lines and one line per epoch to the log sink (log.hpp)
  std::function<void(const EpochLog&)> on_epoch;  ///< optional observer, after every epoch
  /// Stages "encode posters" / "encode intros" (items, while filling the feature cache) and "train" (steps of
  /// the whole run); false cancels.
  ProgressCallback progress;
};

struct TrainReport {
  int epochs_run = 0;
  int best_epoch = 0;
  double best_heldout_r1 = 0;  ///< mean of both directions' R@1 on held-out (or train when none)
  double seconds = 0;
  std::size_t cache_hits = 0, cache_misses = 0;  ///< distributed: of this rank's share of the cached stages
  std::string cache_dir;       ///< the feature cache folder used (empty: caching was off)
  std::vector<EpochLog> history;
  /// With the text channel: the fusion weight the model keeps (learned or fixed), the calibration rows it
  /// was learned on (movie indices; empty when fixed) and OCR cache use.
  double fusion_weight = -1;
  std::vector<std::size_t> calibration_rows;
  std::size_t ocr_cache_hits = 0, posters_read = 0;
};

/// What evaluate() measured: metrics per split ("all", "train", "heldout"; empty splits left out).
struct EvaluationReport {
  std::size_t n = 0;
  DistanceKind distance = DistanceKind::OneMinusCosine;
  SplitMetricsMap splits;
  std::size_t cache_hits = 0, cache_misses = 0;  ///< feature cache use (EvalOptions::cache_dir)
  double fusion_weight = -1;   ///< the text channel's weight when it was on; −1 when off
  std::size_t ocr_cache_hits = 0, posters_read = 0;
  double ocr_seconds = 0;      ///< wall time spent reading posters (0 when all came from the OCR cache)
  std::vector<PosterText> poster_text;  ///< with the text channel: the words read on each poster
};

/// How evaluate() measures and which outputs it writes into its folder besides metrics.json.
struct EvalOptions {
  DistanceKind distance = DistanceKind::OneMinusCosine;
  bool distance_npy = true;
  bool embeddings_npy = true;
  bool heatmap_png = true;
  bool topk_csv = true;
  std::size_t heatmap_size = 48;  ///< rows/columns of the matrix block drawn
  Precision precision = Precision::Fp32;  ///< how the encoders compute (see Precision)
  /// Feature cache folder (as TrainOptions::cache_dir): encoder features are read from it (and added to it)
  /// instead of re-encoding every poster and intro, except for encoders whose weights this model's train()
  /// changed (their features are one-off). Empty = always encode.
  std::string cache_dir;
  /// The poster-text channel: when enabled, metrics and every output use cos + w·bm25 (clipmatch/ocr.hpp);
  /// w = ocr.fusion_weight when ≥ 0, else the model's learned weight, else default_fusion_weight. The OCR
  /// cache defaults to cache_dir. topk.csv gains each poster's text.
  OcrOptions ocr;
  bool verbose = false;           ///< progress lines while encoding, to the log sink
  ProgressCallback progress;      ///< stages "encode posters", "encode intros", "read posters"; false cancels
};

/// How the encode_* methods run.
struct EncodeOptions {
  std::size_t batch_size = 64;  ///< items per encoder batch (intros are batched by similar token length)
  Precision precision = Precision::Fp32;  ///< how the encoders compute (see Precision)
  ProgressCallback progress;    ///< stage "encode posters" / "encode intros" (items); false cancels
};

class CLIPMATCH_API Model {
 public:
  /// A fresh model: encoders built (pretrained weights loaded, or from-scratch presets), heads initialised
  /// from config.seed.
  static Model create(const ModelConfig& config, Device device = Device::Auto);
  /// Loads a checkpoint file (model.safetensors) or a run folder (its best checkpoint).
  static Model load(const std::string& path, Device device = Device::Auto);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const ModelConfig& config() const;
  /// "cpu" or "cuda:0".
  std::string device() const;

  /// L2-normalised embeddings of poster image files, one row each.
  Embeddings encode_posters(const std::vector<std::string>& image_paths, std::size_t batch_size = 64) const;
  Embeddings encode_posters(const std::vector<std::string>& image_paths, const EncodeOptions& options) const;
  /// L2-normalised embeddings of intros (UTF-8), one row each.
  Embeddings encode_intros(const std::vector<std::string>& intros, std::size_t batch_size = 64) const;
  Embeddings encode_intros(const std::vector<std::string>& intros, const EncodeOptions& options) const;
  /// Posters given as encoded image files in memory (JPEG, PNG, …): the same embedding as the file would give.
  Embeddings encode_poster_bytes(const std::vector<EncodedImage>& images, const EncodeOptions& options = {}) const;
  /// Posters given as decoded pixels (3 or 4 channels, alpha composited over white as for files).
  Embeddings encode_poster_pixels(const std::vector<PixelView>& images, const EncodeOptions& options = {}) const;
  /// Raw encoder features (before the heads), for `clipmatch encode`.
  Matrix poster_features(const std::vector<std::string>& image_paths, std::size_t batch_size = 64) const;
  Matrix poster_features(const std::vector<std::string>& image_paths, const EncodeOptions& options) const;
  Matrix intro_features(const std::vector<std::string>& intros, std::size_t batch_size = 64) const;
  Matrix intro_features(const std::vector<std::string>& intros, const EncodeOptions& options) const;

  /// exp(t), the logit scale.
  double logit_scale() const;
  /// The poster-text channel's fusion weight train() learned or was given (saved with the model); −1 = none.
  double fusion_weight() const;

  /// Trains on dataset.train (all rows when the split is empty), evaluating each epoch; keeps the best
  /// checkpoint in options.run_dir and leaves the model holding the best weights.
  TrainReport train(const Dataset& dataset, const TrainOptions& options);

  /// Encodes the whole dataset, computes train / held-out / all metrics and writes metrics.json (+ the
  /// chosen outputs) into out_dir (nothing written when out_dir is empty).
  EvaluationReport evaluate(const Dataset& dataset, const std::string& out_dir,
                            const EvalOptions& options = {}) const;

  /// Writes a safetensors checkpoint (configuration in __metadata__) atomically.
  void save(const std::string& path) const;

  /// The library's internal state; opaque here (named publicly only so internal helpers can take it).
  struct Impl;

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Distances between every poster row and every intro row of two L2-normalised embedding matrices.
CLIPMATCH_API Matrix distance_matrix(const Embeddings& posters, const Embeddings& intros,
                                     DistanceKind kind = DistanceKind::OneMinusCosine);

/// Retrieval metrics of paired embeddings (row i of `posters` and of `intros` are one movie), as evaluate()
/// reports them: "all", and "train" / "heldout" when `train_rows` names some rows (the rest are held out).
CLIPMATCH_API SplitMetricsMap match_metrics(const Embeddings& posters, const Embeddings& intros,
                                            const std::vector<std::size_t>& train_rows = {});

}  // namespace clipmatch
