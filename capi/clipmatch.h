/* clipmatch — the stable C ABI (version 2).
 *
 * Conventions (after whisper.h / llama.h / onnxruntime / faiss's c_api):
 *  - Opaque handles: clipmatch_model, made by clipmatch_model_create / clipmatch_model_load and released with
 *    clipmatch_model_free. The library owns what a handle points to; the caller owns every buffer it passes.
 *  - Structs that cross the ABI (parameters in, metrics out) begin with `size_t struct_size` and are passed by
 *    pointer. Always start from clipmatch_*_default_params() / clipmatch_*_init(), which set struct_size to the
 *    size this header declares, then change fields. (Those are inline functions over the exported
 *    clipmatch_*_sized(out, sizeof *out): the library fills only the caller's size, so no struct is ever returned
 *    by value across the ABI, where a larger struct of a newer library would overrun an older caller's.) The library reads (and, for outputs, writes) only the fields
 *    that the caller's struct_size covers and uses defaults for the rest, so a program built against an older
 *    header keeps working when fields are appended in later versions. Fields are only ever appended. A NULL
 *    parameter pointer means "all defaults". A struct_size smaller than the struct's first version or larger
 *    than this library knows is CLIPMATCH_ERROR_INVALID_ARGUMENT.
 *  - Every fallible call returns a clipmatch_status; CLIPMATCH_OK is 0. C++ exceptions never cross the ABI.
 *  - Errors: each call that returns a clipmatch_status sets the calling thread's last-error message:
 *    "" on success, a message naming the argument, file, row or field on failure. clipmatch_last_error()
 *    returns it; the pointer stays valid until the next clipmatch call on the same thread. (Functions that
 *    return no status — version, embed_dim, free, the *_init / *_default_params — leave it untouched.)
 *  - Invalid arguments (NULL handles, NULL buffers, unknown enum values, bad sizes) are
 *    CLIPMATCH_ERROR_INVALID_ARGUMENT and the message names the argument. An output buffer shorter than
 *    needed is CLIPMATCH_ERROR_BUFFER_TOO_SMALL and the message gives the length needed; nothing is written.
 *  - Matrices are row-major float32 buffers; lengths are counted in elements and checked.
 *  - Strings are UTF-8 and NUL-terminated; the library copies what it keeps.
 *  - Threads: one model may encode (clipmatch_encode_*) and evaluate from many threads at once; these calls
 *    change nothing in the model. clipmatch_train, clipmatch_model_save and clipmatch_model_free need the
 *    model to themselves (no other call on it may run meanwhile). Different models are independent.
 *  - Callbacks run on the thread that made the call. A progress callback returning 0 cancels the call: it
 *    returns CLIPMATCH_ERROR_CANCELLED, every file it wrote is complete (files are written atomically), and
 *    the model stays usable (a cancelled training keeps the best epoch reached, else its weights before).
 *    To cancel from another thread, have the callback read a flag that thread sets.
 */
#ifndef CLIPMATCH_H
#define CLIPMATCH_H

#include <clipmatch/export.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLIPMATCH_ABI_VERSION 2

typedef enum clipmatch_status {
  CLIPMATCH_OK = 0,
  CLIPMATCH_ERROR_INVALID_ARGUMENT = 1,
  CLIPMATCH_ERROR_IO = 2,
  CLIPMATCH_ERROR_FORMAT = 3,
  CLIPMATCH_ERROR_CHECKPOINT = 4,
  CLIPMATCH_ERROR_UNSUPPORTED = 5,
  CLIPMATCH_ERROR_INTERNAL = 6,
  CLIPMATCH_ERROR_BUFFER_TOO_SMALL = 7,
  CLIPMATCH_ERROR_CANCELLED = 8
} clipmatch_status;

typedef enum clipmatch_device { CLIPMATCH_DEVICE_AUTO = 0, CLIPMATCH_DEVICE_CPU = 1, CLIPMATCH_DEVICE_CUDA = 2 } clipmatch_device;

