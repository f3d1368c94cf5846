/* The C ABI exercised from C (this file is compiled as C99, linked to the shared library only): versioned
 * parameter structs, training with progress / epoch / log callbacks, cancelling, encoding from paths, bytes and
 * pixels, top-k search, save → load identity, and every error path (status code + last-error message). */
#define _POSIX_C_SOURCE 200809L /* setenv / unsetenv in C99 */
#include <clipmatch.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond)                                                                                     \
  do {                                                                                                  \
    if (!(cond)) {                                                                                      \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond,          \
              clipmatch_last_error());                                                                  \
      ++failures;                                                                                       \
    }                                                                                                   \
  } while (0)

#define DIM 32

struct counter {
  int calls;
  int cancel_at; /* 0 = never */
  char last_stage[64];
};

static int count_progress(const char* stage, size_t done, size_t total, void* user_data) {
  struct counter* c = (struct counter*)user_data;
  CHECK(done <= total);
  ++c->calls;
  strncpy(c->last_stage, stage, sizeof c->last_stage - 1);
  return c->cancel_at == 0 || c->calls < c->cancel_at;
}

static int epochs_seen = 0;
static void on_epoch(const clipmatch_epoch_metrics* epoch, void* user_data) {
  (void)user_data;
  CHECK(epoch->struct_size >= sizeof(clipmatch_epoch_metrics));
  CHECK(epoch->epoch == ++epochs_seen);
  CHECK(epoch->metrics.all.n == 48 && epoch->train_loss > 0);
}

static int log_lines = 0;
static void on_log(int level, const char* message, void* user_data) {
  CHECK(level >= CLIPMATCH_LOG_DEBUG && level <= CLIPMATCH_LOG_ERROR);
  CHECK(message != NULL && strchr(message, '\n') == NULL);
  if (strncmp(message, "epoch", 5) == 0 && strstr(message, "loss") != NULL) ++*(int*)user_data; /* epoch lines */
}

static long read_file(const char* path, unsigned char* buffer, long capacity) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return -1;
  long n = (long)fread(buffer, 1, (size_t)capacity, f);
  fclose(f);
  return n;
}

/* The pixels of a binary PPM (P6) written by this test. */
static void write_ppm(const char* path, const unsigned char* rgb, int width, int height) {
  FILE* f = fopen(path, "wb");
  fprintf(f, "P6\n%d %d\n255\n", width, height);
  fwrite(rgb, 1, (size_t)width * height * 3, f);
  fclose(f);
}

