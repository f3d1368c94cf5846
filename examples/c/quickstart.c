/* quickstart — the clipmatch C API (ABI 2) end to end, as a C99 program.
 *
 *   ./build.sh && ./quickstart [SCRATCH_DIR]
 *
 * It writes a small synthetic dataset into SCRATCH_DIR (default: a new folder under /tmp), trains a small
 * model from scratch for two epochs, finds the three intros nearest to each of the first three posters, checks
 * that a poster handed over as bytes encodes exactly like the same poster read from its file, and shows what
 * an error looks like. Every step prints what it does; the exit status is 0 only when every check passed.
 *
 * The habits of the ABI it shows: parameter structs always start from clipmatch_*_default_params() (which
 * sets struct_size, so the program keeps working with later library versions), every call returns a status,
 * and on failure clipmatch_last_error() says what went wrong. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <clipmatch.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_MOVIES 120
#define N_SHOWN 3 /* posters whose nearest intros are printed */
#define K 3       /* nearest intros per poster */

/* Checks a status; on failure prints the call and the library's message, then jumps to the cleanup. */
#define CHECK(call)                                                                                    \
  do {                                                                                                 \
    clipmatch_status status_ = (call);                                                                 \
    if (status_ != CLIPMATCH_OK) {                                                                     \
      fprintf(stderr, "FAILED: %s\n  status %d: %s\n", #call, (int)status_, clipmatch_last_error()); \
      goto done;                                                                                       \
    }                                                                                                  \
  } while (0)

/* Checks a condition of our own. */
#define EXPECT(condition, what)                      \
  do {                                               \
    if (!(condition)) {                              \
      fprintf(stderr, "FAILED: %s\n", (what));       \
      goto done;                                     \
    }                                                \
  } while (0)

/* What the progress callback sees, through its user_data pointer. */
typedef struct progress_counter {
  size_t calls;
  size_t last_done, last_total;
} progress_counter;

static int count_progress(const char* stage, size_t done, size_t total, void* user_data) {
  progress_counter* counter = (progress_counter*)user_data;
  counter->calls++;
  counter->last_done = done;
  counter->last_total = total;
  if (done == total) printf("  progress: %s %zu/%zu done\n", stage, done, total);
  return 1; /* 0 would cancel the call (it then returns CLIPMATCH_ERROR_CANCELLED) */
}

static void print_epoch(const clipmatch_epoch_metrics* epoch, void* user_data) {
  (void)user_data;
  printf("  epoch %d: loss %.4f, %.1f s\n", epoch->epoch, epoch->train_loss, epoch->seconds);
}

/* The library's messages (here: one line per epoch, as verbose = 1 asks) go through this sink instead of
 * standard error; a host program would forward them into its own log. */
static void log_line(int level, const char* message, void* user_data) {
  static const char* const names[] = {"debug", "info", "warning", "error"}; /* clipmatch_log_level */
  (void)user_data;
  printf("  [clipmatch %s] %s\n", level >= 0 && level <= 3 ? names[level] : "?", message);
}

/* Reads a whole file into memory, with a NUL byte after its end; NULL on failure. */
static unsigned char* read_file(const char* path, size_t* size) {
  FILE* file = fopen(path, "rb");
  unsigned char* data = NULL;
  long length;
  if (!file) return NULL;
  if (fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) > 0 && fseek(file, 0, SEEK_SET) == 0) {
    data = malloc((size_t)length + 1);
    if (data && fread(data, 1, (size_t)length, file) != (size_t)length) {
      free(data);
      data = NULL;
    }
    if (data) data[length] = '\0';
    *size = (size_t)length;
  }
  fclose(file);
  return data;
}

/* Reads the poster and intro columns of a dataset's movies.csv (RFC 4180: quoted fields may hold commas,
 * doubled quotes and line breaks). The fields are unquoted in place inside *text, which the caller frees.
 * Returns the number of movies read (at most max), 0 on failure. */