typedef enum clipmatch_distance {
  CLIPMATCH_DISTANCE_ONE_MINUS_COSINE = 0, /* "1-cos", the default */
  CLIPMATCH_DISTANCE_NEGATIVE_COSINE = 1   /* "-cos", as the course project did */
} clipmatch_distance;

typedef enum clipmatch_loss { CLIPMATCH_LOSS_INFONCE = 0, CLIPMATCH_LOSS_SIGLIP = 1, CLIPMATCH_LOSS_MULTI_POSITIVE = 2 } clipmatch_loss;
typedef enum clipmatch_freeze { CLIPMATCH_FREEZE_FROZEN = 0, CLIPMATCH_FREEZE_TOP_K = 1, CLIPMATCH_FREEZE_FULL = 2 } clipmatch_freeze;
typedef enum clipmatch_head { CLIPMATCH_HEAD_LINEAR = 0, CLIPMATCH_HEAD_MLP = 1 } clipmatch_head;
typedef enum clipmatch_temperature {
  CLIPMATCH_TEMPERATURE_CLIP = 0,  /* t = log(1/0.07) */
  CLIPMATCH_TEMPERATURE_COURSE = 1 /* t = 1.0 */
} clipmatch_temperature;
typedef enum clipmatch_schedule {
  CLIPMATCH_SCHEDULE_CONSTANT = 0,
  CLIPMATCH_SCHEDULE_WARMUP_COSINE = 1,
  CLIPMATCH_SCHEDULE_PLATEAU = 2
} clipmatch_schedule;
/* Number format of encoder inference; see clipmatch::Precision and docs/c-api.md. */
typedef enum clipmatch_precision {
  CLIPMATCH_PRECISION_FP32 = 0, /* float32 throughout, the default */
  CLIPMATCH_PRECISION_BF16 = 1, /* bfloat16 encoders (CPUs with AVX512-BF16 or AMX, and CUDA) */
  CLIPMATCH_PRECISION_INT8 = 2  /* int8 transformer Linear layers, bf16 attention, int8 MobileNetV2 convolutions (CPU only) */
} clipmatch_precision;
typedef enum clipmatch_log_level {
  CLIPMATCH_LOG_DEBUG = 0,
  CLIPMATCH_LOG_INFO = 1,
  CLIPMATCH_LOG_WARNING = 2,
  CLIPMATCH_LOG_ERROR = 3
} clipmatch_log_level;

typedef struct clipmatch_model clipmatch_model;

/** Progress of a long call: `stage` names the work ("encode posters", "encode intros", "train", …), `done`
 *  of `total` units are finished. Return non-zero to go on, 0 to cancel the call. */
typedef int (*clipmatch_progress_callback)(const char* stage, size_t done, size_t total, void* user_data);
/** Receives every message the library would otherwise print; `level` is a clipmatch_log_level. */
typedef void (*clipmatch_log_callback)(int level, const char* message, void* user_data);

/** Library version, "MAJOR.MINOR.PATCH"; a static string. */
CLIPMATCH_API const char* clipmatch_version(void);
/** ABI version of the library (CLIPMATCH_ABI_VERSION it was built with); compare with the header's. */
CLIPMATCH_API int clipmatch_abi_version(void);
/** The calling thread's message of its last clipmatch call that returned a status ("" after a success). */
CLIPMATCH_API const char* clipmatch_last_error(void);
/** Process-wide log sink for every message the library prints (progress lines, per-epoch lines, warnings).
 *  NULL restores the default (standard error). May be called from any thread; the callback may be called from
 *  any thread that runs library code, one message at a time. */
CLIPMATCH_API void clipmatch_set_log_callback(clipmatch_log_callback callback, void* user_data);

/* --- models ------------------------------------------------------------------------------------------------ */

typedef struct clipmatch_model_params {
  size_t struct_size;                /* sizeof(clipmatch_model_params), set by clipmatch_model_default_params() */
  const char* image_encoder;         /* "KIND" or "KIND:PATH", e.g. "mobilenet_v2:/w/mnv2"; NULL = "tiny_cnn" */
  const char* text_encoder;          /* e.g. "glove:/w/glove"; NULL = "tiny_text" */
  int64_t embed_dim;                 /* 128 */
  clipmatch_head head;               /* linear (course) or MLP */
  int64_t mlp_hidden;                /* hidden width of the MLP head */
  clipmatch_temperature temperature; /* initial t */
  int64_t max_text_tokens;           /* 0 = the intro encoder's own limit */
  uint64_t seed;
  clipmatch_device device;
} clipmatch_model_params;

