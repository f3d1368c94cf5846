// The only translation unit that links sentencepiece. Built as a separate module and dlopen()ed privately
// (see sentencepiece_c_api.h) so its bundled protobuf never meets LibTorch's in the global symbol scope.
#include "sentencepiece_c_api.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

#define CLIPMATCH_SPM_EXPORT extern "C" __attribute__((visibility("default")))

struct clipmatch_spm {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {

thread_local std::string last_error;

int report(const sentencepiece::util::Status& status) {
  if (status.ok()) return 0;
  last_error = status.ToString();
  return 1;
}

// Nothing may unwind across the C boundary.
template <typename F>
int guarded(F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    last_error = e.what();
  } catch (...) {
    last_error = "unknown exception in sentencepiece";
  }
  return 1;
}

clipmatch_spm* finish_load(clipmatch_spm* model, const sentencepiece::util::Status& status) {
  if (report(status) == 0) return model;
  delete model;
  return nullptr;
}

}  // namespace

CLIPMATCH_SPM_EXPORT int clipmatch_spm_abi_version(void) { return CLIPMATCH_SPM_ABI_VERSION; }

CLIPMATCH_SPM_EXPORT const char* clipmatch_spm_last_error(void) { return last_error.c_str(); }

CLIPMATCH_SPM_EXPORT clipmatch_spm* clipmatch_spm_load_file(const char* path) {
  clipmatch_spm* model = nullptr;
  guarded([&] {
    model = new clipmatch_spm;
    model = finish_load(model, model->processor.Load(path));
    return model ? 0 : 1;
  });
  return model;
}

CLIPMATCH_SPM_EXPORT clipmatch_spm* clipmatch_spm_load_bytes(const char* data, size_t size) {
  clipmatch_spm* model = nullptr;
  guarded([&] {
    model = new clipmatch_spm;
    model = finish_load(model, model->processor.LoadFromSerializedProto(std::string(data, size)));
    return model ? 0 : 1;
  });
  return model;
}

CLIPMATCH_SPM_EXPORT void clipmatch_spm_free(clipmatch_spm* model) { delete model; }

CLIPMATCH_SPM_EXPORT void clipmatch_spm_release(void* buffer) { std::free(buffer); }

CLIPMATCH_SPM_EXPORT int clipmatch_spm_encode(const clipmatch_spm* model, const char* text, size_t size,
                                              int32_t** ids, size_t* count) {
  return guarded([&] {
    std::vector<int> pieces;
    if (report(model->processor.Encode(std::string(text, size), &pieces)) != 0) return 1;
    auto* buffer = static_cast<int32_t*>(std::malloc(sizeof(int32_t) * (pieces.empty() ? 1 : pieces.size())));
    if (buffer == nullptr) throw std::bad_alloc();
    for (size_t i = 0; i < pieces.size(); ++i) buffer[i] = pieces[i];
    *ids = buffer;
    *count = pieces.size();
    return 0;
  });
}

CLIPMATCH_SPM_EXPORT int clipmatch_spm_decode(const clipmatch_spm* model, const int32_t* ids, size_t count,
                                              char** text, size_t* size) {
  return guarded([&] {
    const std::vector<int> pieces(ids, ids + count);
    const int piece_count = model->processor.GetPieceSize();
    for (const int id : pieces) {
      if (id < 0 || id >= piece_count) {
        last_error = "id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(piece_count);
        return 1;
      }
    }
    std::string decoded;
    if (report(model->processor.Decode(pieces, &decoded)) != 0) return 1;
    auto* buffer = static_cast<char*>(std::malloc(decoded.size() + 1));
    if (buffer == nullptr) throw std::bad_alloc();
    std::memcpy(buffer, decoded.data(), decoded.size());
    buffer[decoded.size()] = '\0';
    *text = buffer;
    *size = decoded.size();
    return 0;
  });
}

CLIPMATCH_SPM_EXPORT int clipmatch_spm_piece_size(const clipmatch_spm* model) { return model->processor.GetPieceSize(); }
CLIPMATCH_SPM_EXPORT int clipmatch_spm_pad_id(const clipmatch_spm* model) { return model->processor.pad_id(); }
CLIPMATCH_SPM_EXPORT int clipmatch_spm_unk_id(const clipmatch_spm* model) { return model->processor.unk_id(); }
CLIPMATCH_SPM_EXPORT int clipmatch_spm_bos_id(const clipmatch_spm* model) { return model->processor.bos_id(); }
CLIPMATCH_SPM_EXPORT int clipmatch_spm_eos_id(const clipmatch_spm* model) { return model->processor.eos_id(); }

CLIPMATCH_SPM_EXPORT int clipmatch_spm_train(const char* const* keys, const char* const* values, size_t count) {
  return guarded([&] {
    std::unordered_map<std::string, std::string> kwargs;
    for (size_t i = 0; i < count; ++i) kwargs[keys[i]] = values[i];
    return report(sentencepiece::SentencePieceTrainer::Train(kwargs));
  });
}
