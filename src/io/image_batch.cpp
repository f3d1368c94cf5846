// Parallel decode + preprocess into one batch tensor: each worker writes its image's CHW block in place.
#include "core/fail.hpp"
#include "core/thread_pool.hpp"
#include "io/image_impl.hpp"

namespace clipmatch::io {
namespace {

torch::Tensor empty_batch(std::size_t count, const ImagePreprocess& pp) {
  return torch::empty({static_cast<std::int64_t>(count), 3, pp.size, pp.size}, torch::kFloat32);
}

}  // namespace

torch::Tensor to_tensor_batch(const std::vector<Image>& images, const ImagePreprocess& pp, ThreadPool* pool) {
  pp.validate();
  torch::Tensor batch = empty_batch(images.size(), pp);
  float* data = batch.data_ptr<float>();
  const std::size_t per_image = static_cast<std::size_t>(3) * pp.size * pp.size;
  (pool ? *pool : ThreadPool::shared()).parallel_for(images.size(), [&](std::size_t i) {
    try {
      preprocess_into(images[i], pp, data + i * per_image);
    } catch (const Error& e) {
      fail(e.kind(), "image {} of the batch: {}", i, e.what());
    }
  });
  return batch;
}

torch::Tensor preprocess_files(const std::vector<std::string>& paths, const ImagePreprocess& pp,
                               const DecodeOptions& options, ThreadPool* pool) {
  pp.validate();
  torch::Tensor batch = empty_batch(paths.size(), pp);
  float* data = batch.data_ptr<float>();
  const std::size_t per_image = static_cast<std::size_t>(3) * pp.size * pp.size;
  (pool ? *pool : ThreadPool::shared()).parallel_for(paths.size(), [&](std::size_t i) {
    const Image image = decode_image_file(paths[i], options);  // its errors already name the file
    try {
      preprocess_into(image, pp, data + i * per_image);
    } catch (const Error& e) {
      fail(e.kind(), "{}: {}", paths[i], e.what());
    } catch (const std::exception& e) {
      fail(ErrorKind::Internal, "{}: {}", paths[i], e.what());
    }
  });
  return batch;
}

}  // namespace clipmatch::io
