// The C ABI over the C++ API. Every entry point catches everything: exceptions never cross into C.
//
// Versioned structs: each parameter / output struct starts with struct_size. The library copies the caller's
// prefix over its defaults (read_params) and writes outputs only up to the caller's size (write_out), so
// programs built against an older header keep working as fields are appended. kFirstSize_* record where each
// struct ended in ABI 2, its first versioned release: a smaller struct_size is a caller bug (usually a struct
// not started from its *_default_params() / *_init()).
#include <clipmatch.h>  // angle brackets: the ABI test compiles this file against a grown copy of the header

#include <clipmatch/catalog.hpp>
#include <clipmatch/dataset.hpp>
#include <clipmatch/error.hpp>
#include <clipmatch/log.hpp>
#include <clipmatch/model.hpp>
#include <clipmatch/names.hpp>
#include <clipmatch/search.hpp>
#include <clipmatch/synth.hpp>
#include <clipmatch/version.hpp>

#include <fmt/format.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <string>

struct clipmatch_model {
  clipmatch::Model model;
};

struct clipmatch_index {
  clipmatch::CatalogIndex index;
};

namespace {

using clipmatch::Error;
using clipmatch::ErrorKind;

template <typename Struct, typename Field>
constexpr std::size_t end_of(Field Struct::*, std::size_t offset) {
  return offset + sizeof(Field);
}
#define CLIPMATCH_END_OF(type, field) end_of(&type::field, offsetof(type, field))

constexpr std::size_t kFirstSizeModel = CLIPMATCH_END_OF(clipmatch_model_params, device);
constexpr std::size_t kFirstSizeEncode = CLIPMATCH_END_OF(clipmatch_encode_params, progress_user_data);
constexpr std::size_t kFirstSizeTrain = CLIPMATCH_END_OF(clipmatch_train_params, resume);
constexpr std::size_t kFirstSizeEval = CLIPMATCH_END_OF(clipmatch_eval_params, progress_user_data);
constexpr std::size_t kFirstSizeMetrics = CLIPMATCH_END_OF(clipmatch_metrics, heldout);

thread_local std::string last_error;

clipmatch_status status_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument: return CLIPMATCH_ERROR_INVALID_ARGUMENT;
    case ErrorKind::Io: return CLIPMATCH_ERROR_IO;
    case ErrorKind::Format: return CLIPMATCH_ERROR_FORMAT;
    case ErrorKind::Checkpoint: return CLIPMATCH_ERROR_CHECKPOINT;
    case ErrorKind::Unsupported: return CLIPMATCH_ERROR_UNSUPPORTED;
    case ErrorKind::Internal: return CLIPMATCH_ERROR_INTERNAL;
    case ErrorKind::Cancelled: return CLIPMATCH_ERROR_CANCELLED;
  }
  return CLIPMATCH_ERROR_INTERNAL;
}

/// A short output buffer: its own status, so callers can grow the buffer and retry.
struct BufferTooSmall : std::runtime_error {
  using std::runtime_error::runtime_error;
};

