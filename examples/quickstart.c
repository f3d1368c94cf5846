/* The C API in a dozen calls: synthetic data, a short training run, embeddings and a distance.
 *   example_c_quickstart SCRATCH_DIR */
#include <clipmatch.h>

#include <stdio.h>

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "quickstart";
  char data[512], run[512];
  snprintf(data, sizeof data, "%s/data", dir);
  snprintf(run, sizeof run, "%s/run", dir);
  if (clipmatch_synthesize_dataset(data, 300, 1) != CLIPMATCH_OK) goto fail;

  clipmatch_model* model = NULL;
  clipmatch_model_params params = clipmatch_model_default_params();
  if (clipmatch_model_create(params, &model) != CLIPMATCH_OK) goto fail;
  clipmatch_train_params train = clipmatch_train_default_params();
  train.run_dir = run;
  train.epochs = 5;
  train.batch_size = 32;
  train.freeze = CLIPMATCH_FREEZE_FULL;
  train.learning_rate = train.encoder_learning_rate = 2e-3;
  clipmatch_metrics metrics;
  if (clipmatch_train(model, data, train, &metrics) != CLIPMATCH_OK) goto fail;
  printf("held-out R@1: poster->intro %.3f, intro->poster %.3f (n = %zu)\n", metrics.heldout.poster_to_intro.r1,
         metrics.heldout.intro_to_poster.r1, metrics.heldout.n);
  clipmatch_model_free(model);
  return 0;
fail:
  fprintf(stderr, "clipmatch: %s\n", clipmatch_last_error());
  return 1;
}
