// Parallel decode + preprocess into one batch tensor: each worker writes its image's CHW block in place.
#include "core/fail.hpp"
#include "core/thread_pool.hpp"
#include "io/image_impl.hpp"

namespace clipmatch::io {
namespace {

torch::Tensor empty_batch(std::size_t count, const ImagePreprocess& pp, BatchMemory memory) {
  return torch::empty({static_cast<std::int64_t>(count), 3, pp.size, pp.size},
                      torch::TensorOptions(torch::kFloat32).pinned_memory(memory == BatchMemory::PageLocked));
}

}  // namespace

torch::Tensor to_tensor_batch(const std::vector<Image>& images, const ImagePreprocess& pp, ThreadPool* pool) {
  pp.validate();
  torch::Tensor batch = empty_batch(images.size(), pp, BatchMemory::Pageable);
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

namespace {

/// Decodes item i with `decode` (its errors name the item) and preprocesses it into its slot, in parallel.
template <typename Decode, typename Name>
torch::Tensor decode_batch(std::size_t count, const ImagePreprocess& pp, ThreadPool* pool, BatchMemory memory,
                           Decode&& decode, Name&& name) {
  pp.validate();
  torch::Tensor batch = empty_batch(count, pp, memory);
  float* data = batch.data_ptr<float>();
  const std::size_t per_image = static_cast<std::size_t>(3) * pp.size * pp.size;
  (pool ? *pool : ThreadPool::shared()).parallel_for(count, [&](std::size_t i) {
    const Image image = decode(i);
    try {
      preprocess_into(image, pp, data + i * per_image);
    } catch (const Error& e) {
      fail(e.kind(), "{}: {}", name(i), e.what());
    } catch (const std::exception& e) {
      fail(ErrorKind::Internal, "{}: {}", name(i), e.what());
    }
  });
  return batch;
}

std::string item_name(std::size_t i) { return fmt::format("image {}", i); }

}  // namespace

torch::Tensor preprocess_files(const std::vector<std::string>& paths, const ImagePreprocess& pp,
                               const DecodeOptions& options, ThreadPool* pool, BatchMemory memory) {
  return decode_batch(
      paths.size(), pp, pool, memory, [&](std::size_t i) { return decode_image_file(paths[i], options); },
      [&](std::size_t i) { return paths[i]; });
}

torch::Tensor preprocess_encoded(const std::vector<EncodedImage>& images, const ImagePreprocess& pp,
                                 const DecodeOptions& options, ThreadPool* pool, BatchMemory memory) {
  return decode_batch(
      images.size(), pp, pool, memory,
      [&](std::size_t i) {
        if (images[i].data == nullptr) fail(ErrorKind::InvalidArgument, "{}: data is NULL", item_name(i));
        return decode_image_memory(images[i].data, images[i].size, item_name(i), options);
      },
      item_name);
}

torch::Tensor preprocess_pixels(const std::vector<PixelView>& images, const ImagePreprocess& pp,
                                const DecodeOptions& options, ThreadPool* pool, BatchMemory memory) {
  return decode_batch(
      images.size(), pp, pool, memory,
      [&](std::size_t i) {
        try {
          return image_from_pixels(images[i], options);
        } catch (const Error& e) {
          fail(e.kind(), "{}: {}", item_name(i), e.what());
        }
      },
      item_name);
}

}  // namespace clipmatch::io