clipmatch_status set_error(clipmatch_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

/// Runs `fn`; the thread's last error becomes "" on success or the failure's message.
template <typename Fn>
clipmatch_status guarded(Fn&& fn) {
  try {
    fn();
    last_error.clear();
    return CLIPMATCH_OK;
  } catch (const Error& e) {
    return set_error(status_of(e.kind()), e.what());
  } catch (const BufferTooSmall& e) {
    return set_error(CLIPMATCH_ERROR_BUFFER_TOO_SMALL, e.what());
  } catch (const std::bad_alloc&) {
    return set_error(CLIPMATCH_ERROR_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return set_error(CLIPMATCH_ERROR_INTERNAL, e.what());
  } catch (...) {
    return set_error(CLIPMATCH_ERROR_INTERNAL, "unknown error");
  }
}

template <typename... Args>
[[noreturn]] void invalid(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(ErrorKind::InvalidArgument, fmt::format(format, std::forward<Args>(args)...));
}

void require_arg(const void* pointer, const char* name) {
  if (pointer == nullptr) invalid("{} is NULL", name);
}

/// The caller's struct over the library's defaults, up to the caller's struct_size.
template <typename T>
T read_params(const T* given, T defaults, std::size_t first_size, const char* name, const char* init) {
  if (given == nullptr) return defaults;
  const std::size_t size = given->struct_size;
  if (size < first_size) {
    invalid("{}->struct_size is {}, less than the {} bytes of its first version: start from {}()", name, size,
            first_size, init);
  }
  if (size > sizeof(T)) {
    invalid("{}->struct_size is {}, more than the {} bytes this library knows: the program was built against a "
            "newer clipmatch.h (library ABI {})",
            name, size, sizeof(T), CLIPMATCH_ABI_VERSION);
  }
  T out = defaults;
  std::memcpy(static_cast<void*>(&out), given, size);
  out.struct_size = sizeof(T);
  return out;
}

/// Writes `value` into the caller's output struct up to its struct_size (and sets struct_size to what was written).
template <typename T>
void write_out(T* out, const T& value, std::size_t first_size, const char* name, const char* init) {
  if (out == nullptr) return;
  const std::size_t size = out->struct_size;
  if (size < first_size) {
    invalid("{}->struct_size is {}, less than the {} bytes of its first version: initialise it with {}()", name, size,
            first_size, init);
  }
  const std::size_t written = size < sizeof(T) ? size : sizeof(T);
  std::memcpy(static_cast<void*>(out), &value, written);
  out->struct_size = written;
}

/// A C enum value → the C++ value: C enumerators are numbered in the order of clipmatch::enum_names<E>().
/// The caller's field is read as the int it is in C: loading an out-of-range value (42) as the enum type would
/// be undefined behaviour in C++ before any check could run (found by UBSan).
template <typename Enum, typename CEnum>
Enum enum_of(const CEnum& c_value, const char* field) {
  static_assert(sizeof(CEnum) == sizeof(int), "C enums are int-sized");
  int value = 0;
  std::memcpy(&value, &c_value, sizeof value);
  const auto& names = clipmatch::enum_names<Enum>();
  if (value < 0 || static_cast<std::size_t>(value) >= names.size()) {
    std::string choices;
    for (std::size_t i = 0; i < names.size(); ++i) choices += fmt::format("{}{} = {}", i ? ", " : "", i, names[i].name);
    invalid("{} is {}, not one of its enumerators ({})", field, value, choices);
  }
  return names[static_cast<std::size_t>(value)].value;
}

/// The C enumerator of a C++ value: its position in clipmatch::enum_names<E>().
template <typename CEnum, typename Enum>
CEnum c_enum_of(Enum value) {
  const auto& names = clipmatch::enum_names<Enum>();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i].value == value) return static_cast<CEnum>(i);
  return static_cast<CEnum>(0);
}

std::vector<std::string> strings(const char* const* items, std::size_t n, const char* name) {
  if (n > 0) require_arg(items, name);
  std::vector<std::string> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (items[i] == nullptr) invalid("{}[{}] is NULL", name, i);
    out.emplace_back(items[i]);
  }
  return out;
}

std::size_t product(std::size_t a, std::size_t b, const char* what) {
  if (b != 0 && a > std::numeric_limits<std::size_t>::max() / b) invalid("{} overflows size_t", what);
  return a * b;
}

/// Checks that `out` can take `needed` elements before any work is done.
void require_room(const void* out, std::size_t out_len, std::size_t needed, const char* name) {
  if (needed > 0) require_arg(out, name);
  if (out_len < needed) {
    throw BufferTooSmall(fmt::format("{} holds {} elements, {} needed", name, out_len, needed));
  }
}

void copy_out(const clipmatch::Matrix& matrix, float* out) {
  std::memcpy(out, matrix.data(), static_cast<std::size_t>(matrix.size()) * sizeof(float));
}

const clipmatch::Model& model_of(const clipmatch_model* model) {
  require_arg(model, "model");
  return model->model;
}

std::size_t embedding_floats(const clipmatch_model* model, std::size_t n) {
  return product(n, static_cast<std::size_t>(model_of(model).config().embed_dim), "n × embed_dim");
}

clipmatch::ProgressCallback progress_of(clipmatch_progress_callback callback, void* user_data) {
  if (callback == nullptr) return {};
  return [callback, user_data](const std::string& stage, std::size_t done, std::size_t total) {
    return callback(stage.c_str(), done, total, user_data) != 0;
  };
}

