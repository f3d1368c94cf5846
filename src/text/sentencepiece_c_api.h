/* The plain C interface of the sentencepiece shim module (libclipmatch_sentencepiece.so). The module is
 * loaded with dlopen(RTLD_LOCAL | RTLD_DEEPBIND) because Debian's libsentencepiece bundles a protobuf that
 * clashes with LibTorch's; nothing but C types crosses this boundary. Functions returning int return 0 on
 * success and nonzero on failure, with the reason in clipmatch_spm_last_error() (per thread). */
#ifndef CLIPMATCH_SENTENCEPIECE_C_API_H
#define CLIPMATCH_SENTENCEPIECE_C_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLIPMATCH_SPM_ABI_VERSION 2

typedef struct clipmatch_spm clipmatch_spm;

typedef int (*clipmatch_spm_abi_version_fn)(void);
typedef const char* (*clipmatch_spm_last_error_fn)(void);
/* A model from a .model file or from its serialized bytes; NULL on failure. */
typedef clipmatch_spm* (*clipmatch_spm_load_file_fn)(const char* path);
typedef clipmatch_spm* (*clipmatch_spm_load_bytes_fn)(const char* data, size_t size);
typedef void (*clipmatch_spm_free_fn)(clipmatch_spm* model);
/* Encodes `text` into a buffer the shim allocates (*ids, *count); release it with clipmatch_spm_release. */
typedef int (*clipmatch_spm_encode_fn)(const clipmatch_spm* model, const char* text, size_t size, int32_t** ids,
                                       size_t* count);
/* Decodes ids into a NUL-terminated buffer the shim allocates; release it with clipmatch_spm_release. */
typedef int (*clipmatch_spm_decode_fn)(const clipmatch_spm* model, const int32_t* ids, size_t count, char** text,
                                       size_t* size);
typedef void (*clipmatch_spm_release_fn)(void* buffer);
/* piece count, or the id of <pad>/<unk>/<s>/</s> (-1 when the model has none). */
typedef int (*clipmatch_spm_model_int_fn)(const clipmatch_spm* model);
/* Trains a model: `keys[i]`=`values[i]` are sentencepiece trainer flags (input, model_prefix, vocab_size…). */
typedef int (*clipmatch_spm_train_fn)(const char* const* keys, const char* const* values, size_t count);

#ifdef __cplusplus
}
#endif

#endif
