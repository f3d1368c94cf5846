// The C ABI over clipmatch::Model. Every entry point catches everything: exceptions never cross into C.
#include "clipmatch.h"

#include <clipmatch/dataset.hpp>
#include <clipmatch/error.hpp>
#include <clipmatch/model.hpp>
#include <clipmatch/synth.hpp>
#include <clipmatch/version.hpp>

#include <cstring>
#include <exception>
#include <new>
#include <string>

struct clipmatch_model {
  clipmatch::Model model;
};

namespace {

thread_local std::string last_error;

clipmatch_status status_of(clipmatch::ErrorKind kind) {
  switch (kind) {
    case clipmatch::ErrorKind::InvalidArgument: return CLIPMATCH_ERROR_INVALID_ARGUMENT;
    case clipmatch::ErrorKind::Io: return CLIPMATCH_ERROR_IO;
    case clipmatch::ErrorKind::Format: return CLIPMATCH_ERROR_FORMAT;
    case clipmatch::ErrorKind::Checkpoint: return CLIPMATCH_ERROR_CHECKPOINT;
    case clipmatch::ErrorKind::Unsupported: return CLIPMATCH_ERROR_UNSUPPORTED;
    case clipmatch::ErrorKind::Internal: return CLIPMATCH_ERROR_INTERNAL;
  }
  return CLIPMATCH_ERROR_INTERNAL;
}

clipmatch_status set_error(clipmatch_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

/// Runs `fn`, translating every exception into a status and the thread's last-error message.
template <typename Fn>
clipmatch_status guarded(Fn&& fn) {
  try {
    fn();
    last_error.clear();
    return CLIPMATCH_OK;
  } catch (const clipmatch::Error& e) {
    return set_error(status_of(e.kind()), e.what());
  } catch (const std::bad_alloc&) {
    return set_error(CLIPMATCH_ERROR_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return set_error(CLIPMATCH_ERROR_INTERNAL, e.what());
  } catch (...) {
    return set_error(CLIPMATCH_ERROR_INTERNAL, "unknown error");
  }
}

clipmatch::Device device_of(clipmatch_device device) {
  switch (device) {
    case CLIPMATCH_DEVICE_CPU: return clipmatch::Device::Cpu;
    case CLIPMATCH_DEVICE_CUDA: return clipmatch::Device::Cuda;
    default: return clipmatch::Device::Auto;
  }
}

void require(bool condition, const char* message) {
  if (!condition) throw clipmatch::Error(clipmatch::ErrorKind::InvalidArgument, message);
}

std::vector<std::string> strings(const char* const* items, size_t n, const char* what) {
  require(n == 0 || items != nullptr, "string array is NULL");
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (items[i] == nullptr) throw clipmatch::Error(clipmatch::ErrorKind::InvalidArgument, std::string(what) + " " + std::to_string(i) + " is NULL");
    out.emplace_back(items[i]);
  }
  return out;
}

void copy_out(const clipmatch::Matrix& matrix, float* out, size_t out_len) {
  const auto needed = static_cast<size_t>(matrix.size());
  if (out == nullptr || out_len < needed) {
    throw clipmatch::Error(clipmatch::ErrorKind::InvalidArgument,
                           "output buffer holds " + std::to_string(out_len) + " floats, " + std::to_string(needed) + " needed");
  }
  std::memcpy(out, matrix.data(), needed * sizeof(float));
}

clipmatch_direction_metrics to_c(const clipmatch::RetrievalMetrics& m) {
  return {m.r1, m.r5, m.r10, m.median_rank, m.mean_rank};
}

clipmatch_metrics to_c(const clipmatch::SplitMetricsMap& splits) {
  clipmatch_metrics out{};
  auto fill = [&](const char* name, clipmatch_split_metrics& target) {
    const auto it = splits.find(name);
    if (it == splits.end()) return;
    target = {it->second.n, it->second.acc_dim0, it->second.acc_dim1, to_c(it->second.poster_to_intro),
              to_c(it->second.intro_to_poster)};
  };
  fill("all", out.all);
  fill("train", out.train);
  fill("heldout", out.heldout);
  return out;
}

}  // namespace

extern "C" {

const char* clipmatch_version(void) {
  static const std::string version = clipmatch::version();
  return version.c_str();
}

int clipmatch_abi_version(void) { return CLIPMATCH_ABI_VERSION; }

const char* clipmatch_last_error(void) { return last_error.c_str(); }

clipmatch_model_params clipmatch_model_default_params(void) {
  const clipmatch::ModelConfig defaults;  // one source of truth for the defaults of both APIs
  clipmatch_model_params p{};
  p.image_encoder = nullptr;
  p.text_encoder = nullptr;
  p.embed_dim = defaults.embed_dim;
  p.mlp_head = defaults.head == clipmatch::HeadKind::Mlp;
  p.course_temperature = defaults.temperature == clipmatch::TemperatureInit::Course;
  p.seed = defaults.seed;
  p.device = CLIPMATCH_DEVICE_AUTO;
  return p;
}

clipmatch_status clipmatch_model_create(clipmatch_model_params params, clipmatch_model** out_model) {
  return guarded([&] {
    require(out_model != nullptr, "out_model is NULL");
    *out_model = nullptr;
    clipmatch::ModelConfig config;
    if (params.image_encoder != nullptr) config.image_encoder = clipmatch::EncoderSpec::parse(params.image_encoder);
    if (params.text_encoder != nullptr) config.text_encoder = clipmatch::EncoderSpec::parse(params.text_encoder);
    config.embed_dim = params.embed_dim;
    config.head = params.mlp_head ? clipmatch::HeadKind::Mlp : clipmatch::HeadKind::Linear;
    config.temperature = params.course_temperature ? clipmatch::TemperatureInit::Course : clipmatch::TemperatureInit::Clip;
    config.seed = params.seed;
    *out_model = new clipmatch_model{clipmatch::Model::create(config, device_of(params.device))};
  });
}

clipmatch_status clipmatch_model_load(const char* path, clipmatch_device device, clipmatch_model** out_model) {
  return guarded([&] {
    require(path != nullptr && out_model != nullptr, "path or out_model is NULL");
    *out_model = nullptr;
    *out_model = new clipmatch_model{clipmatch::Model::load(path, device_of(device))};
  });
}

clipmatch_status clipmatch_model_save(const clipmatch_model* model, const char* path) {
  return guarded([&] {
    require(model != nullptr && path != nullptr, "model or path is NULL");
    model->model.save(path);
  });
}

void clipmatch_model_free(clipmatch_model* model) { delete model; }

int64_t clipmatch_model_embed_dim(const clipmatch_model* model) {
  return model == nullptr ? 0 : model->model.config().embed_dim;
}

clipmatch_status clipmatch_encode_posters(const clipmatch_model* model, const char* const* image_paths, size_t n,
                                          float* out, size_t out_len) {
  return guarded([&] {
    require(model != nullptr, "model is NULL");
    copy_out(model->model.encode_posters(strings(image_paths, n, "image path")), out, out_len);
  });
}

clipmatch_status clipmatch_encode_intros(const clipmatch_model* model, const char* const* intros, size_t n, float* out,
                                         size_t out_len) {
  return guarded([&] {
    require(model != nullptr, "model is NULL");
    copy_out(model->model.encode_intros(strings(intros, n, "intro")), out, out_len);
  });
}

clipmatch_status clipmatch_distance_matrix(const float* posters, size_t n_posters, const float* intros, size_t n_intros,
                                           size_t dim, clipmatch_distance kind, float* out, size_t out_len) {
  return guarded([&] {
    require(posters != nullptr && intros != nullptr && dim > 0, "embeddings are NULL or dim is 0");
    using Map = Eigen::Map<const clipmatch::Matrix>;
    const clipmatch::Matrix p = Map(posters, static_cast<Eigen::Index>(n_posters), static_cast<Eigen::Index>(dim));
    const clipmatch::Matrix t = Map(intros, static_cast<Eigen::Index>(n_intros), static_cast<Eigen::Index>(dim));
    copy_out(clipmatch::distance_matrix(p, t,
                                        kind == CLIPMATCH_DISTANCE_NEGATIVE_COSINE ? clipmatch::DistanceKind::NegativeCosine
                                                                                   : clipmatch::DistanceKind::OneMinusCosine),
             out, out_len);
  });
}

clipmatch_train_params clipmatch_train_default_params(void) {
  const clipmatch::TrainOptions defaults;
  clipmatch_train_params p{};
  p.run_dir = nullptr;
  p.epochs = defaults.epochs;
  p.batch_size = defaults.batch_size;
  p.learning_rate = defaults.learning_rate;
  p.encoder_learning_rate = defaults.encoder_learning_rate;
  p.weight_decay = defaults.weight_decay;
  p.loss = CLIPMATCH_LOSS_INFONCE;
  p.freeze = CLIPMATCH_FREEZE_FROZEN;
  p.unfreeze_top = defaults.unfreeze_top;
  p.unfreeze_top_text = defaults.unfreeze_top_text;
  p.early_stopping_patience = defaults.early_stopping_patience;
  p.seed = defaults.seed;
  p.verbose = 0;  // a library called from C stays quiet unless asked
  return p;
}

clipmatch_status clipmatch_train(clipmatch_model* model, const char* dataset_dir, clipmatch_train_params params,
                                 clipmatch_metrics* out_metrics) {
  return guarded([&] {
    require(model != nullptr && dataset_dir != nullptr && params.run_dir != nullptr, "model, dataset_dir or run_dir is NULL");
    clipmatch::TrainOptions options;
    options.run_dir = params.run_dir;
    options.epochs = params.epochs;
    options.batch_size = params.batch_size;
    options.learning_rate = params.learning_rate;
    options.encoder_learning_rate = params.encoder_learning_rate;
    options.weight_decay = params.weight_decay;
    options.loss = params.loss == CLIPMATCH_LOSS_SIGLIP           ? clipmatch::LossKind::SigLip
                   : params.loss == CLIPMATCH_LOSS_MULTI_POSITIVE ? clipmatch::LossKind::MultiPositive
                                                                  : clipmatch::LossKind::InfoNce;
    options.freeze = params.freeze == CLIPMATCH_FREEZE_TOP_K  ? clipmatch::FreezeMode::TopK
                     : params.freeze == CLIPMATCH_FREEZE_FULL ? clipmatch::FreezeMode::Full
                                                              : clipmatch::FreezeMode::Frozen;
    options.unfreeze_top = params.unfreeze_top;
    options.unfreeze_top_text = params.unfreeze_top_text;
    options.early_stopping_patience = params.early_stopping_patience;
    options.seed = params.seed;
    options.verbose = params.verbose != 0;
    const auto data = clipmatch::load_dataset(dataset_dir);
    const auto report = model->model.train(data, options);
    if (out_metrics != nullptr) {
      *out_metrics = clipmatch_metrics{};
      for (const auto& epoch : report.history) {
        if (epoch.epoch == report.best_epoch) *out_metrics = to_c(epoch.splits);
      }
    }
  });
}

clipmatch_status clipmatch_evaluate(const clipmatch_model* model, const char* dataset_dir, const char* out_dir,
                                    clipmatch_metrics* out_metrics) {
  return guarded([&] {
    require(model != nullptr && dataset_dir != nullptr, "model or dataset_dir is NULL");
    const auto report = model->model.evaluate(clipmatch::load_dataset(dataset_dir), out_dir ? out_dir : "");
    if (out_metrics != nullptr) *out_metrics = to_c(report.splits);
  });
}

clipmatch_status clipmatch_synthesize_dataset(const char* out_dir, size_t n, uint64_t seed) {
  return guarded([&] {
    require(out_dir != nullptr, "out_dir is NULL");
    clipmatch::SynthOptions options;
    options.out = out_dir;
    options.n = n;
    options.seed = seed;
    clipmatch::generate_synthetic(options);
  });
}

}  // extern "C"