CLIPMATCH_API void clipmatch_model_default_params_sized(clipmatch_model_params* out, size_t struct_size);
static inline clipmatch_model_params clipmatch_model_default_params(void) {
  clipmatch_model_params value;
  clipmatch_model_default_params_sized(&value, sizeof value);
  return value;
}
CLIPMATCH_API clipmatch_status clipmatch_model_create(const clipmatch_model_params* params, clipmatch_model** out_model);
/** Loads a checkpoint (model.safetensors) or a run folder (its best checkpoint). */
CLIPMATCH_API clipmatch_status clipmatch_model_load(const char* path, clipmatch_device device, clipmatch_model** out_model);
/** Writes a checkpoint atomically. */
CLIPMATCH_API clipmatch_status clipmatch_model_save(const clipmatch_model* model, const char* path);
/** Frees the model; NULL is allowed. */
CLIPMATCH_API void clipmatch_model_free(clipmatch_model* model);
/** Width of the embeddings (the rows written by the encode functions); 0 for NULL. */
CLIPMATCH_API int64_t clipmatch_model_embed_dim(const clipmatch_model* model);
/** The poster-text channel's fusion weight the model learned or was given in training (saved with it); -1 when
 *  it has none or model is NULL. */
CLIPMATCH_API double clipmatch_model_fusion_weight(const clipmatch_model* model);
/** 1 when this library can read posters (built with Tesseract, English data installed), else 0. */
CLIPMATCH_API int clipmatch_ocr_available(void);

/* --- encoding: every function writes n × embed_dim L2-normalised floats into out (out_len floats) -------- */

typedef struct clipmatch_encode_params {
  size_t struct_size;
  size_t batch_size; /* items per encoder batch (64) */
  clipmatch_progress_callback progress;
  void* progress_user_data;
  clipmatch_precision precision; /* appended after ABI 2.0: a struct_size that ends before it means FP32 */
} clipmatch_encode_params;

CLIPMATCH_API void clipmatch_encode_default_params_sized(clipmatch_encode_params* out, size_t struct_size);
static inline clipmatch_encode_params clipmatch_encode_default_params(void) {
  clipmatch_encode_params value;
  clipmatch_encode_default_params_sized(&value, sizeof value);
  return value;
}

/** Posters given as image files (JPEG, PNG, BMP, GIF, TGA, PNM). */
CLIPMATCH_API clipmatch_status clipmatch_encode_posters(const clipmatch_model* model, const char* const* image_paths, size_t n,
                                                        float* out, size_t out_len);
/** Intros (UTF-8 text). */
CLIPMATCH_API clipmatch_status clipmatch_encode_intros(const clipmatch_model* model, const char* const* intros, size_t n,
                                                       float* out, size_t out_len);
/** Posters given as encoded image files held in memory: data[i] holds sizes[i] bytes. */
CLIPMATCH_API clipmatch_status clipmatch_encode_poster_bytes(const clipmatch_model* model, const void* const* data,
                                                             const size_t* sizes, size_t n, float* out, size_t out_len);
/** One decoded poster: `height` rows of `width` pixels, `stride` bytes from one row to the next, `channels`
 *  3 (RGB) or 4 (RGBA, alpha composited over white as for image files). Same preprocessing as a file: a poster
 *  given as a path, as its bytes or as its decoded pixels gives the same embedding. */
CLIPMATCH_API clipmatch_status clipmatch_encode_poster_pixels(const clipmatch_model* model, const uint8_t* pixels, size_t width,
                                                              size_t height, size_t stride, size_t channels, float* out,
                                                              size_t out_len);
/** The same with batch size and progress callback (params may be NULL). */
CLIPMATCH_API clipmatch_status clipmatch_encode_posters_ex(const clipmatch_model* model, const char* const* image_paths, size_t n,
                                                           const clipmatch_encode_params* params, float* out, size_t out_len);
