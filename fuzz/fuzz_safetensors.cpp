// libFuzzer target: the safetensors reader (src/io/safetensors.cpp), and its writer on what it accepted.
//
// SafetensorsFile::open only takes a path (it memory-maps the file), so the input is placed in a memfd and
// opened as /proc/self/fd/N: a regular file, mapped exactly as a file on disk would be.
//
// For a file the reader accepts the target also checks what the reader promises: views tile the data
// buffer exactly (sum of nbytes = file size − 8 − header length, nbytes = numel × dtype size), every byte
// of every view can be read, tensor() finds every listed name; then it writes the tensors back with
// write_safetensors and reopens the result, which must succeed with the same names, shapes, bytes and
// metadata (unless the writer refuses with a clipmatch::Error, e.g. for a name it does not allow).
#include <clipmatch/safetensors.hpp>

#include "fuzz_common.hpp"

#include <cstring>
#include <map>
#include <set>

namespace {

std::uint64_t header_length(const std::uint8_t* data) {
  std::uint64_t n = 0;
  std::memcpy(&n, data, 8);
  return n;
}

void check_accepted(const clipmatch::SafetensorsFile& file, const std::uint8_t* data, std::size_t size) {
  FUZZ_CHECK(size >= 8, "accepted a file shorter than 8 bytes");
  const std::uint64_t header = header_length(data);
  FUZZ_CHECK(header <= size - 8, "header length past the end");
  std::uint64_t total = 0;
  volatile unsigned char sink = 0;
  std::set<std::string> seen;
  for (const std::string& name : file.names()) {
    FUZZ_CHECK(seen.insert(name).second, "name listed twice: " + name);
    FUZZ_CHECK(file.contains(name), "listed name not found: " + name);
    const clipmatch::TensorView& view = file.tensor(name);
    FUZZ_CHECK(view.name == name, "view name differs");
    std::uint64_t numel = 1;
    for (std::int64_t extent : view.shape) {
      FUZZ_CHECK(extent >= 0, "negative extent");
      numel *= static_cast<std::uint64_t>(extent);
    }
    FUZZ_CHECK(numel * clipmatch::dtype_size(view.dtype) == view.nbytes, "nbytes != numel * dtype size for " + name);
    const auto* bytes = static_cast<const unsigned char*>(view.data);
    for (std::size_t i = 0; i < view.nbytes; ++i) sink = static_cast<unsigned char>(sink ^ bytes[i]);
    total += view.nbytes;
  }
  (void)sink;
  FUZZ_CHECK(total == size - 8 - header, "views do not cover the data buffer exactly");
  FUZZ_CHECK(!file.contains("__metadata__"), "__metadata__ listed as a tensor");
}

void round_trip(const clipmatch::SafetensorsFile& file) {
  std::vector<clipmatch::TensorView> views;
  for (const std::string& name : file.names()) views.push_back(file.tensor(name));
  const std::string path = (fuzz::scratch_dir() / "roundtrip.safetensors").string();
  bool written = fuzz::guarded("write_safetensors", [&] { write_safetensors(path, views, file.metadata()); });
  if (!written) return;  // the writer may refuse names the reader tolerates (e.g. "")
  fuzz::guarded("reopen written file", [&] {
    try {
      const auto again = clipmatch::SafetensorsFile::open(path);
      std::set<std::string> before(file.names().begin(), file.names().end());
      std::set<std::string> after(again.names().begin(), again.names().end());
      FUZZ_CHECK(before == after, "round trip changed the tensor names");
      FUZZ_CHECK(file.metadata() == again.metadata(), "round trip changed the metadata");
      for (const std::string& name : file.names()) {
        const auto& a = file.tensor(name);
        const auto& b = again.tensor(name);
        FUZZ_CHECK(a.dtype == b.dtype && a.shape == b.shape && a.nbytes == b.nbytes, "round trip changed " + name);
        FUZZ_CHECK(a.nbytes == 0 || std::memcmp(a.data, b.data, a.nbytes) == 0, "round trip changed bytes of " + name);
      }
    } catch (const clipmatch::Error& e) {
      fuzz::finding("write_safetensors wrote a file the reader rejects", e.what());
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemFile input("fuzz_safetensors");
  input.assign(data, size);
  fuzz::guarded("SafetensorsFile::open", [&] {
    const auto file = clipmatch::SafetensorsFile::open(input.path());
    check_accepted(file, data, size);
    round_trip(file);
  });
  return 0;
}