// The defaults of each versioned struct, from the C++ defaults (one source of truth for every face).
clipmatch_model_params defaults_of_clipmatch_model_params() {
  const clipmatch::ModelConfig defaults;  // one source of truth for the defaults of every face
  clipmatch_model_params p{};
  p.struct_size = sizeof(p);
  p.image_encoder = nullptr;
  p.text_encoder = nullptr;
  p.embed_dim = defaults.embed_dim;
  p.head = c_enum_of<clipmatch_head>(defaults.head);
  p.mlp_hidden = defaults.mlp_hidden;
  p.temperature = c_enum_of<clipmatch_temperature>(defaults.temperature);
  p.max_text_tokens = defaults.max_text_tokens;
  p.seed = defaults.seed;
  p.device = c_enum_of<clipmatch_device>(clipmatch::Device::Auto);
  return p;
}

clipmatch_encode_params defaults_of_clipmatch_encode_params() {
  const clipmatch::EncodeOptions defaults;
  clipmatch_encode_params p{};
  p.struct_size = sizeof(p);
  p.batch_size = defaults.batch_size;
  p.progress = nullptr;
  p.progress_user_data = nullptr;
  p.precision = c_enum_of<clipmatch_precision>(defaults.precision);
  return p;
}

clipmatch_metrics defaults_of_clipmatch_metrics() {
  clipmatch_metrics m{};
  m.struct_size = sizeof(m);
  return m;
}

clipmatch_train_params defaults_of_clipmatch_train_params() {
  const clipmatch::TrainOptions defaults;
  clipmatch_train_params p{};
  p.struct_size = sizeof(p);
  p.run_dir = nullptr;
  p.epochs = defaults.epochs;
  p.batch_size = defaults.batch_size;
  p.learning_rate = defaults.learning_rate;
  p.encoder_learning_rate = defaults.encoder_learning_rate;
  p.weight_decay = defaults.weight_decay;
  p.schedule = c_enum_of<clipmatch_schedule>(defaults.schedule);
  p.warmup_fraction = defaults.warmup_fraction;
  p.grad_clip_norm = defaults.grad_clip_norm;
  p.loss = c_enum_of<clipmatch_loss>(defaults.loss);
  p.freeze = c_enum_of<clipmatch_freeze>(defaults.freeze);
  p.unfreeze_top = defaults.unfreeze_top;
  p.unfreeze_top_text = defaults.unfreeze_top_text;
  p.early_stopping_patience = defaults.early_stopping_patience;
  p.cache_dir = nullptr;
  p.use_cache = defaults.use_cache;
  p.seed = defaults.seed;
  p.verbose = defaults.verbose;
  p.progress = nullptr;
  p.progress_user_data = nullptr;
  p.on_epoch = nullptr;
  p.on_epoch_user_data = nullptr;
  p.resume = defaults.resume;
  p.precision = c_enum_of<clipmatch_precision>(defaults.precision);
  p.ocr = defaults.ocr.enabled;
  p.ocr_fusion_weight = defaults.ocr.fusion_weight;
  p.ocr_cache_dir = nullptr;
  p.dist_rank = defaults.distributed.rank;
  p.dist_world_size = defaults.distributed.world_size;
  p.dist_local_rank = defaults.distributed.local_rank;
  p.dist_master_addr = nullptr;
  p.dist_master_port = defaults.distributed.master_port;
  p.dist_timeout_seconds = defaults.distributed.timeout_seconds;
  return p;
}

clipmatch_eval_params defaults_of_clipmatch_eval_params() {
  const clipmatch::EvalOptions defaults;
  clipmatch_eval_params p{};
  p.struct_size = sizeof(p);
  p.out_dir = nullptr;
  p.distance = c_enum_of<clipmatch_distance>(defaults.distance);
  p.cache_dir = nullptr;
  p.write_distance_npy = defaults.distance_npy;
  p.write_embeddings_npy = defaults.embeddings_npy;
  p.write_heatmap_png = defaults.heatmap_png;
  p.write_topk_csv = defaults.topk_csv;
  p.heatmap_size = defaults.heatmap_size;
  p.verbose = defaults.verbose;
  p.progress = nullptr;
  p.progress_user_data = nullptr;
  p.precision = c_enum_of<clipmatch_precision>(defaults.precision);
  p.ocr = defaults.ocr.enabled;
  p.ocr_fusion_weight = defaults.ocr.fusion_weight;
  p.ocr_cache_dir = nullptr;
  return p;
}

