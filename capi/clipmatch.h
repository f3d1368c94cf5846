/* clipmatch — the stable C ABI.
 *
 * Conventions (after llama.h / faiss's c_api):
 *  - Opaque handles (clipmatch_model) created by clipmatch_model_create/_load and released with
 *    clipmatch_model_free. Handles are not thread-safe; use one per thread or lock around calls.
 *  - Parameters are plain structs passed by value; start from clipmatch_*_default_params().
 *  - Every fallible call returns a clipmatch_status; CLIPMATCH_OK is 0. On failure
 *    clipmatch_last_error() returns a message naming the file, row or field (thread-local, valid until the
 *    next failing call on the same thread). C++ exceptions never cross this boundary.
 *  - Matrices are row-major float32 buffers owned by the caller; sizes are passed explicitly and checked.
 *  - Strings are UTF-8, NUL-terminated.
 */
#ifndef CLIPMATCH_H
#define CLIPMATCH_H

#include <clipmatch/export.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLIPMATCH_ABI_VERSION 1

typedef enum clipmatch_status {
  CLIPMATCH_OK = 0,
  CLIPMATCH_ERROR_INVALID_ARGUMENT = 1,
  CLIPMATCH_ERROR_IO = 2,
  CLIPMATCH_ERROR_FORMAT = 3,
  CLIPMATCH_ERROR_CHECKPOINT = 4,
  CLIPMATCH_ERROR_UNSUPPORTED = 5,
  CLIPMATCH_ERROR_INTERNAL = 6,
  CLIPMATCH_ERROR_BUFFER_TOO_SMALL = 7
} clipmatch_status;

typedef enum clipmatch_device { CLIPMATCH_DEVICE_AUTO = 0, CLIPMATCH_DEVICE_CPU = 1, CLIPMATCH_DEVICE_CUDA = 2 } clipmatch_device;

typedef enum clipmatch_distance {
  CLIPMATCH_DISTANCE_ONE_MINUS_COSINE = 0, /* 1 - cos, the default */
  CLIPMATCH_DISTANCE_NEGATIVE_COSINE = 1   /* -cos, as the course project did */
} clipmatch_distance;

typedef enum clipmatch_loss { CLIPMATCH_LOSS_INFONCE = 0, CLIPMATCH_LOSS_SIGLIP = 1, CLIPMATCH_LOSS_MULTI_POSITIVE = 2 } clipmatch_loss;
typedef enum clipmatch_freeze { CLIPMATCH_FREEZE_FROZEN = 0, CLIPMATCH_FREEZE_TOP_K = 1, CLIPMATCH_FREEZE_FULL = 2 } clipmatch_freeze;

typedef struct clipmatch_model clipmatch_model;

/** Library version, "MAJOR.MINOR.PATCH"; a static string. */
CLIPMATCH_API const char* clipmatch_version(void);
/** ABI version of this header (CLIPMATCH_ABI_VERSION the library was built with). */
CLIPMATCH_API int clipmatch_abi_version(void);
/** Message of the last failure on this thread ("" if none). */
CLIPMATCH_API const char* clipmatch_last_error(void);

typedef struct clipmatch_model_params {
  const char* image_encoder; /* "KIND" or "KIND:PATH", e.g. "mobilenet_v2:/w/mnv2"; NULL = "tiny_cnn" */
  const char* text_encoder;  /* e.g. "glove:/w/glove"; NULL = "tiny_text" */
  int64_t embed_dim;         /* 128 */
  int mlp_head;              /* 0 = Linear head (course), 1 = MLP head */
  int course_temperature;    /* 0 = CLIP init (t = log 1/0.07), 1 = course init (t = 1.0) */
  uint64_t seed;
  clipmatch_device device;
} clipmatch_model_params;

CLIPMATCH_API clipmatch_model_params clipmatch_model_default_params(void);
CLIPMATCH_API clipmatch_status clipmatch_model_create(clipmatch_model_params params, clipmatch_model** out_model);
/** Loads a checkpoint (model.safetensors) or a run folder. */
CLIPMATCH_API clipmatch_status clipmatch_model_load(const char* path, clipmatch_device device, clipmatch_model** out_model);
CLIPMATCH_API clipmatch_status clipmatch_model_save(const clipmatch_model* model, const char* path);
CLIPMATCH_API void clipmatch_model_free(clipmatch_model* model);
/** Width of the embeddings (the rows written by the encode functions). */
CLIPMATCH_API int64_t clipmatch_model_embed_dim(const clipmatch_model* model);

/** Writes n × embed_dim L2-normalised floats into out (out_len floats available). */
CLIPMATCH_API clipmatch_status clipmatch_encode_posters(const clipmatch_model* model, const char* const* image_paths, size_t n,
                                                        float* out, size_t out_len);
CLIPMATCH_API clipmatch_status clipmatch_encode_intros(const clipmatch_model* model, const char* const* intros, size_t n,
                                                       float* out, size_t out_len);

/** out[i * n_intros + j] = distance(poster i, intro j) for row-major embeddings of width dim. */
CLIPMATCH_API clipmatch_status clipmatch_distance_matrix(const float* posters, size_t n_posters, const float* intros,
                                                         size_t n_intros, size_t dim, clipmatch_distance kind, float* out,
                                                         size_t out_len);

typedef struct clipmatch_train_params {
  const char* run_dir; /* required: checkpoints, epochs.jsonl, evaluation outputs */
  int epochs;
  int batch_size;
  double learning_rate;
  double encoder_learning_rate;
  double weight_decay;
  clipmatch_loss loss;
  clipmatch_freeze freeze;
  int unfreeze_top;
  int early_stopping_patience; /* 0 = off */
  uint64_t seed;
  int verbose;
  int unfreeze_top_text; /* top-k: the intro encoder's own depth; -1 = unfreeze_top */
} clipmatch_train_params;

CLIPMATCH_API clipmatch_train_params clipmatch_train_default_params(void);

typedef struct clipmatch_direction_metrics {
  double r1, r5, r10, median_rank, mean_rank;
} clipmatch_direction_metrics;

typedef struct clipmatch_split_metrics {
  size_t n; /* 0 when the split is empty */
  double acc_dim0, acc_dim1;
  clipmatch_direction_metrics poster_to_intro, intro_to_poster;
} clipmatch_split_metrics;

typedef struct clipmatch_metrics {
  clipmatch_split_metrics all, train, heldout;
} clipmatch_metrics;

/** Trains on the dataset folder (movies.csv + train.txt); metrics of the best epoch go to out_metrics (may be NULL). */
CLIPMATCH_API clipmatch_status clipmatch_train(clipmatch_model* model, const char* dataset_dir, clipmatch_train_params params,
                                               clipmatch_metrics* out_metrics);
/** Evaluates on the dataset folder; writes metrics.json, distance.npy, … into out_dir unless it is NULL. */
CLIPMATCH_API clipmatch_status clipmatch_evaluate(const clipmatch_model* model, const char* dataset_dir, const char* out_dir,
                                                  clipmatch_metrics* out_metrics);

/** Writes a synthetic poster/intro dataset of n movies into out_dir (deterministic for a seed). */
CLIPMATCH_API clipmatch_status clipmatch_synthesize_dataset(const char* out_dir, size_t n, uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif /* CLIPMATCH_H */