static size_t read_movies(const char* csv_path, char** text, const char** posters, const char** intros, size_t max) {
  size_t size = 0, n = 0, column = 0, row = 0;
  long poster_column = -1, intro_column = -1;
  char *p, *end, *out;
  *text = (char*)read_file(csv_path, &size);
  if (!*text) return 0;
  p = *text;
  end = *text + size;
  if (max > 0) posters[0] = intros[0] = NULL;
  while (p < end && n < max) {
    char* field = out = p;
    if (*p == '"') { /* quoted: copy until the closing quote, "" stands for " */
      for (++p; p < end; ++p) {
        if (*p == '"' && (p + 1 >= end || p[1] != '"')) break;
        if (*p == '"') ++p;
        *out++ = *p;
      }
      ++p; /* past the closing quote */
    } else {
      while (p < end && *p != ',' && *p != '\n' && *p != '\r') *out++ = *p++;
    }
    {
      const char separator = p < end ? *p : '\n';
      *out = '\0'; /* at most where the separator was (or the NUL read_file adds after the end) */
      if (row == 0) {
        if (strcmp(field, "poster") == 0) poster_column = (long)column;
        if (strcmp(field, "intro") == 0) intro_column = (long)column;
      } else if ((long)column == poster_column) {
        posters[n] = field;
      } else if ((long)column == intro_column) {
        intros[n] = field;
      }
      if (separator == '\r' && p + 1 < end && p[1] == '\n') ++p;
      ++p;
      if (separator == ',') {
        ++column;
      } else { /* end of a record */
        if (row > 0 && posters[n] && intros[n]) ++n; /* else a blank or short line: skipped */
        if (n < max) posters[n] = intros[n] = NULL;
        ++row;
        column = 0;
        if (poster_column < 0 || intro_column < 0) return 0; /* no such columns in the header */
      }
    }
  }
  return n;
}