/// The text-channel fields shared by train and eval params.
template <typename Params>
clipmatch::OcrOptions ocr_options_of(const Params& p) {
  clipmatch::OcrOptions ocr;
  ocr.enabled = p.ocr != 0;
  ocr.fusion_weight = p.ocr_fusion_weight;
  ocr.cache_dir = p.ocr_cache_dir != nullptr ? p.ocr_cache_dir : "";
  return ocr;
}

/// Writes the first `size` bytes of `defaults` (and that size as struct_size) for a caller's struct.
template <typename T>
void fill_defaults(T* out, std::size_t size, T defaults) {
  if (out == nullptr || size < sizeof(std::size_t)) return;
  const std::size_t written = size < sizeof(T) ? size : sizeof(T);
  defaults.struct_size = written;
  std::memcpy(static_cast<void*>(out), &defaults, written);
}

clipmatch_direction_metrics to_c(const clipmatch::RetrievalMetrics& m) {
  return {m.r1, m.r5, m.r10, m.median_rank, m.mean_rank};
}

clipmatch_metrics to_c(const clipmatch::SplitMetricsMap& splits) {
  clipmatch_metrics out = defaults_of_clipmatch_metrics();
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

clipmatch::EncodeOptions encode_options(const clipmatch_encode_params* given) {
  const auto p = read_params(given, defaults_of_clipmatch_encode_params(), kFirstSizeEncode, "encode params",
                             "clipmatch_encode_default_params");
  if (p.batch_size == 0) invalid("encode params: batch_size must be positive");
  clipmatch::EncodeOptions options;
  options.batch_size = p.batch_size;
  options.precision = enum_of<clipmatch::Precision>(p.precision, "encode params: precision");
  options.progress = progress_of(p.progress, p.progress_user_data);
  return options;
}

clipmatch_status encode_posters(const clipmatch_model* model, const char* const* image_paths, std::size_t n,
                                const clipmatch_encode_params* params, float* out, std::size_t out_len) {
  return guarded([&] {
    const auto options = encode_options(params);
    require_room(out, out_len, embedding_floats(model, n), "out");
    copy_out(model_of(model).encode_posters(strings(image_paths, n, "image_paths"), options), out);
  });
}

clipmatch_status encode_intros(const clipmatch_model* model, const char* const* intros, std::size_t n,
                               const clipmatch_encode_params* params, float* out, std::size_t out_len) {
  return guarded([&] {
    const auto options = encode_options(params);
    require_room(out, out_len, embedding_floats(model, n), "out");
    copy_out(model_of(model).encode_intros(strings(intros, n, "intros"), options), out);
  });
}

clipmatch_status encode_poster_bytes(const clipmatch_model* model, const void* const* data, const std::size_t* sizes,
                                     std::size_t n, const clipmatch_encode_params* params, float* out,
                                     std::size_t out_len) {
  return guarded([&] {
    const auto options = encode_options(params);
    require_room(out, out_len, embedding_floats(model, n), "out");
    if (n > 0) {
      require_arg(data, "data");
      require_arg(sizes, "sizes");
    }
    std::vector<clipmatch::EncodedImage> images(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (data[i] == nullptr) invalid("data[{}] is NULL", i);
      images[i] = {static_cast<const std::uint8_t*>(data[i]), sizes[i]};
    }
    copy_out(model_of(model).encode_poster_bytes(images, options), out);
  });
}

}  // namespace