CLIPMATCH_API clipmatch_status clipmatch_encode_intros_ex(const clipmatch_model* model, const char* const* intros, size_t n,
                                                          const clipmatch_encode_params* params, float* out, size_t out_len);
CLIPMATCH_API clipmatch_status clipmatch_encode_poster_bytes_ex(const clipmatch_model* model, const void* const* data,
                                                                const size_t* sizes, size_t n,
                                                                const clipmatch_encode_params* params, float* out,
                                                                size_t out_len);

/* --- comparing embeddings ----------------------------------------------------------------------------------- */

/** out[i * n_intros + j] = distance(poster i, intro j) for L2-normalised row-major embeddings of width dim. */
CLIPMATCH_API clipmatch_status clipmatch_distance_matrix(const float* posters, size_t n_posters, const float* intros,
                                                         size_t n_intros, size_t dim, clipmatch_distance kind, float* out,
                                                         size_t out_len);

/** The k nearest catalog rows of every query row, nearest first, without building the full matrix: row q of
 *  out_indices / out_distances (n_queries × k each, out_len elements each) holds catalog indices and their
 *  distances; ties go to the lower index, as in the distance matrix. When k > n_catalog the missing entries are
 *  index -1 and distance +infinity. Computed in blocks of at most 256 queries × 32,768 catalog rows, so the
 *  working memory is bounded whatever the sizes: 10,000 queries × 1,000,000 catalog rows × 128 dims added
 *  96 MiB of peak memory beyond the inputs and outputs (a 32 MiB block of similarities, BLAS's own buffers,
 *  the k-best lists) and took 45 s on 2 cores (bench_top_k_search). */
CLIPMATCH_API clipmatch_status clipmatch_topk(const float* queries, size_t n_queries, const float* catalog, size_t n_catalog,
                                              size_t dim, size_t k, clipmatch_distance kind, int64_t* out_indices,
                                              float* out_distances, size_t out_len);

/* --- metrics ---------------------------------------------------------------------------------------------- */

typedef struct clipmatch_direction_metrics {
  double r1, r5, r10, median_rank, mean_rank;
} clipmatch_direction_metrics;

typedef struct clipmatch_split_metrics {
  size_t n; /* 0 when the split is empty */
  double acc_dim0, acc_dim1;
  clipmatch_direction_metrics poster_to_intro, intro_to_poster;
} clipmatch_split_metrics;

typedef struct clipmatch_metrics {
  size_t struct_size; /* set by clipmatch_metrics_init() */
  clipmatch_split_metrics all, train, heldout;
} clipmatch_metrics;

/** An empty metrics struct with struct_size set: pass its address to train / evaluate. The *_sized functions
 *  (here and for every parameter struct) write the defaults of the first struct_size bytes and set struct_size. */
CLIPMATCH_API void clipmatch_metrics_init_sized(clipmatch_metrics* out, size_t struct_size);
static inline clipmatch_metrics clipmatch_metrics_init(void) {
  clipmatch_metrics value;
  clipmatch_metrics_init_sized(&value, sizeof value);
  return value;
}

/** What a training epoch measured, passed to clipmatch_train_params.on_epoch. Read fields beyond the ones you
 *  know only when struct_size covers them (a newer library may pass a larger struct). */
typedef struct clipmatch_epoch_metrics {
  size_t struct_size;
  int epoch; /* 1-based */
  double train_loss;
  double learning_rate;
  double logit_scale; /* exp(t) */
  double seconds;
  int evaluated; /* 0 when this epoch was not evaluated (metrics empty) */
  clipmatch_metrics metrics;
} clipmatch_epoch_metrics;

/* --- catalog indexes (FAISS): search catalogs too large for a distance matrix ------------------------------- */

typedef struct clipmatch_index clipmatch_index;
/** The order of clipmatch::enum_names<IndexKind>(): "flat" (exact), "hnsw" (approximate, the default),
 *  "ivf-pq" (approximate, smallest). */
