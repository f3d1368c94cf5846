/* A program as a user wrote it against ABI 2: compiled as C99 against the frozen copy of that header
 * (clipmatch_abi2.h, never edited), it must keep working with every later library. The ABI test runs it against
 * the current library and against one whose structs have grown (a field appended to each, test only). */
#include "clipmatch_abi2.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond)                                                                                       \
  do {                                                                                                    \
    if (!(cond)) {                                                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond,            \
              clipmatch_last_error());                                                                    \
      ++failures;                                                                                         \
    }                                                                                                     \
  } while (0)

/* Output structs are followed by canary bytes: a library that wrote past the caller's struct_size would
 * change them. */
struct guarded_metrics {
  clipmatch_metrics metrics;
  unsigned char canary[64];
};

static int progress_calls = 0;
static int on_progress(const char* stage, size_t done, size_t total, void* user_data) {
  (void)user_data;
  CHECK(stage != NULL && done <= total);
  ++progress_calls;
  return 1;
}

static int epochs_seen = 0;
static void on_epoch(const clipmatch_epoch_metrics* epoch, void* user_data) {
  CHECK(epoch->struct_size >= sizeof(clipmatch_epoch_metrics)); /* a newer library may pass more */
  CHECK(epoch->epoch == epochs_seen + 1);
  CHECK(epoch->evaluated == 1 && epoch->metrics.all.n == 48);
  ++epochs_seen;
  *(int*)user_data += 1;
}

int main(int argc, char** argv) {
  const char* scratch = argc > 1 ? argv[1] : "abi2_scratch";
  char data_dir[1024], run_dir[1024], poster[1200];
  snprintf(data_dir, sizeof data_dir, "%s/data", scratch);
  snprintf(run_dir, sizeof run_dir, "%s/run", scratch);
  snprintf(poster, sizeof poster, "%s/posters/000001.jpg", data_dir);

  CHECK(clipmatch_abi_version() >= 2);
  CHECK(clipmatch_synthesize_dataset(data_dir, 48, 4) == CLIPMATCH_OK);

  clipmatch_model_params params = clipmatch_model_default_params();
  CHECK(params.struct_size == sizeof(clipmatch_model_params));
  params.device = CLIPMATCH_DEVICE_CPU;
  params.embed_dim = 16;
  clipmatch_model* model = NULL;
  CHECK(clipmatch_model_create(&params, &model) == CLIPMATCH_OK);
  if (model == NULL) return 1;
  CHECK(clipmatch_model_embed_dim(model) == 16);

  int epoch_counter = 0;
  clipmatch_train_params train = clipmatch_train_default_params();
  train.run_dir = run_dir;
  train.epochs = 2;
  train.batch_size = 16;
  train.freeze = CLIPMATCH_FREEZE_FULL;
  train.learning_rate = 2e-3;
  train.encoder_learning_rate = 2e-3;
  train.progress = on_progress;
  train.on_epoch = on_epoch;
  train.on_epoch_user_data = &epoch_counter;
  struct guarded_metrics trained;
  memset(&trained, 0xAB, sizeof trained);
  trained.metrics = clipmatch_metrics_init();
  CHECK(clipmatch_train(model, data_dir, &train, &trained.metrics) == CLIPMATCH_OK);
  CHECK(trained.metrics.all.n == 48 && trained.metrics.train.n + trained.metrics.heldout.n == 48);
  CHECK(trained.metrics.struct_size == sizeof(clipmatch_metrics));
  for (size_t i = 0; i < sizeof trained.canary; ++i) CHECK(trained.canary[i] == 0xAB);
  CHECK(epoch_counter == 2 && progress_calls > 0);

  clipmatch_eval_params eval = clipmatch_eval_default_params();
  struct guarded_metrics evaluated;
  memset(&evaluated, 0xCD, sizeof evaluated);
  evaluated.metrics = clipmatch_metrics_init();
  CHECK(clipmatch_evaluate(model, data_dir, &eval, &evaluated.metrics) == CLIPMATCH_OK);
  CHECK(evaluated.metrics.all.n == 48);
  CHECK(fabs(evaluated.metrics.all.poster_to_intro.r1 - trained.metrics.all.poster_to_intro.r1) < 1e-12);
  for (size_t i = 0; i < sizeof evaluated.canary; ++i) CHECK(evaluated.canary[i] == 0xCD);

  /* A struct_size the library cannot trust is refused by name. */
  clipmatch_eval_params zeroed;
  memset(&zeroed, 0, sizeof zeroed);
  CHECK(clipmatch_evaluate(model, data_dir, &zeroed, NULL) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "struct_size") != NULL);

  /* Encoding from a path and from the file's bytes agree. */
  float from_path[16], from_bytes[16];
  const char* paths[1] = {poster};
  CHECK(clipmatch_encode_posters(model, paths, 1, from_path, 16) == CLIPMATCH_OK);
  FILE* f = fopen(poster, "rb");
  static unsigned char bytes[1 << 20];
  size_t size = f ? fread(bytes, 1, sizeof bytes, f) : 0;
  if (f) fclose(f);
  const void* data[1] = {bytes};
  CHECK(clipmatch_encode_poster_bytes(model, data, &size, 1, from_bytes, 16) == CLIPMATCH_OK);
  CHECK(memcmp(from_path, from_bytes, sizeof from_path) == 0);

  int64_t index[1];
  float distance[1];
  CHECK(clipmatch_topk(from_path, 1, from_bytes, 1, 16, 1, CLIPMATCH_DISTANCE_ONE_MINUS_COSINE, index, distance, 1) ==
        CLIPMATCH_OK);
  CHECK(index[0] == 0 && fabs(distance[0]) < 1e-5);

  clipmatch_model_free(model);
  if (failures == 0) printf("abi2 program ok\n");
  return failures == 0 ? 0 : 1;
}
