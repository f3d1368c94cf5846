#include "cache/content_hash.hpp"

#include "core/fail.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <fstream>
#include <vector>

namespace clipmatch::cache {

namespace {

ContentKey to_key(const XXH128_hash_t& hash) { return ContentKey{hash.high64, hash.low64}; }

class Hasher {
 public:
  Hasher() : state_(XXH3_createState()) { XXH3_128bits_reset(state_); }
  ~Hasher() { XXH3_freeState(state_); }
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void update(const void* data, std::size_t size) { XXH3_128bits_update(state_, data, size); }
  void update(const std::string& text) {
    const std::uint64_t size = text.size();  // length prefix keeps "ab"+"c" distinct from "a"+"bc"
    update(&size, sizeof size);
    update(text.data(), text.size());
  }
  ContentKey digest() const { return to_key(XXH3_128bits_digest(state_)); }

 private:
  XXH3_state_t* state_;
};

}  // namespace

std::string ContentKey::hex() const { return fmt::format("{:016x}{:016x}", high, low); }

ContentKey hash_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "{}: cannot open for hashing", path.string());
  Hasher hasher;
  std::vector<char> block(1 << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    hasher.update(block.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) fail(ErrorKind::Io, "{}: read error while hashing", path.string());
  return hasher.digest();
}

ContentKey hash_text(const std::string& text, const std::string& salt) {
  Hasher hasher;
  hasher.update(salt);
  hasher.update(text);
  return hasher.digest();
}

ContentKey hash_module(const torch::nn::Module& module, const std::string& extra) {
  Hasher hasher;
  hasher.update(extra);
  auto add = [&hasher](const std::string& name, const torch::Tensor& tensor) {
    hasher.update(name);
    const auto cpu = tensor.detach().to(torch::kCPU).contiguous();
    const auto sizes = cpu.sizes().vec();
    hasher.update(sizes.data(), sizes.size() * sizeof(std::int64_t));
    hasher.update(cpu.data_ptr(), cpu.numel() * cpu.element_size());
  };
  for (const auto& item : module.named_parameters(true)) add(item.key(), item.value());
  for (const auto& item : module.named_buffers(true)) add(item.key(), item.value());
  return hasher.digest();
}

std::uint64_t entry_checksum(const ContentKey& key, const void* row, std::size_t bytes) {
  return XXH3_64bits_withSeed(row, bytes, key.high ^ (key.low * 0x9E3779B97F4A7C15ULL));
}

}  // namespace clipmatch::cache