extern "C" {

const char* clipmatch_version(void) {
  static const std::string version = clipmatch::version();
  return version.c_str();
}

int clipmatch_abi_version(void) { return CLIPMATCH_ABI_VERSION; }

const char* clipmatch_last_error(void) { return last_error.c_str(); }

void clipmatch_set_log_callback(clipmatch_log_callback callback, void* user_data) {
  if (callback == nullptr) {
    clipmatch::set_log_callback({});
    return;
  }
  clipmatch::set_log_callback([callback, user_data](clipmatch::LogLevel level, const std::string& message) {
    callback(c_enum_of<int>(level), message.c_str(), user_data);
  });
}


clipmatch_status clipmatch_model_create(const clipmatch_model_params* params, clipmatch_model** out_model) {
  return guarded([&] {
    require_arg(out_model, "out_model");
    *out_model = nullptr;
    const auto p = read_params(params, defaults_of_clipmatch_model_params(), kFirstSizeModel, "model params",
                               "clipmatch_model_default_params");
    clipmatch::ModelConfig config;
    if (p.image_encoder != nullptr) config.image_encoder = clipmatch::EncoderSpec::parse(p.image_encoder);
    if (p.text_encoder != nullptr) config.text_encoder = clipmatch::EncoderSpec::parse(p.text_encoder);
    config.embed_dim = p.embed_dim;
    config.head = enum_of<clipmatch::HeadKind>(p.head, "model params: head");
    config.mlp_hidden = p.mlp_hidden;
    config.temperature = enum_of<clipmatch::TemperatureInit>(p.temperature, "model params: temperature");
    config.max_text_tokens = p.max_text_tokens;
    config.seed = p.seed;
    const auto device = enum_of<clipmatch::Device>(p.device, "model params: device");
    *out_model = new clipmatch_model{clipmatch::Model::create(config, device)};
  });
}

clipmatch_status clipmatch_model_load(const char* path, clipmatch_device device, clipmatch_model** out_model) {
  return guarded([&] {
    require_arg(out_model, "out_model");
    *out_model = nullptr;
    require_arg(path, "path");
    const auto where = enum_of<clipmatch::Device>(device, "device");
    *out_model = new clipmatch_model{clipmatch::Model::load(path, where)};
  });
}

clipmatch_status clipmatch_model_save(const clipmatch_model* model, const char* path) {
  return guarded([&] {
    require_arg(path, "path");
    model_of(model).save(path);
  });
}

void clipmatch_model_free(clipmatch_model* model) { delete model; }

int64_t clipmatch_model_embed_dim(const clipmatch_model* model) {
  return model == nullptr ? 0 : model->model.config().embed_dim;
}

double clipmatch_model_fusion_weight(const clipmatch_model* model) {
  return model == nullptr ? -1.0 : model->model.fusion_weight();
}

int clipmatch_ocr_available(void) { return clipmatch::ocr_available() ? 1 : 0; }

int clipmatch_distributed_available(void) { return clipmatch::distributed_available() ? 1 : 0; }

clipmatch_status clipmatch_distributed_from_environment(clipmatch_train_params* params) {
  return guarded([&] {
    require_arg(params, "params");
    if (params->struct_size < CLIPMATCH_END_OF(clipmatch_train_params, dist_timeout_seconds)) {
      invalid("params->struct_size is {}: it ends before the dist_* fields (start from "
              "clipmatch_train_default_params())", params->struct_size);
    }
    const auto from = clipmatch::DistributedOptions::from_environment();  // validates every variable first
    const auto set = [](const char* name) {
      const char* value = std::getenv(name);
      return value != nullptr && *value != '\0';
    };
    if (set("RANK")) params->dist_rank = from.rank;
    if (set("WORLD_SIZE")) params->dist_world_size = from.world_size;
    if (set("LOCAL_RANK")) params->dist_local_rank = from.local_rank;
    if (set("MASTER_PORT")) params->dist_master_port = from.master_port;
    if (set("MASTER_ADDR")) params->dist_master_addr = std::getenv("MASTER_ADDR");
  });
}


clipmatch_status clipmatch_encode_posters(const clipmatch_model* model, const char* const* image_paths, size_t n,
                                          float* out, size_t out_len) {
  return encode_posters(model, image_paths, n, nullptr, out, out_len);
}

clipmatch_status clipmatch_encode_posters_ex(const clipmatch_model* model, const char* const* image_paths, size_t n,
                                             const clipmatch_encode_params* params, float* out, size_t out_len) {
  return encode_posters(model, image_paths, n, params, out, out_len);
}

clipmatch_status clipmatch_encode_intros(const clipmatch_model* model, const char* const* intros, size_t n, float* out,
                                         size_t out_len) {
  return encode_intros(model, intros, n, nullptr, out, out_len);
}

clipmatch_status clipmatch_encode_intros_ex(const clipmatch_model* model, const char* const* intros, size_t n,
                                            const clipmatch_encode_params* params, float* out, size_t out_len) {
  return encode_intros(model, intros, n, params, out, out_len);
}

clipmatch_status clipmatch_encode_poster_bytes(const clipmatch_model* model, const void* const* data, const size_t* sizes,
                                               size_t n, float* out, size_t out_len) {
  return encode_poster_bytes(model, data, sizes, n, nullptr, out, out_len);
}

clipmatch_status clipmatch_encode_poster_bytes_ex(const clipmatch_model* model, const void* const* data,
                                                  const size_t* sizes, size_t n, const clipmatch_encode_params* params,
                                                  float* out, size_t out_len) {
  return encode_poster_bytes(model, data, sizes, n, params, out, out_len);
}

clipmatch_status clipmatch_encode_poster_pixels(const clipmatch_model* model, const uint8_t* pixels, size_t width,
                                                size_t height, size_t stride, size_t channels, float* out,
                                                size_t out_len) {
  return guarded([&] {
    require_room(out, out_len, embedding_floats(model, 1), "out");
    require_arg(pixels, "pixels");
    const clipmatch::PixelView view{pixels, width, height, stride, channels};
    copy_out(model_of(model).encode_poster_pixels({view}), out);
  });
}

clipmatch_status clipmatch_distance_matrix(const float* posters, size_t n_posters, const float* intros, size_t n_intros,
                                           size_t dim, clipmatch_distance kind, float* out, size_t out_len) {
  return guarded([&] {
    if (n_posters > 0) require_arg(posters, "posters");
    if (n_intros > 0) require_arg(intros, "intros");
    if (dim == 0) invalid("dim is 0");
    const auto distance = enum_of<clipmatch::DistanceKind>(kind, "kind");
    require_room(out, out_len, product(n_posters, n_intros, "n_posters × n_intros"), "out");
    using Map = Eigen::Map<const clipmatch::Matrix>;
    const clipmatch::Matrix p = Map(posters, static_cast<Eigen::Index>(n_posters), static_cast<Eigen::Index>(dim));
    const clipmatch::Matrix t = Map(intros, static_cast<Eigen::Index>(n_intros), static_cast<Eigen::Index>(dim));
    copy_out(clipmatch::distance_matrix(p, t, distance), out);
  });
}

clipmatch_status clipmatch_topk(const float* queries, size_t n_queries, const float* catalog, size_t n_catalog,
                                size_t dim, size_t k, clipmatch_distance kind, int64_t* out_indices,
                                float* out_distances, size_t out_len) {
  return guarded([&] {
    if (n_queries > 0) require_arg(queries, "queries");
    if (n_catalog > 0) require_arg(catalog, "catalog");
    if (dim == 0) invalid("dim is 0");
    if (k == 0) invalid("k is 0");
    const auto distance = enum_of<clipmatch::DistanceKind>(kind, "kind");
    const std::size_t needed = product(n_queries, k, "n_queries × k");
    require_room(out_indices, out_len, needed, "out_indices");
    require_room(out_distances, out_len, needed, "out_distances");
    clipmatch::top_k(queries, n_queries, catalog, n_catalog, dim, k, distance, out_indices, out_distances);
  });
}



clipmatch_status clipmatch_index_build(const float* rows, size_t n, size_t dim, const char* const* ids,
                                       clipmatch_index_kind kind, clipmatch_index** out_index) {
  return guarded([&] {
    require_arg(out_index, "out_index");
    *out_index = nullptr;
    if (n > 0) require_arg(rows, "rows");
    if (dim == 0) invalid("dim is 0");
    clipmatch::CatalogIndexOptions options;
    options.kind = enum_of<clipmatch::IndexKind>(kind, "kind");
    const clipmatch::Matrix matrix = Eigen::Map<const clipmatch::Matrix>(rows, static_cast<Eigen::Index>(n),
                                                                        static_cast<Eigen::Index>(dim));
    std::vector<std::string> names;
    if (ids != nullptr) {
      for (std::size_t i = 0; i < n; ++i) {
        if (ids[i] == nullptr) invalid("ids[{}] is NULL", i);
        names.emplace_back(ids[i]);
      }
    }
    *out_index = new clipmatch_index{clipmatch::CatalogIndex::build(matrix, std::move(names), {}, options)};
  });
}

clipmatch_status clipmatch_index_load(const char* folder, clipmatch_index** out_index) {
  return guarded([&] {
    require_arg(out_index, "out_index");
    *out_index = nullptr;
    require_arg(folder, "folder");
    *out_index = new clipmatch_index{clipmatch::CatalogIndex::load(folder)};
  });
}

clipmatch_status clipmatch_index_save(const clipmatch_index* index, const char* folder) {
  return guarded([&] {
    require_arg(index, "index");
    require_arg(folder, "folder");
    index->index.save(folder);
  });
}

clipmatch_status clipmatch_index_search(const clipmatch_index* index, const float* queries, size_t n_queries,
                                        size_t dim, size_t k, int64_t* out_indices, float* out_distances,
                                        size_t out_len) {
  return guarded([&] {
    require_arg(index, "index");
    if (n_queries > 0) require_arg(queries, "queries");
    if (k == 0) invalid("k is 0");
    if (dim != static_cast<std::size_t>(index->index.dim())) invalid("dim is {} but the index holds width {}", dim, index->index.dim());
    const std::size_t needed = product(n_queries, k, "n_queries × k");
    require_room(out_indices, out_len, needed, "out_indices");
    require_room(out_distances, out_len, needed, "out_distances");
    const clipmatch::Matrix matrix = Eigen::Map<const clipmatch::Matrix>(queries, static_cast<Eigen::Index>(n_queries),
                                                                        static_cast<Eigen::Index>(dim));
    const auto hits = index->index.search(matrix, k);
    std::copy(hits.indices.begin(), hits.indices.end(), out_indices);
    std::copy(hits.distances.begin(), hits.distances.end(), out_distances);
  });
}

size_t clipmatch_index_size(const clipmatch_index* index) { return index == nullptr ? 0 : index->index.size(); }

const char* clipmatch_index_id(const clipmatch_index* index, size_t row) {
  if (index == nullptr || row >= index->index.ids().size()) return nullptr;
  return index->index.ids()[row].c_str();
}

void clipmatch_index_free(clipmatch_index* index) { delete index; }


clipmatch_status clipmatch_train(clipmatch_model* model, const char* dataset_dir, const clipmatch_train_params* params,
                                 clipmatch_metrics* out_metrics) {
  return guarded([&] {
    require_arg(model, "model");
    require_arg(dataset_dir, "dataset_dir");
    const auto p = read_params(params, defaults_of_clipmatch_train_params(), kFirstSizeTrain, "train params",
                               "clipmatch_train_default_params");
    if (p.run_dir == nullptr) invalid("train params: run_dir is NULL (a run folder is required)");
    if (out_metrics != nullptr) write_out(out_metrics, defaults_of_clipmatch_metrics(), kFirstSizeMetrics, "out_metrics",
                                          "clipmatch_metrics_init");
    clipmatch::TrainOptions options;
    options.run_dir = p.run_dir;
    options.epochs = p.epochs;
    options.batch_size = p.batch_size;
    options.learning_rate = p.learning_rate;
    options.encoder_learning_rate = p.encoder_learning_rate;
    options.weight_decay = p.weight_decay;
    options.schedule = enum_of<clipmatch::Schedule>(p.schedule, "train params: schedule");
    options.warmup_fraction = p.warmup_fraction;
    options.grad_clip_norm = p.grad_clip_norm;
    options.loss = enum_of<clipmatch::LossKind>(p.loss, "train params: loss");
    options.freeze = enum_of<clipmatch::FreezeMode>(p.freeze, "train params: freeze");
    options.unfreeze_top = p.unfreeze_top;
    options.unfreeze_top_text = p.unfreeze_top_text;
    options.early_stopping_patience = p.early_stopping_patience;
    options.cache_dir = p.cache_dir != nullptr ? p.cache_dir : "";
    options.use_cache = p.use_cache != 0;
    options.seed = p.seed;
    options.verbose = p.verbose != 0;
    options.resume = p.resume != 0;
    options.precision = enum_of<clipmatch::Precision>(p.precision, "train params: precision");
    options.ocr = ocr_options_of(p);
    options.distributed.rank = p.dist_rank;
    options.distributed.world_size = p.dist_world_size;
    options.distributed.local_rank = p.dist_local_rank;
    if (p.dist_master_addr != nullptr) options.distributed.master_addr = p.dist_master_addr;
    options.distributed.master_port = p.dist_master_port;
    options.distributed.timeout_seconds = p.dist_timeout_seconds;
    options.progress = progress_of(p.progress, p.progress_user_data);
    if (p.on_epoch != nullptr) {
      options.on_epoch = [callback = p.on_epoch, user_data = p.on_epoch_user_data](const clipmatch::EpochLog& log) {
        clipmatch_epoch_metrics epoch{};
        epoch.struct_size = sizeof(epoch);
        epoch.epoch = log.epoch;
        epoch.train_loss = log.train_loss;
        epoch.learning_rate = log.learning_rate;
        epoch.logit_scale = log.temperature;
        epoch.seconds = log.seconds;
        epoch.evaluated = log.splits.empty() ? 0 : 1;
        epoch.metrics = to_c(log.splits);
        callback(&epoch, user_data);
      };
    }
    const auto data = clipmatch::load_dataset(dataset_dir);
    const auto report = model->model.train(data, options);
    if (out_metrics != nullptr) {
      for (const auto& epoch : report.history) {
        if (epoch.epoch == report.best_epoch) {
          write_out(out_metrics, to_c(epoch.splits), kFirstSizeMetrics, "out_metrics", "clipmatch_metrics_init");
        }
      }
    }
  });
}


clipmatch_status clipmatch_evaluate(const clipmatch_model* model, const char* dataset_dir,
                                    const clipmatch_eval_params* params, clipmatch_metrics* out_metrics) {
  return guarded([&] {
    const auto& m = model_of(model);
    require_arg(dataset_dir, "dataset_dir");
    const auto p = read_params(params, defaults_of_clipmatch_eval_params(), kFirstSizeEval, "eval params",
                               "clipmatch_eval_default_params");
    if (out_metrics != nullptr) write_out(out_metrics, defaults_of_clipmatch_metrics(), kFirstSizeMetrics, "out_metrics",
                                          "clipmatch_metrics_init");
    clipmatch::EvalOptions options;
    options.distance = enum_of<clipmatch::DistanceKind>(p.distance, "eval params: distance");
    options.cache_dir = p.cache_dir != nullptr ? p.cache_dir : "";
    options.distance_npy = p.write_distance_npy != 0;
    options.embeddings_npy = p.write_embeddings_npy != 0;
    options.heatmap_png = p.write_heatmap_png != 0;
    options.topk_csv = p.write_topk_csv != 0;
    options.heatmap_size = p.heatmap_size;
    options.verbose = p.verbose != 0;
    options.precision = enum_of<clipmatch::Precision>(p.precision, "eval params: precision");
    options.ocr = ocr_options_of(p);
    options.progress = progress_of(p.progress, p.progress_user_data);
    const auto report = m.evaluate(clipmatch::load_dataset(dataset_dir), p.out_dir != nullptr ? p.out_dir : "", options);
    if (out_metrics != nullptr) write_out(out_metrics, to_c(report.splits), kFirstSizeMetrics, "out_metrics",
                                          "clipmatch_metrics_init");
  });
}

clipmatch_status clipmatch_synthesize_dataset(const char* out_dir, size_t n, uint64_t seed) {
  return guarded([&] {
    require_arg(out_dir, "out_dir");
    clipmatch::SynthOptions options;
    options.out = out_dir;
    options.n = n;
    options.seed = seed;
    clipmatch::synthesize_dataset(options);
  });
}

void clipmatch_model_default_params_sized(clipmatch_model_params* out, size_t struct_size) {
  fill_defaults(out, struct_size, defaults_of_clipmatch_model_params());
}

void clipmatch_encode_default_params_sized(clipmatch_encode_params* out, size_t struct_size) {
  fill_defaults(out, struct_size, defaults_of_clipmatch_encode_params());
}

void clipmatch_metrics_init_sized(clipmatch_metrics* out, size_t struct_size) {
  fill_defaults(out, struct_size, defaults_of_clipmatch_metrics());
}

void clipmatch_train_default_params_sized(clipmatch_train_params* out, size_t struct_size) {
  fill_defaults(out, struct_size, defaults_of_clipmatch_train_params());
}

void clipmatch_eval_default_params_sized(clipmatch_eval_params* out, size_t struct_size) {
  fill_defaults(out, struct_size, defaults_of_clipmatch_eval_params());
}

}  // extern "C"
