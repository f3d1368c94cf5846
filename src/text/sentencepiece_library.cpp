#include "text/sentencepiece_library.hpp"

#include "core/fail.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace clipmatch::text::spm {

namespace {

namespace fs = std::filesystem;

constexpr const char* kShimName = "libclipmatch_sentencepiece.so";

std::vector<fs::path> candidate_paths() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("CLIPMATCH_SENTENCEPIECE_SHIM"); env != nullptr && *env != '\0') {
    const fs::path path(env);
    std::error_code ec;
    candidates.push_back(fs::is_directory(path, ec) ? path / kShimName : path);
  }
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&candidate_paths), &info) != 0 && info.dli_fname != nullptr) {
    std::error_code ec;
    const fs::path self = fs::weakly_canonical(fs::path(info.dli_fname), ec);
    if (!ec) candidates.push_back(self.parent_path() / kShimName);
  }
  candidates.push_back(fs::path(CLIPMATCH_SHIM_BUILD_DIR) / kShimName);
  candidates.push_back(fs::path(CLIPMATCH_SHIM_INSTALL_DIR) / kShimName);
  return candidates;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CLIPMATCH_SANITIZED_BUILD 1
#endif

// The shim's sentencepiece must bind to its own bundled protobuf, never to LibTorch's. Normally RTLD_DEEPBIND
// does that. ASan and TSan refuse RTLD_DEEPBIND (google/sanitizers#611: the deep-bound library would bypass
// their malloc and new interceptors), so sanitizer builds load the shim, built uninstrumented for them, into a
// link-map namespace of its own: nothing it allocates or frees ever crosses into ours (buffers it returns are
// freed by clipmatch_spm_release, inside it). See docs/sanitizers.md.
void* open_privately(const fs::path& path) {
#ifdef CLIPMATCH_SANITIZED_BUILD
  return dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
#else
  int flags = RTLD_NOW | RTLD_LOCAL;
#ifdef RTLD_DEEPBIND
  flags |= RTLD_DEEPBIND;
#endif
  return dlopen(path.c_str(), flags);
#endif
}

template <typename Fn>
void resolve(void* handle, const fs::path& path, const char* name, Fn& slot) {
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) fail(ErrorKind::Unsupported, "{}: sentencepiece shim lacks {}", path.string(), name);
  slot = reinterpret_cast<Fn>(symbol);
}

ShimApi load() {
  std::string tried;
  for (const auto& path : candidate_paths()) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      tried += "\n  " + path.string();
      continue;
    }
    void* handle = open_privately(path);
    if (handle == nullptr) {
      const char* why = dlerror();
      fail(ErrorKind::Unsupported, "{}: cannot load the sentencepiece shim: {}", path.string(), why ? why : "?");
    }
    // The module stays loaded for the life of the process: models may be freed during static destruction.
    ShimApi api;
    api.path = path.string();
    clipmatch_spm_abi_version_fn abi_version = nullptr;
    resolve(handle, path, "clipmatch_spm_abi_version", abi_version);
    if (abi_version() != CLIPMATCH_SPM_ABI_VERSION)
      fail(ErrorKind::Unsupported, "{}: sentencepiece shim ABI {} but this library needs {} (stale build?)",
           path.string(), abi_version(), CLIPMATCH_SPM_ABI_VERSION);
    resolve(handle, path, "clipmatch_spm_last_error", api.last_error);
    resolve(handle, path, "clipmatch_spm_load_file", api.load_file);
    resolve(handle, path, "clipmatch_spm_load_bytes", api.load_bytes);
    resolve(handle, path, "clipmatch_spm_free", api.free_model);
    resolve(handle, path, "clipmatch_spm_encode", api.encode);
    resolve(handle, path, "clipmatch_spm_decode", api.decode);
    resolve(handle, path, "clipmatch_spm_release", api.release);
    resolve(handle, path, "clipmatch_spm_piece_size", api.piece_size);
    resolve(handle, path, "clipmatch_spm_pad_id", api.pad_id);
    resolve(handle, path, "clipmatch_spm_unk_id", api.unk_id);
    resolve(handle, path, "clipmatch_spm_bos_id", api.bos_id);
    resolve(handle, path, "clipmatch_spm_eos_id", api.eos_id);
    resolve(handle, path, "clipmatch_spm_train", api.train);
    return api;
  }
  fail(ErrorKind::Unsupported,
       "sentencepiece support needs {}, which was not found; set CLIPMATCH_SENTENCEPIECE_SHIM to its path. "
       "Looked in:{}",
       kShimName, tried);
}

}  // namespace

const ShimApi& shim() {
  // If load() throws, the static stays uninitialised and the next call tries again.
  static const ShimApi api = load();
  return api;
}

}  // namespace clipmatch::text::spm
