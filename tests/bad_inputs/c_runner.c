/* Runs every case of the bad-inputs corpus through the C ABI.
 *
 *   c_runner CASES_DIR [SCRATCH_DIR]
 *
 * CASES_DIR is what make_cases.py wrote: cases.txt (one case name per line) and per case a dataset folder with
 * case.txt ("expect=accept|refuse", one "name=..." line per substring the error message must contain, and
 * "KEY=VALUE" train arguments: epochs, batch_size, learning_rate, device). Each case runs
 * clipmatch_model_create (CPU unless the case says otherwise, other fields default) and clipmatch_train
 * (clipmatch_train_default_params() with epochs 1, batch size 8, no feature cache, quiet, then the case's
 * arguments) into SCRATCH_DIR/<case>/run (default $TMPDIR or /tmp, + /clipmatch-bad-inputs-c).
 *   accept: both calls return CLIPMATCH_OK and run/model.safetensors exists.
 *   refuse: a call returns a status other than CLIPMATCH_OK and CLIPMATCH_ERROR_INTERNAL, clipmatch_last_error()
 *           contains every name, and run/model.safetensors does not exist.
 * A crash ends the program (the caller sees the signal). Prints one line per case, then "N passed, M failed";
 * exits 1 when a case failed. C99 and <clipmatch.h> only.
 */
#include <clipmatch.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 4096
#define MAX_NAMES 16

typedef struct test_case {
  char expect[16];
  char names[MAX_NAMES][MAX_LINE];
  int n_names;
  int epochs, batch_size;
  double learning_rate;
  int has_learning_rate;
  char device[32];
} test_case;

static void drop_log(int level, const char* message, void* user_data) {
  (void)level;
  (void)message;
  (void)user_data;
}

static void chomp(char* s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
}

static int file_exists(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) return 0;
  fclose(f);
  return 1;
}

static const char* status_name(clipmatch_status s) {
  switch (s) {
    case CLIPMATCH_OK: return "OK";
    case CLIPMATCH_ERROR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case CLIPMATCH_ERROR_IO: return "IO";
    case CLIPMATCH_ERROR_FORMAT: return "FORMAT";
    case CLIPMATCH_ERROR_CHECKPOINT: return "CHECKPOINT";
    case CLIPMATCH_ERROR_UNSUPPORTED: return "UNSUPPORTED";
    case CLIPMATCH_ERROR_INTERNAL: return "INTERNAL";
    case CLIPMATCH_ERROR_BUFFER_TOO_SMALL: return "BUFFER_TOO_SMALL";
    case CLIPMATCH_ERROR_CANCELLED: return "CANCELLED";
  }
  return "?";
}

/* Reads dir/case.txt; returns 0 on success. */
static int read_case(const char* dir, test_case* c, char* why, size_t why_len) {
  char path[MAX_LINE], line[MAX_LINE];
  FILE* f;
  memset(c, 0, sizeof *c);
  c->epochs = 1;
  c->batch_size = 8;
  strcpy(c->device, "cpu");
  sprintf(path, "%.4000s/case.txt", dir);
  f = fopen(path, "r");
  if (!f) {
    sprintf(why, "cannot open %.200s", path);
    return 1;
  }
  while (fgets(line, sizeof line, f)) {
    char* eq;
    char* value;
    chomp(line);
    if (line[0] == '\0') continue;
    eq = strchr(line, '=');
    if (!eq) continue;
    *eq = '\0';
    value = eq + 1;
    if (strcmp(line, "expect") == 0) {
      strncpy(c->expect, value, sizeof c->expect - 1);
    } else if (strcmp(line, "name") == 0) {
      if (c->n_names < MAX_NAMES) strcpy(c->names[c->n_names++], value);
    } else if (strcmp(line, "epochs") == 0) {
      c->epochs = atoi(value);
    } else if (strcmp(line, "batch_size") == 0) {
      c->batch_size = atoi(value);
    } else if (strcmp(line, "learning_rate") == 0) {
      c->learning_rate = strtod(value, NULL); /* C99 strtod reads "nan" and "inf" */
      c->has_learning_rate = 1;
    } else if (strcmp(line, "device") == 0) {
      strncpy(c->device, value, sizeof c->device - 1);
    } else {
      fprintf(stderr, "%s: unknown key '%s'\n", path, line);
    }
  }
  fclose(f);
  if (strcmp(c->expect, "accept") != 0 && strcmp(c->expect, "refuse") != 0) {
    sprintf(why, "%.200s has no valid expect= line", path);
    return 1;
  }
  (void)why_len;
  return 0;
}