typedef enum clipmatch_index_kind {
  CLIPMATCH_INDEX_FLAT = 0,
  CLIPMATCH_INDEX_HNSW = 1,
  CLIPMATCH_INDEX_IVF_PQ = 2
} clipmatch_index_kind;

/** Indexes n L2-normalised rows of width dim (inner product). ids: NULL or n strings kept beside the index
 *  (saved with it). CLIPMATCH_ERROR_UNSUPPORTED when the library was built without FAISS. */
CLIPMATCH_API clipmatch_status clipmatch_index_build(const float* rows, size_t n, size_t dim, const char* const* ids,
                                                     clipmatch_index_kind kind, clipmatch_index** out_index);
/** Loads an index folder written by clipmatch_index_save or `clipmatch index` (IVF-PQ lists memory-mapped). */
CLIPMATCH_API clipmatch_status clipmatch_index_load(const char* folder, clipmatch_index** out_index);
/** Writes folder/index.faiss and folder/catalog.json, each atomically. */
CLIPMATCH_API clipmatch_status clipmatch_index_save(const clipmatch_index* index, const char* folder);
/** The k nearest rows of each query, nearest first, as clipmatch_topk reports them (distance 1 − inner product;
 *  missing entries -1 / +infinity); out_indices and out_distances hold out_len ≥ n_queries × k elements each. */
CLIPMATCH_API clipmatch_status clipmatch_index_search(const clipmatch_index* index, const float* queries,
                                                      size_t n_queries, size_t dim, size_t k, int64_t* out_indices,
                                                      float* out_distances, size_t out_len);
/** Rows in the index; 0 for NULL. */
CLIPMATCH_API size_t clipmatch_index_size(const clipmatch_index* index);
/** The id of a row (valid while the index lives), or NULL when the index has no ids or row is out of range. */
CLIPMATCH_API const char* clipmatch_index_id(const clipmatch_index* index, size_t row);
/** Frees the index; NULL is allowed. */
CLIPMATCH_API void clipmatch_index_free(clipmatch_index* index);

typedef void (*clipmatch_epoch_callback)(const clipmatch_epoch_metrics* epoch, void* user_data);

/* --- training and evaluation ------------------------------------------------------------------------------ */

typedef struct clipmatch_train_params {
  size_t struct_size;        /* set by clipmatch_train_default_params() */
  const char* run_dir;       /* required: checkpoints, epochs.jsonl */
  int epochs;
  int batch_size;
  double learning_rate;         /* heads and temperature */
  double encoder_learning_rate; /* unfrozen encoder weights */
  double weight_decay;
  clipmatch_schedule schedule;
  double warmup_fraction;
  double grad_clip_norm;     /* 0 = no clipping */
  clipmatch_loss loss;
  clipmatch_freeze freeze;
  int unfreeze_top;          /* top-k: trainable top blocks/stages of each encoder */
  int unfreeze_top_text;     /* top-k: the intro encoder's own depth; -1 = unfreeze_top */
  int early_stopping_patience; /* 0 = off */
  const char* cache_dir;     /* feature cache; NULL = <run_dir>/../.clipmatch-cache */
  int use_cache;             /* 0 = neither read nor write the feature cache */
  uint64_t seed;
  int verbose;               /* progress lines and one line per epoch to the log sink */
  clipmatch_progress_callback progress; /* stages "encode posters", "encode intros", "train" (steps) */
  void* progress_user_data;
  clipmatch_epoch_callback on_epoch;    /* after every epoch */
  void* on_epoch_user_data;
  int resume;                /* 1 = continue the run in run_dir from its last completed epoch (run_dir/resume.safetensors) */
  clipmatch_precision precision; /* frozen encoders' cached features, per-epoch evaluation; appended after ABI 2.0 */
  /* The poster-text channel (appended after ABI 2.0; a struct_size that ends before them means off): each poster
   * is read with Tesseract and its words scored against the intros (BM25); scores become cos + w·bm25. */
  int ocr;                     /* 1 = on */
  double ocr_fusion_weight;    /* w; < 0 = learned on a calibration slice of the training rows held back from the heads */
  const char* ocr_cache_dir;   /* OCR results cache; NULL = the feature cache folder */
  /* Data-parallel training across processes (appended after ABI 2.0; docs/distributed.md): this call is rank
   * dist_rank of dist_world_size, which meet at dist_master_addr:dist_master_port (rank 0 hosts the store); the
   * global batch_size is split across them. dist_world_size 1 = this process alone (the default).
   * clipmatch_distributed_from_environment() fills these from RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
   * MASTER_PORT, as torchrun and SLURM set them. */
  int dist_rank;
  int dist_world_size;
  int dist_local_rank;
  const char* dist_master_addr;  /* NULL = 127.0.0.1 */
  int dist_master_port;
  double dist_timeout_seconds;   /* a collective waiting longer for the other ranks fails the call */
} clipmatch_train_params;