int main(int argc, char** argv) {
  const char* scratch = argc > 1 ? argv[1] : "c_api_scratch";
  char data_dir[1024], run_dir[1024], saved[1024], poster0[1200], poster1[1200], ppm[1200];
  snprintf(data_dir, sizeof data_dir, "%s/data", scratch);
  snprintf(run_dir, sizeof run_dir, "%s/run", scratch);
  snprintf(saved, sizeof saved, "%s/saved.safetensors", scratch);
  snprintf(ppm, sizeof ppm, "%s/pattern.ppm", scratch);

  CHECK(strlen(clipmatch_version()) >= 5);
  CHECK(clipmatch_abi_version() == CLIPMATCH_ABI_VERSION);

  /* Errors come back as codes with a message naming the argument; nothing crashes. */
  clipmatch_model* model = NULL;
  clipmatch_model_params params = clipmatch_model_default_params();
  CHECK(params.struct_size == sizeof params);
  params.image_encoder = "no_such_encoder";
  CHECK(clipmatch_model_create(&params, &model) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "no_such_encoder") != NULL);
  CHECK(model == NULL);
  params = clipmatch_model_default_params();
  params.head = (clipmatch_head)42;
  CHECK(clipmatch_model_create(&params, &model) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "head is 42") != NULL);
  params = clipmatch_model_default_params();
  params.struct_size = 0; /* a struct not started from clipmatch_model_default_params() */
  CHECK(clipmatch_model_create(&params, &model) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "struct_size") != NULL);
  CHECK(clipmatch_model_load("/nonexistent/model.safetensors", CLIPMATCH_DEVICE_CPU, &model) != CLIPMATCH_OK);
  CHECK(strstr(clipmatch_last_error(), "/nonexistent/model.safetensors") != NULL);
  CHECK(clipmatch_model_load("x", (clipmatch_device)7, &model) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "device") != NULL);
  CHECK(clipmatch_model_create(&params, NULL) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "out_model") != NULL);
  CHECK(clipmatch_model_save(NULL, saved) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strcmp(clipmatch_last_error(), "model is NULL") == 0);
  /* A successful call clears the thread's last error. */
  CHECK(strcmp(clipmatch_version(), "") != 0 && clipmatch_synthesize_dataset(data_dir, 48, 4) == CLIPMATCH_OK);
  CHECK(strcmp(clipmatch_last_error(), "") == 0);

  /* NULL params mean the defaults. */
  params = clipmatch_model_default_params();
  params.device = CLIPMATCH_DEVICE_CPU;
  params.embed_dim = DIM;
  CHECK(clipmatch_model_create(&params, &model) == CLIPMATCH_OK);
  CHECK(clipmatch_model_embed_dim(model) == DIM);

  int log_epoch_lines = 0;
  clipmatch_set_log_callback(on_log, &log_epoch_lines);
  struct counter progress = {0, 0, ""};
  clipmatch_train_params train = clipmatch_train_default_params();
  train.run_dir = run_dir;
  train.epochs = 2;
  train.batch_size = 16;
  train.freeze = CLIPMATCH_FREEZE_FULL;
  train.learning_rate = 2e-3;
  train.encoder_learning_rate = 2e-3;
  train.verbose = 1;
  train.progress = count_progress;
  train.progress_user_data = &progress;
  train.on_epoch = on_epoch;
  clipmatch_metrics metrics = clipmatch_metrics_init();
  train.loss = (clipmatch_loss)42;
  CHECK(clipmatch_train(model, data_dir, &train, &metrics) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "loss is 42") != NULL);
  train.loss = CLIPMATCH_LOSS_INFONCE;
  CHECK(clipmatch_train(model, data_dir, &train, &metrics) == CLIPMATCH_OK);
  clipmatch_set_log_callback(NULL, NULL);
  CHECK(metrics.all.n == 48);
  CHECK(metrics.train.n > 0 && metrics.heldout.n > 0 && metrics.train.n + metrics.heldout.n == 48);
  CHECK(metrics.all.poster_to_intro.r10 >= metrics.all.poster_to_intro.r1);
  CHECK(progress.calls > 0 && epochs_seen == 2 && log_epoch_lines == 2);

  snprintf(poster0, sizeof poster0, "%s/posters/000001.jpg", data_dir);
  snprintf(poster1, sizeof poster1, "%s/posters/000002.jpg", data_dir);
  const char* posters[2] = {poster0, poster1};
  const char* intros[2] = {"Two red circles above a blue sea.", "A green star on a black background."};
  float p[2 * DIM], t[2 * DIM], d[4], small[10];
  CHECK(clipmatch_encode_posters(model, posters, 2, p, 2 * DIM) == CLIPMATCH_OK);
  CHECK(clipmatch_encode_intros(model, intros, 2, t, 2 * DIM) == CLIPMATCH_OK);
  CHECK(clipmatch_encode_intros(model, intros, 2, small, 10) == CLIPMATCH_ERROR_BUFFER_TOO_SMALL);
  CHECK(strstr(clipmatch_last_error(), "64 needed") != NULL);
  CHECK(clipmatch_encode_intros(model, intros, 2, NULL, 64) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(clipmatch_encode_intros(NULL, intros, 2, t, 64) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  double norm = 0;
  for (int i = 0; i < DIM; ++i) norm += (double)p[i] * p[i];
  CHECK(fabs(norm - 1.0) < 1e-4);
  CHECK(clipmatch_distance_matrix(p, 2, t, 2, DIM, CLIPMATCH_DISTANCE_ONE_MINUS_COSINE, d, 4) == CLIPMATCH_OK);
  double dot = 0;
  for (int i = 0; i < DIM; ++i) dot += (double)p[i] * t[i];
  CHECK(fabs(d[0] - (1.0 - dot)) < 1e-5);
  CHECK(clipmatch_distance_matrix(p, 2, t, 2, DIM, (clipmatch_distance)3, d, 4) == CLIPMATCH_ERROR_INVALID_ARGUMENT);

  /* In memory: the file's bytes, and its pixels (a PPM this test writes), encode like the file. */
  static unsigned char bytes[1 << 20];
  long size = read_file(poster0, bytes, sizeof bytes);
  CHECK(size > 0);
  const void* data[1] = {bytes};
  size_t sizes[1] = {(size_t)size};
  float from_bytes[DIM], from_file[DIM], from_ppm[DIM], from_pixels[DIM];
  CHECK(clipmatch_encode_poster_bytes(model, data, sizes, 1, from_bytes, DIM) == CLIPMATCH_OK);
  CHECK(clipmatch_encode_posters(model, posters, 1, from_file, DIM) == CLIPMATCH_OK); /* same batch shape */
  CHECK(memcmp(from_bytes, from_file, sizeof from_bytes) == 0);
  unsigned char rgb[30 * 20 * 3], rgba[30 * 20 * 4 + 7 * 20];
  for (int i = 0; i < 30 * 20; ++i) {
    rgb[3 * i] = (unsigned char)(i * 7);
    rgb[3 * i + 1] = (unsigned char)(i / 3);
    rgb[3 * i + 2] = (unsigned char)(255 - i % 256);
  }
  write_ppm(ppm, rgb, 30, 20);
  const char* ppm_paths[1] = {ppm};
  CHECK(clipmatch_encode_posters(model, ppm_paths, 1, from_ppm, DIM) == CLIPMATCH_OK);
  CHECK(clipmatch_encode_poster_pixels(model, rgb, 30, 20, 30 * 3, 3, from_pixels, DIM) == CLIPMATCH_OK);
  CHECK(memcmp(from_ppm, from_pixels, sizeof from_ppm) == 0);
  for (int y = 0; y < 20; ++y) /* RGBA, opaque, rows 127 bytes apart */
    for (int x = 0; x < 30; ++x) {
      memcpy(&rgba[y * 127 + 4 * x], &rgb[3 * (y * 30 + x)], 3);
      rgba[y * 127 + 4 * x + 3] = 255;
    }
  CHECK(clipmatch_encode_poster_pixels(model, rgba, 30, 20, 127, 4, from_pixels, DIM) == CLIPMATCH_OK);
  CHECK(memcmp(from_ppm, from_pixels, sizeof from_ppm) == 0);
  CHECK(clipmatch_encode_poster_pixels(model, rgba, 30, 20, 100, 4, from_pixels, DIM) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "stride") != NULL);

  /* top-k: the nearest intro of each poster, as the distance matrix says; a short buffer says what it needs. */
  int64_t idx[4];
  float dist[4];
  CHECK(clipmatch_topk(p, 2, t, 2, DIM, 2, CLIPMATCH_DISTANCE_ONE_MINUS_COSINE, idx, dist, 4) == CLIPMATCH_OK);
  for (int q = 0; q < 2; ++q) {
    const int best = d[2 * q] <= d[2 * q + 1] ? 0 : 1;
    CHECK(idx[2 * q] == best && fabs(dist[2 * q] - d[2 * q + best]) < 1e-6);
    CHECK(dist[2 * q] <= dist[2 * q + 1]);
  }
  CHECK(clipmatch_topk(p, 2, t, 2, DIM, 2, CLIPMATCH_DISTANCE_ONE_MINUS_COSINE, idx, dist, 3) == CLIPMATCH_ERROR_BUFFER_TOO_SMALL);
  CHECK(strstr(clipmatch_last_error(), "4 needed") != NULL);
  CHECK(clipmatch_topk(p, 2, t, 2, DIM, 0, CLIPMATCH_DISTANCE_ONE_MINUS_COSINE, idx, dist, 4) == CLIPMATCH_ERROR_INVALID_ARGUMENT);

  /* A catalog index over the intros: the flat kind answers as clipmatch_topk; saved and loaded it answers the
   * same and keeps the ids; a bad kind and a missing folder are refused. Skipped without FAISS. */
  {
    const char* intro_ids[2] = {"intro-a", "intro-b"};
    clipmatch_index* index = NULL;
    const clipmatch_status built = clipmatch_index_build(t, 2, DIM, intro_ids, CLIPMATCH_INDEX_FLAT, &index);
    if (built == CLIPMATCH_ERROR_UNSUPPORTED) {
      printf("skipped the catalog index checks: %s\n", clipmatch_last_error());
    } else {
      CHECK(built == CLIPMATCH_OK);
      int64_t hit[4];
      float hit_dist[4];
      CHECK(clipmatch_index_search(index, p, 2, DIM, 2, hit, hit_dist, 4) == CLIPMATCH_OK);
      CHECK(clipmatch_topk(p, 2, t, 2, DIM, 2, CLIPMATCH_DISTANCE_ONE_MINUS_COSINE, idx, dist, 4) == CLIPMATCH_OK);
      for (int i = 0; i < 4; ++i) CHECK(hit[i] == idx[i] && fabs(hit_dist[i] - dist[i]) < 1e-5);
      CHECK(clipmatch_index_size(index) == 2);
      char index_dir[4096];
      snprintf(index_dir, sizeof index_dir, "%s/catalog-index", scratch);
      CHECK(clipmatch_index_save(index, index_dir) == CLIPMATCH_OK);
      clipmatch_index* loaded_index = NULL;
      CHECK(clipmatch_index_load(index_dir, &loaded_index) == CLIPMATCH_OK);
      CHECK(clipmatch_index_search(loaded_index, p, 2, DIM, 2, hit, hit_dist, 4) == CLIPMATCH_OK);
      for (int i = 0; i < 4; ++i) CHECK(hit[i] == idx[i]);
      CHECK(strcmp(clipmatch_index_id(loaded_index, 1), "intro-b") == 0);
      CHECK(clipmatch_index_id(loaded_index, 2) == NULL);
      CHECK(clipmatch_index_search(loaded_index, p, 2, DIM, 2, hit, hit_dist, 3) == CLIPMATCH_ERROR_BUFFER_TOO_SMALL);
      clipmatch_index_free(loaded_index);
      clipmatch_index_free(index);
      CHECK(clipmatch_index_build(t, 2, DIM, NULL, (clipmatch_index_kind)5, &index) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
      CHECK(strstr(clipmatch_last_error(), "ivf-pq") != NULL);
      CHECK(clipmatch_index_load("/nonexistent/index", &index) == CLIPMATCH_ERROR_IO);
      CHECK(index == NULL);
      clipmatch_index_free(NULL);
    }
  }

  /* Cancelling before any epoch completed: CANCELLED, and the model encodes exactly as before. */
  struct counter cancel = {0, 1, ""};
  train.progress_user_data = &cancel;
  train.on_epoch = NULL;
  train.verbose = 0;
  snprintf(run_dir, sizeof run_dir, "%s/run-cancelled", scratch);
  CHECK(clipmatch_train(model, data_dir, &train, NULL) == CLIPMATCH_ERROR_CANCELLED);
  CHECK(cancel.calls == 1 && strcmp(cancel.last_stage, "train") == 0);
  float again[2 * DIM];
  CHECK(clipmatch_encode_posters(model, posters, 2, again, 2 * DIM) == CLIPMATCH_OK);
  CHECK(memcmp(p, again, sizeof again) == 0);
  clipmatch_encode_params encode = clipmatch_encode_default_params();
  struct counter encode_cancel = {0, 1, ""};
  encode.progress = count_progress;
  encode.progress_user_data = &encode_cancel;
  CHECK(clipmatch_encode_posters_ex(model, posters, 2, &encode, again, 2 * DIM) == CLIPMATCH_ERROR_CANCELLED);
  CHECK(strcmp(encode_cancel.last_stage, "encode posters") == 0);

  CHECK(clipmatch_model_save(model, saved) == CLIPMATCH_OK);
  clipmatch_model* loaded = NULL;
  CHECK(clipmatch_model_load(saved, CLIPMATCH_DEVICE_CPU, &loaded) == CLIPMATCH_OK);
  float p2[2 * DIM];
  CHECK(clipmatch_encode_posters(loaded, posters, 2, p2, 2 * DIM) == CLIPMATCH_OK);
  CHECK(memcmp(p, p2, sizeof p2) == 0);

  clipmatch_metrics evaluated = clipmatch_metrics_init();
  CHECK(clipmatch_evaluate(loaded, data_dir, NULL, &evaluated) == CLIPMATCH_OK);
  CHECK(evaluated.all.n == 48);
  clipmatch_eval_params eval = clipmatch_eval_default_params();
  eval.distance = (clipmatch_distance)9;
  CHECK(clipmatch_evaluate(loaded, data_dir, &eval, &evaluated) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "distance is 9") != NULL);

  /* Precision: fp32 is the default; bf16 gives nearly the same unit rows; an unknown value is refused. */
  clipmatch_encode_params precise = clipmatch_encode_default_params();
  CHECK(precise.precision == CLIPMATCH_PRECISION_FP32);
  precise.precision = CLIPMATCH_PRECISION_BF16;
  float half[2 * DIM];
  CHECK(clipmatch_encode_posters_ex(loaded, posters, 2, &precise, half, 2 * DIM) == CLIPMATCH_OK);
  for (int row = 0; row < 2; ++row) {
    double dot = 0;
    for (int i = 0; i < DIM; ++i) dot += (double)half[row * DIM + i] * p2[row * DIM + i];
    CHECK(dot > 0.999);
  }
  precise.precision = (clipmatch_precision)7;
  CHECK(clipmatch_encode_posters_ex(loaded, posters, 2, &precise, half, 2 * DIM) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "precision is 7") != NULL);
  eval = clipmatch_eval_default_params();
  eval.precision = CLIPMATCH_PRECISION_INT8;
  CHECK(clipmatch_evaluate(loaded, data_dir, &eval, &evaluated) == CLIPMATCH_OK);

  /* The poster-text channel: off by default; a model trained without it has no fusion weight. The synthetic
   * posters print no text, so with a fixed weight the fused metrics equal the visual ones exactly. */
  eval = clipmatch_eval_default_params();
  CHECK(eval.ocr == 0);
  CHECK(eval.ocr_fusion_weight < 0);
  CHECK(eval.ocr_cache_dir == NULL);
  CHECK(clipmatch_train_default_params().ocr == 0);
  CHECK(clipmatch_model_fusion_weight(loaded) == -1.0);
  CHECK(clipmatch_model_fusion_weight(NULL) == -1.0);
  if (clipmatch_ocr_available()) {
    clipmatch_metrics visual = clipmatch_metrics_init(), fused = clipmatch_metrics_init();
    CHECK(clipmatch_evaluate(loaded, data_dir, NULL, &visual) == CLIPMATCH_OK);
    eval.ocr = 1;
    eval.ocr_fusion_weight = 0.5;
    CHECK(clipmatch_evaluate(loaded, data_dir, &eval, &fused) == CLIPMATCH_OK);
    CHECK(fused.all.n == visual.all.n);
    CHECK(fused.all.poster_to_intro.r1 == visual.all.poster_to_intro.r1);
    eval.ocr_fusion_weight = NAN;
    CHECK(clipmatch_evaluate(loaded, data_dir, &eval, &fused) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  } else {
    printf("skipped the OCR checks: this library has no OCR\n");
  }

  /* Distributed training: one process by default; the torchrun / SLURM environment fills the dist_* fields; a
   * rank whose peers never come fails within its timeout with an error naming it. */
  {
    clipmatch_train_params dist = clipmatch_train_default_params();
    CHECK(dist.dist_world_size == 1 && dist.dist_rank == 0 && dist.dist_master_addr == NULL);
    CHECK(dist.dist_timeout_seconds == 600);
    setenv("RANK", "1", 1);
    setenv("WORLD_SIZE", "2", 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", "1", 1); /* nothing listens on port 1: rank 0 never answers */
    CHECK(clipmatch_distributed_from_environment(&dist) == CLIPMATCH_OK);
    CHECK(dist.dist_rank == 1 && dist.dist_world_size == 2 && dist.dist_master_port == 1);
    CHECK(dist.dist_master_addr != NULL && strcmp(dist.dist_master_addr, "127.0.0.1") == 0);
    setenv("WORLD_SIZE", "two", 1);
    CHECK(clipmatch_distributed_from_environment(&dist) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(clipmatch_last_error(), "WORLD_SIZE") != NULL);
    unsetenv("RANK");
    unsetenv("WORLD_SIZE");
    unsetenv("MASTER_ADDR");
    unsetenv("MASTER_PORT");
    if (clipmatch_distributed_available()) {
      dist.run_dir = run_dir;
      dist.epochs = 1;
      dist.dist_timeout_seconds = 1;
      CHECK(clipmatch_train(loaded, data_dir, &dist, NULL) == CLIPMATCH_ERROR_IO);
      CHECK(strstr(clipmatch_last_error(), "rank 1 of 2") != NULL);
    } else {
      printf("skipped the distributed run: this library has no Gloo backend\n");
    }
  }

  clipmatch_model_free(loaded);
  clipmatch_model_free(model);
  clipmatch_model_free(NULL);
  if (failures == 0) printf("c api ok\n");
  return failures == 0 ? 0 : 1;
}
