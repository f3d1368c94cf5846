// clipmatch — embeddings and matrices to and from NumPy .npy files (float32, C order).
#pragma once

#include <clipmatch/export.h>
#include <clipmatch/model.hpp>

#include <string>

namespace clipmatch {

/// Writes `matrix` as a float32 [rows, cols] .npy file, atomically.
CLIPMATCH_API void save_npy(const std::string& path, const Matrix& matrix);
/// Reads a 2-D float32 .npy file; throws clipmatch::Error naming the file for anything else.
CLIPMATCH_API Matrix load_npy(const std::string& path);

}  // namespace clipmatch