/** Fills the dist_* fields of `params` from RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (unset ones keep
 * their values; dist_master_addr then points into the environment). CLIPMATCH_INVALID_ARGUMENT names a variable
 * that is not a number. */
CLIPMATCH_API clipmatch_status clipmatch_distributed_from_environment(clipmatch_train_params* params);
/** 1 when this library can train across processes (LibTorch's Gloo backend was found at build time), else 0. */
CLIPMATCH_API int clipmatch_distributed_available(void);

CLIPMATCH_API void clipmatch_train_default_params_sized(clipmatch_train_params* out, size_t struct_size);
static inline clipmatch_train_params clipmatch_train_default_params(void) {
  clipmatch_train_params value;
  clipmatch_train_default_params_sized(&value, sizeof value);
  return value;
}

/** Trains on the dataset folder (movies.csv + train.txt); the best epoch's metrics go to out_metrics (may be NULL;
 *  else initialise it with clipmatch_metrics_init()). */
CLIPMATCH_API clipmatch_status clipmatch_train(clipmatch_model* model, const char* dataset_dir,
                                               const clipmatch_train_params* params, clipmatch_metrics* out_metrics);

typedef struct clipmatch_eval_params {
  size_t struct_size;   /* set by clipmatch_eval_default_params() */
  const char* out_dir;  /* NULL = write no files; else metrics.json, distance.npy, posters.npy, intros.npy,
                           heatmap.png, topk.csv (each can be switched off below) */
  clipmatch_distance distance;
  const char* cache_dir; /* feature cache to read frozen encoders' features from (e.g. the training run's); NULL = none */
  int write_distance_npy;
  int write_embeddings_npy;
  int write_heatmap_png;
  int write_topk_csv;
  size_t heatmap_size;   /* rows/columns of the matrix block drawn */
  int verbose;           /* progress lines to the log sink */
  clipmatch_progress_callback progress;
  void* progress_user_data;
  clipmatch_precision precision; /* appended after ABI 2.0 */
  /* The poster-text channel (appended after ABI 2.0; a struct_size that ends before them means off): each poster
   * is read with Tesseract and its words scored against the intros (BM25); scores become cos + w·bm25. */
  int ocr;                     /* 1 = on */
  double ocr_fusion_weight;    /* w; < 0 = the model's learned weight (or the library default when it has none) */
  const char* ocr_cache_dir;   /* OCR results cache; NULL = the feature cache folder */
} clipmatch_eval_params;

CLIPMATCH_API void clipmatch_eval_default_params_sized(clipmatch_eval_params* out, size_t struct_size);
static inline clipmatch_eval_params clipmatch_eval_default_params(void) {
  clipmatch_eval_params value;
  clipmatch_eval_default_params_sized(&value, sizeof value);
  return value;
}

/** Evaluates on the dataset folder (train / held-out / all); out_metrics may be NULL. */
CLIPMATCH_API clipmatch_status clipmatch_evaluate(const clipmatch_model* model, const char* dataset_dir,
                                                  const clipmatch_eval_params* params, clipmatch_metrics* out_metrics);

/* --- data ------------------------------------------------------------------------------------------------- */

/** Writes a synthetic poster/intro dataset of n movies into out_dir (deterministic for a seed). */
CLIPMATCH_API clipmatch_status clipmatch_synthesize_dataset(const char* out_dir, size_t n, uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif /* CLIPMATCH_H */