static clipmatch_device device_of(const char* name) {
  if (strcmp(name, "cuda") == 0) return CLIPMATCH_DEVICE_CUDA;
  if (strcmp(name, "auto") == 0) return CLIPMATCH_DEVICE_AUTO;
  return CLIPMATCH_DEVICE_CPU;
}

int main(int argc, char** argv) {
  const char* cases_dir;
  char scratch[MAX_LINE];
  char index_path[MAX_LINE], name[MAX_LINE];
  FILE* index;
  int passed = 0, failed = 0;

  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s CASES_DIR [SCRATCH_DIR]\n", argv[0]);
    return 2;
  }
  cases_dir = argv[1];
  if (argc == 3) {
    sprintf(scratch, "%.4000s", argv[2]);
  } else {
    const char* tmp = getenv("TMPDIR");
    sprintf(scratch, "%.4000s/clipmatch-bad-inputs-c", tmp && *tmp ? tmp : "/tmp");
  }
  sprintf(index_path, "%.4000s/cases.txt", cases_dir);
  index = fopen(index_path, "r");
  if (!index) {
    fprintf(stderr, "%s: cannot open %s (written by make_cases.py)\n", argv[0], index_path);
    return 2;
  }
  clipmatch_set_log_callback(drop_log, NULL);

  while (fgets(name, sizeof name, index)) {
    char dir[MAX_LINE], run_dir[MAX_LINE], model_path[MAX_LINE], problems[3 * MAX_LINE], why[512];
    char message[MAX_LINE];
    test_case c;
    clipmatch_model_params mp;
    clipmatch_train_params tp;
    clipmatch_model* model = NULL;
    clipmatch_status status;
    const char* stage = "create";
    int i;

    chomp(name);
    if (name[0] == '\0') continue;
    sprintf(dir, "%.2000s/%.1000s", cases_dir, name);
    sprintf(run_dir, "%.2000s/%.1000s/run", scratch, name);
    sprintf(model_path, "%.4000s/model.safetensors", run_dir);
    problems[0] = '\0';
    why[0] = '\0';
    if (read_case(dir, &c, why, sizeof why) != 0) {
      failed++;
      printf("FAIL %s: %s\n", name, why);
      continue;
    }
    remove(model_path); /* a previous run's checkpoint must not count */

    mp = clipmatch_model_default_params();
    mp.device = device_of(c.device);
    status = clipmatch_model_create(&mp, &model);
    if (status == CLIPMATCH_OK) {
      tp = clipmatch_train_default_params();
      tp.run_dir = run_dir;
      tp.epochs = c.epochs;
      tp.batch_size = c.batch_size;
      if (c.has_learning_rate) tp.learning_rate = c.learning_rate;
      tp.use_cache = 0;
      tp.verbose = 0;
      stage = "train";
      status = clipmatch_train(model, dir, &tp, NULL);
    }
    sprintf(message, "%.4000s", clipmatch_last_error());
    clipmatch_model_free(model);

    if (strcmp(c.expect, "accept") == 0) {
      if (status != CLIPMATCH_OK)
        sprintf(problems + strlen(problems), "%s returned %s: %.2000s; ", stage, status_name(status), message);
      else if (!file_exists(model_path))
        sprintf(problems + strlen(problems), "no %.2000s; ", model_path);
    } else {
      if (status == CLIPMATCH_OK) strcat(problems, "accepted (CLIPMATCH_OK); ");
      if (status == CLIPMATCH_ERROR_INTERNAL) strcat(problems, "returned CLIPMATCH_ERROR_INTERNAL; ");
      if (status != CLIPMATCH_OK) {
        for (i = 0; i < c.n_names; i++)
          if (!strstr(message, c.names[i]))
            sprintf(problems + strlen(problems), "message does not name '%.500s'; ", c.names[i]);
      }
      if (file_exists(model_path)) sprintf(problems + strlen(problems), "left %.2000s; ", model_path);
    }

    if (problems[0] == '\0') {
      passed++;
      if (strcmp(c.expect, "refuse") == 0)
        printf("PASS %s (refuse, %s %s) :: %s\n", name, stage, status_name(status), message);
      else
        printf("PASS %s (accept)\n", name);
    } else {
      size_t n = strlen(problems);
      if (n >= 2) problems[n - 2] = '\0';
      failed++;
      printf("FAIL %s (%s, %s %s): %s :: %s\n", name, c.expect, stage, status_name(status), problems, message);
    }
    fflush(stdout);
  }
  fclose(index);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