int main(int argc, char** argv) {
  int ok = 0;
  char scratch[1024], data_dir[1100], run_dir[1100], csv_path[1200];
  char* csv_text = NULL;
  const char* poster_files[N_MOVIES];
  const char* intros[N_MOVIES];
  char poster_paths[N_MOVIES][1300];
  const char* poster_path_list[N_MOVIES];
  size_t n = 0, i, q, r;
  clipmatch_model* model = NULL;
  float *poster_embeddings = NULL, *intro_embeddings = NULL, *distances = NULL;
  float *from_file = NULL, *from_bytes = NULL;
  unsigned char* poster_bytes = NULL;
  size_t poster_size = 0;
  int64_t top_indices[N_SHOWN * K];
  float top_distances[N_SHOWN * K];
  int64_t dim;
  progress_counter train_progress = {0, 0, 0}, encode_progress = {0, 0, 0};

  /* A header compiled against one ABI must not silently run against another. */
  printf("clipmatch %s, ABI %d (header ABI %d)\n", clipmatch_version(), clipmatch_abi_version(), CLIPMATCH_ABI_VERSION);
  EXPECT(clipmatch_abi_version() == CLIPMATCH_ABI_VERSION, "the library's ABI version matches this header's");

  if (argc > 1) {
    snprintf(scratch, sizeof scratch, "%s", argv[1]);
  } else {
    snprintf(scratch, sizeof scratch, "/tmp/clipmatch-quickstart-XXXXXX");
    EXPECT(mkdtemp(scratch) != NULL, "create a scratch folder under /tmp");
  }
  snprintf(data_dir, sizeof data_dir, "%s/data", scratch);
  snprintf(run_dir, sizeof run_dir, "%s/run", scratch);
  snprintf(csv_path, sizeof csv_path, "%s/movies.csv", data_dir);

  printf("synthesizing %d movies into %s\n", N_MOVIES, data_dir);
  CHECK(clipmatch_synthesize_dataset(data_dir, N_MOVIES, 7));

  clipmatch_set_log_callback(log_line, NULL);

  { /* A small model trained from scratch on the CPU: no pretrained weights needed. */
    clipmatch_model_params params = clipmatch_model_default_params();
    params.image_encoder = "tiny_cnn";
    params.text_encoder = "tiny_text";
    params.embed_dim = 32;
    params.seed = 1;
    params.device = CLIPMATCH_DEVICE_CPU;
    printf("creating a model (tiny_cnn + tiny_text, embed_dim 32, CPU)\n");
    CHECK(clipmatch_model_create(&params, &model));
    dim = clipmatch_model_embed_dim(model);
    EXPECT(dim == 32, "the model's embed_dim is 32");
  }

  { /* Two epochs of two steps each: enough to show the API, far too few to learn the task (the nearest intros
     * below are still close to chance); `clipmatch demo` trains long enough to see it work. */
    clipmatch_train_params train = clipmatch_train_default_params();
    clipmatch_metrics metrics = clipmatch_metrics_init(); /* struct_size set: the library may fill it */
    train.run_dir = run_dir;
    train.epochs = 2;
    train.batch_size = 32;
    train.freeze = CLIPMATCH_FREEZE_FULL; /* from-scratch encoders must learn too, not only the heads */
    train.learning_rate = 2e-3;
    train.encoder_learning_rate = 2e-3;
    train.verbose = 1;
    train.progress = count_progress;
    train.progress_user_data = &train_progress;
    train.on_epoch = print_epoch;
    printf("training 2 epochs into %s\n", run_dir);
    CHECK(clipmatch_train(model, data_dir, &train, &metrics));
    printf("held-out (n = %zu) R@1: poster->intro %.3f, intro->poster %.3f\n", metrics.heldout.n,
           metrics.heldout.poster_to_intro.r1, metrics.heldout.intro_to_poster.r1);
    printf("the progress callback was called %zu times\n", train_progress.calls);
    EXPECT(train_progress.calls > 0, "training called the progress callback");
    EXPECT(metrics.all.n == N_MOVIES, "the metrics cover every movie");
  }
  clipmatch_set_log_callback(NULL, NULL); /* back to standard error */

  printf("reading %s\n", csv_path);
  n = read_movies(csv_path, &csv_text, poster_files, intros, N_MOVIES);
  EXPECT(n == N_MOVIES, "movies.csv has a poster and an intro for every movie");
  for (i = 0; i < n; ++i) { /* poster paths in movies.csv are absolute or relative to the dataset folder */
    if (poster_files[i][0] == '/')
      snprintf(poster_paths[i], sizeof poster_paths[i], "%s", poster_files[i]);
    else
      snprintf(poster_paths[i], sizeof poster_paths[i], "%s/%s", data_dir, poster_files[i]);
    poster_path_list[i] = poster_paths[i];
  }

  { /* Embeddings: n × dim floats, row-major; the caller owns the buffers and says how long they are. */
    clipmatch_encode_params encode = clipmatch_encode_default_params();
    encode.batch_size = 32;
    encode.progress = count_progress;
    encode.progress_user_data = &encode_progress;
    poster_embeddings = malloc(N_SHOWN * (size_t)dim * sizeof(float));
    intro_embeddings = malloc(n * (size_t)dim * sizeof(float));
    distances = malloc(N_SHOWN * n * sizeof(float));
    EXPECT(poster_embeddings && intro_embeddings && distances, "allocate the embeddings");
    printf("encoding %d posters and %zu intros\n", N_SHOWN, n);
    CHECK(clipmatch_encode_posters(model, poster_path_list, N_SHOWN, poster_embeddings, N_SHOWN * (size_t)dim));
    CHECK(clipmatch_encode_intros_ex(model, intros, n, &encode, intro_embeddings, n * (size_t)dim));
    EXPECT(encode_progress.calls > 0 && encode_progress.last_done == n && encode_progress.last_total == n,
           "encoding reported its progress up to the last intro");
  }

  /* The K nearest intros of each poster, without building the whole distance matrix. */
  CHECK(clipmatch_topk(poster_embeddings, N_SHOWN, intro_embeddings, n, (size_t)dim, K,
                       CLIPMATCH_DISTANCE_ONE_MINUS_COSINE, top_indices, top_distances, N_SHOWN * K));
  /* The full matrix of the same rows, to check top-k against: its nearest intro must be top-k's first. */
  CHECK(clipmatch_distance_matrix(poster_embeddings, N_SHOWN, intro_embeddings, n, (size_t)dim,
                                  CLIPMATCH_DISTANCE_ONE_MINUS_COSINE, distances, N_SHOWN * n));
  for (q = 0; q < N_SHOWN; ++q) {
    size_t nearest = 0;
    printf("poster %s, nearest intros:\n", poster_files[q]);
    for (r = 0; r < K; ++r) {
      const int64_t j = top_indices[q * K + r];
      EXPECT(j >= 0 && (size_t)j < n, "top-k indices are catalog rows");
      EXPECT(r == 0 || top_distances[q * K + r] >= top_distances[q * K + r - 1], "top-k is sorted nearest first");
      printf("  %zu. distance %.4f  %.70s%s%s\n", r + 1, top_distances[q * K + r], intros[j],
             strlen(intros[j]) > 70 ? "..." : "", (size_t)j == q ? "  <- its own intro" : "");
    }
    for (i = 1; i < n; ++i) /* first minimum: ties go to the lower index, as in top-k */
      if (distances[q * n + i] < distances[q * n + nearest]) nearest = i;
    EXPECT((int64_t)nearest == top_indices[q * K], "top-k's first intro is the distance matrix's nearest");
  }

  { /* A poster held in memory (downloaded, unpacked from an archive) encodes exactly like its file. */
    const void* data[1];
    size_t sizes[1];
    float largest = 0.0f;
    poster_bytes = read_file(poster_path_list[0], &poster_size);
    EXPECT(poster_bytes != NULL, "read the first poster's file");
    data[0] = poster_bytes;
    sizes[0] = poster_size;
    from_file = malloc((size_t)dim * sizeof(float));
    from_bytes = malloc((size_t)dim * sizeof(float));
    EXPECT(from_file && from_bytes, "allocate two embeddings");
    CHECK(clipmatch_encode_posters(model, poster_path_list, 1, from_file, (size_t)dim));
    CHECK(clipmatch_encode_poster_bytes(model, data, sizes, 1, from_bytes, (size_t)dim));
    for (i = 0; i < (size_t)dim; ++i) {
      const float difference = from_file[i] > from_bytes[i] ? from_file[i] - from_bytes[i] : from_bytes[i] - from_file[i];
      if (difference > largest) largest = difference;
    }
    printf("bytes == file: %s (largest difference %g)\n", largest <= 1e-6f ? "yes" : "no", (double)largest);
    EXPECT(largest <= 1e-6f, "the poster's bytes and its file give the same embedding");
  }

  { /* Errors are statuses plus a message naming the problem; nothing is written into a too-short buffer. */
    clipmatch_status status = clipmatch_encode_posters(model, poster_path_list, 2, from_file, (size_t)dim);
    printf("encoding 2 posters into room for 1: status %d, \"%s\"\n", (int)status, clipmatch_last_error());
    EXPECT(status == CLIPMATCH_ERROR_BUFFER_TOO_SMALL && clipmatch_last_error()[0] != '\0',
           "a too-short output buffer is CLIPMATCH_ERROR_BUFFER_TOO_SMALL with a message");
    {
      const char* missing[1] = {"no-such-poster.jpg"};
      status = clipmatch_encode_posters(model, missing, 1, from_file, (size_t)dim);
      printf("encoding a missing file: status %d, \"%s\"\n", (int)status, clipmatch_last_error());
      EXPECT(status != CLIPMATCH_OK && strstr(clipmatch_last_error(), "no-such-poster.jpg") != NULL,
             "a missing poster fails with a message naming the file");
    }
  }

  ok = 1;
  printf("quickstart: all checks passed\n");
done:
  clipmatch_set_log_callback(NULL, NULL);
  clipmatch_model_free(model); /* NULL is fine */
  free(poster_embeddings);
  free(intro_embeddings);
  free(distances);
  free(from_file);
  free(from_bytes);
  free(poster_bytes);
  free(csv_text);
  return ok ? 0 : 1;
}
