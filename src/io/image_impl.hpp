// Internal side of the image pipeline: JSON form of ImagePreprocess and the LibTorch
// batch helpers (parallel decode + preprocess straight into a [B,3,S,S] tensor).
#pragma once

#include <clipmatch/image.hpp>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace clipmatch {
class ThreadPool;
}

namespace clipmatch::io {

nlohmann::json preprocess_to_json(const ImagePreprocess& pp);

/// A whole number in [min, max] from a JSON value: floats, out-of-range numbers and other types are
/// clipmatch::Error (Format) naming `where` and `field`, never a silent conversion.
std::int64_t json_integer(const nlohmann::json& value, const std::string& where, const char* field, std::int64_t min,
                          std::int64_t max);
/// `where` names the source (file, checkpoint field) in error messages.
ImagePreprocess preprocess_from_json(const nlohmann::json& json, const std::string& where);

/// Writes the 3·size·size CHW floats of preprocess(image, pp) to `out`.
void preprocess_into(const Image& image, const ImagePreprocess& pp, float* out);

/// Preprocesses every image into one float32 tensor [B,3,S,S], in parallel on `pool` (the shared pool when null).
torch::Tensor to_tensor_batch(const std::vector<Image>& images, const ImagePreprocess& pp, ThreadPool* pool = nullptr);

/// Where a batch's host memory comes from. PageLocked: the workers write straight into page-locked memory,
/// so the batch's copy to a GPU is asynchronous without first copying it there (154 MB per 256 ViT posters);
/// it needs a LibTorch with CUDA.
enum class BatchMemory { Pageable, PageLocked };

/// Decodes and preprocesses every file in parallel into a float32 tensor [B,3,S,S]. If any file fails, the
/// error of the first failing file (in list order) is rethrown here; its message names the file.
torch::Tensor preprocess_files(const std::vector<std::string>& paths, const ImagePreprocess& pp,
                               const DecodeOptions& options = {}, ThreadPool* pool = nullptr,
                               BatchMemory memory = BatchMemory::Pageable);

/// Decodes and preprocesses in-memory image files ("image i" in error messages) into [B,3,S,S], in parallel.
torch::Tensor preprocess_encoded(const std::vector<EncodedImage>& images, const ImagePreprocess& pp,
                                 const DecodeOptions& options = {}, ThreadPool* pool = nullptr,
                                 BatchMemory memory = BatchMemory::Pageable);

/// Preprocesses caller-given pixels ("image i" in error messages) into [B,3,S,S], in parallel.
torch::Tensor preprocess_pixels(const std::vector<PixelView>& images, const ImagePreprocess& pp,
                                const DecodeOptions& options = {}, ThreadPool* pool = nullptr,
                                BatchMemory memory = BatchMemory::Pageable);

}  // namespace clipmatch::io
