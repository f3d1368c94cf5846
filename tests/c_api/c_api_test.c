/* The C ABI exercised from C (this file is compiled as C99): synthetic data, training, encoding, distance
 * matrix, save → load identity, and error reporting through status codes and clipmatch_last_error(). */
#include <clipmatch.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              clipmatch_last_error());                                           \
      ++failures;                                                                \
    }                                                                            \
  } while (0)

int main(int argc, char** argv) {
  const char* scratch = argc > 1 ? argv[1] : "c_api_scratch";
  char data_dir[1024], run_dir[1024], saved[1024], poster0[1200], poster1[1200];
  snprintf(data_dir, sizeof data_dir, "%s/data", scratch);
  snprintf(run_dir, sizeof run_dir, "%s/run", scratch);
  snprintf(saved, sizeof saved, "%s/saved.safetensors", scratch);

  CHECK(strlen(clipmatch_version()) >= 5);
  CHECK(clipmatch_abi_version() == CLIPMATCH_ABI_VERSION);

  /* Errors come back as codes with a message; nothing crashes. */
  clipmatch_model* model = NULL;
  clipmatch_model_params params = clipmatch_model_default_params();
  params.image_encoder = "no_such_encoder";
  CHECK(clipmatch_model_create(params, &model) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "no_such_encoder") != NULL);
  CHECK(model == NULL);
  CHECK(clipmatch_model_load("/nonexistent/model.safetensors", CLIPMATCH_DEVICE_CPU, &model) != CLIPMATCH_OK);
  CHECK(strstr(clipmatch_last_error(), "/nonexistent/model.safetensors") != NULL);
  CHECK(clipmatch_model_create(params, NULL) == CLIPMATCH_ERROR_INVALID_ARGUMENT);

  CHECK(clipmatch_synthesize_dataset(data_dir, 48, 4) == CLIPMATCH_OK);

  params = clipmatch_model_default_params();
  params.device = CLIPMATCH_DEVICE_CPU;
  params.embed_dim = 32;
  CHECK(clipmatch_model_create(params, &model) == CLIPMATCH_OK);
  CHECK(clipmatch_model_embed_dim(model) == 32);

  clipmatch_train_params train = clipmatch_train_default_params();
  train.run_dir = run_dir;
  train.epochs = 2;
  train.batch_size = 16;
  train.freeze = CLIPMATCH_FREEZE_FULL;
  train.learning_rate = 2e-3;
  train.encoder_learning_rate = 2e-3;
  clipmatch_metrics metrics;
  CHECK(clipmatch_train(model, data_dir, train, &metrics) == CLIPMATCH_OK);
  CHECK(metrics.all.n == 48);
  CHECK(metrics.train.n > 0 && metrics.heldout.n > 0 && metrics.train.n + metrics.heldout.n == 48);
  CHECK(metrics.all.poster_to_intro.r10 >= metrics.all.poster_to_intro.r1);

  snprintf(poster0, sizeof poster0, "%s/posters/000001.jpg", data_dir);
  snprintf(poster1, sizeof poster1, "%s/posters/000002.jpg", data_dir);
  const char* posters[2] = {poster0, poster1};
  const char* intros[2] = {"Two red circles above a blue sea.", "A green star on a black background."};
  float p[64], t[64], d[4], small[10];
  CHECK(clipmatch_encode_posters(model, posters, 2, p, 64) == CLIPMATCH_OK);
  CHECK(clipmatch_encode_intros(model, intros, 2, t, 64) == CLIPMATCH_OK);
  CHECK(clipmatch_encode_intros(model, intros, 2, small, 10) == CLIPMATCH_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(clipmatch_last_error(), "64") != NULL);
  double norm = 0;
  for (int i = 0; i < 32; ++i) norm += (double)p[i] * p[i];
  CHECK(fabs(norm - 1.0) < 1e-4);
  CHECK(clipmatch_distance_matrix(p, 2, t, 2, 32, CLIPMATCH_DISTANCE_ONE_MINUS_COSINE, d, 4) == CLIPMATCH_OK);
  double dot = 0;
  for (int i = 0; i < 32; ++i) dot += (double)p[i] * t[i];
  CHECK(fabs(d[0] - (1.0 - dot)) < 1e-5);

  CHECK(clipmatch_model_save(model, saved) == CLIPMATCH_OK);
  clipmatch_model* loaded = NULL;
  CHECK(clipmatch_model_load(saved, CLIPMATCH_DEVICE_CPU, &loaded) == CLIPMATCH_OK);
  float p2[64];
  CHECK(clipmatch_encode_posters(loaded, posters, 2, p2, 64) == CLIPMATCH_OK);
  CHECK(memcmp(p, p2, sizeof(float) * 64) == 0);

  clipmatch_metrics evaluated;
  CHECK(clipmatch_evaluate(loaded, data_dir, NULL, &evaluated) == CLIPMATCH_OK);
  CHECK(evaluated.all.n == 48);

  clipmatch_model_free(loaded);
  clipmatch_model_free(model);
  clipmatch_model_free(NULL);
  if (failures == 0) printf("c api ok\n");
  return failures == 0 ? 0 : 1;
}
