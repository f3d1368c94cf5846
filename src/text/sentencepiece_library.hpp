// Run-time access to the sentencepiece shim module (see sentencepiece_c_api.h for why it is not linked).
#pragma once

#include "text/sentencepiece_c_api.h"

#include <string>

namespace clipmatch::text::spm {

/// The shim's entry points, resolved once.
struct ShimApi {
  std::string path;  ///< the file that was loaded
  clipmatch_spm_last_error_fn last_error = nullptr;
  clipmatch_spm_load_file_fn load_file = nullptr;
  clipmatch_spm_load_bytes_fn load_bytes = nullptr;
  clipmatch_spm_free_fn free_model = nullptr;
  clipmatch_spm_encode_fn encode = nullptr;
  clipmatch_spm_decode_fn decode = nullptr;
  clipmatch_spm_release_fn release = nullptr;
  clipmatch_spm_model_int_fn piece_size = nullptr;
  clipmatch_spm_model_int_fn pad_id = nullptr;
  clipmatch_spm_model_int_fn unk_id = nullptr;
  clipmatch_spm_model_int_fn bos_id = nullptr;
  clipmatch_spm_model_int_fn eos_id = nullptr;
  clipmatch_spm_train_fn train = nullptr;
};

/// Loads libclipmatch_sentencepiece.so on first use, from the first place that has it:
/// $CLIPMATCH_SENTENCEPIECE_SHIM (the file, or a folder holding it), the folder of the binary that contains
/// this code (libclipmatch.so when installed), the build folder, then the install libdir. Throws
/// clipmatch::Error (Unsupported) listing every place tried when none has it, or with dlerror() when it
/// cannot be loaded.
const ShimApi& shim();

}  // namespace clipmatch::text::spm
