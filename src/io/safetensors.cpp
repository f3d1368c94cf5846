// The safetensors reader validates every rule of the format before handing out a single pointer, because the
// views it returns point straight into the mapped file: a wrong offset would otherwise read out of bounds.
#include <clipmatch/safetensors.hpp>

#include "core/fail.hpp"
#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <unordered_map>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors stores little-endian data; this reader assumes a little-endian host"
#endif

namespace clipmatch {
namespace {

using json = nlohmann::json;

constexpr std::uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;  // the reference implementation's cap
constexpr const char* kMetadataKey = "__metadata__";

struct DTypeInfo {
  DType dtype;
  const char* name;
  std::size_t size;
};

constexpr std::array<DTypeInfo, 15> kDTypes{{
    {DType::F64, "F64", 8},    {DType::F32, "F32", 4},  {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},  {DType::I64, "I64", 8},  {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},    {DType::I8, "I8", 1},    {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},  {DType::U16, "U16", 2},  {DType::U32, "U32", 4},
    {DType::U64, "U64", 8},    {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
}};

const DTypeInfo& info(DType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  fail(ErrorKind::InvalidArgument, "invalid DType value {}", static_cast<int>(dtype));
}

std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::nullopt;
  return a * b;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// Parses the header, rejecting a key that appears twice in the same object (nlohmann keeps the last silently).
json parse_header(const std::string& path, const char* begin, const char* end) {
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> duplicate;
  json::parser_callback_t detect_duplicates = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == json::parse_event_t::key && !open_objects.empty() && !duplicate) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(begin, end, detect_duplicates);
  } catch (const json::exception& e) {
    fail(ErrorKind::Format, "{}: safetensors header is not valid JSON: {}", path, e.what());
  }
  if (duplicate) fail(ErrorKind::Format, "{}: safetensors header names '{}' twice", path, *duplicate);
  if (!header.is_object()) fail(ErrorKind::Format, "{}: safetensors header is not a JSON object", path);
  return header;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& value) {
  if (!value.is_object()) fail(ErrorKind::Format, "{}: {} is not a JSON object", path, kMetadataKey);
  std::map<std::string, std::string> metadata;
  for (const auto& [key, entry] : value.items()) {
    if (!entry.is_string()) {
      fail(ErrorKind::Format, "{}: {} entry '{}' is not a string (got {})", path, kMetadataKey, key,
           entry.type_name());
    }
    metadata.emplace(key, entry.get<std::string>());
  }
  return metadata;
}

struct Entry {
  TensorView view;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

Entry parse_entry(const std::string& path, const std::string& name, const json& value) {
  if (!value.is_object()) fail(ErrorKind::Format, "{}: tensor '{}': entry is not a JSON object", path, name);
  auto field = [&](const char* key) -> const json& {
    auto it = value.find(key);
    if (it == value.end()) fail(ErrorKind::Format, "{}: tensor '{}': missing '{}'", path, name, key);
    return *it;
  };
  Entry entry;
  entry.view.name = name;

  const json& dtype = field("dtype");
  if (!dtype.is_string()) fail(ErrorKind::Format, "{}: tensor '{}': 'dtype' is not a string", path, name);
  try {
    entry.view.dtype = dtype_from_name(dtype.get<std::string>());
  } catch (const Error& e) {
    fail(ErrorKind::Format, "{}: tensor '{}': {}", path, name, e.what());
  }

  const json& shape = field("shape");
  if (!shape.is_array()) fail(ErrorKind::Format, "{}: tensor '{}': 'shape' is not an array", path, name);
  std::uint64_t numel = 1;
  for (const json& dim : shape) {
    if (!dim.is_number_unsigned()) {
      fail(ErrorKind::Format, "{}: tensor '{}': shape {} has an entry that is not a non-negative integer", path,
           name, shape.dump());
    }
    const auto extent = dim.get<std::uint64_t>();
    const auto product = checked_mul(numel, extent);
    if (!product || extent > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail(ErrorKind::Format, "{}: tensor '{}': shape {} overflows", path, name, shape.dump());
    }
    numel = *product;
    entry.view.shape.push_back(static_cast<std::int64_t>(extent));
  }

  const json& offsets = field("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    fail(ErrorKind::Format, "{}: tensor '{}': 'data_offsets' is not a pair of non-negative integers: {}", path,
         name, offsets.dump());
  }
  entry.begin = offsets[0].get<std::uint64_t>();
  entry.end = offsets[1].get<std::uint64_t>();
  if (entry.begin > entry.end) {
    fail(ErrorKind::Format, "{}: tensor '{}': data_offsets [{}, {}] end before they begin", path, name,
         entry.begin, entry.end);
  }
  const auto expected = checked_mul(numel, dtype_size(entry.view.dtype));
  if (!expected || *expected != entry.end - entry.begin) {
    fail(ErrorKind::Format, "{}: tensor '{}': data_offsets [{}, {}] span {} bytes but {} {} needs {}", path, name,
         entry.begin, entry.end, entry.end - entry.begin, dtype_name(entry.view.dtype),
         shape_string(entry.view.shape), expected ? std::to_string(*expected) : std::string("more than 2^64"));
  }
  entry.view.nbytes = static_cast<std::size_t>(entry.end - entry.begin);
  return entry;
}

}  // namespace

std::size_t dtype_size(DType dtype) { return info(dtype).size; }
const char* dtype_name(DType dtype) { return info(dtype).name; }

DType dtype_from_name(const std::string& name) {
  for (const auto& entry : kDTypes) {
    if (name == entry.name) return entry.dtype;
  }
  fail(ErrorKind::Format, "unknown safetensors dtype '{}'", name);
}

std::int64_t TensorView::numel() const {
  std::int64_t count = 1;
  for (std::int64_t extent : shape) count *= extent;
  return count;
}

// ---------------------------------------------------------------------------------------------------------
struct SafetensorsFile::Impl {
  std::string path;
  void* mapping = nullptr;
  std::size_t mapped_bytes = 0;
  std::vector<std::string> names;
  std::unordered_map<std::string, TensorView> tensors;
  std::map<std::string, std::string> metadata;

  ~Impl() {
    if (mapping != nullptr) ::munmap(mapping, mapped_bytes);
  }
};

SafetensorsFile::SafetensorsFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    fail(ErrorKind::Io, "{}: cannot open: {}", path, std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(ErrorKind::Io, "{}: cannot stat: {}", path, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorKind::Io, "{}: not a regular file", path);
  }
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    fail(ErrorKind::Format, "{}: {} bytes is too short for a safetensors file (needs the 8-byte header length)",
         path, file_size);
  }
  void* mapping = ::mmap(nullptr, static_cast<std::size_t>(file_size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (mapping == MAP_FAILED) fail(ErrorKind::Io, "{}: cannot memory-map: {}", path, std::strerror(map_err));
  impl->mapping = mapping;
  impl->mapped_bytes = static_cast<std::size_t>(file_size);
  const auto* bytes = static_cast<const unsigned char*>(mapping);

  std::uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes, 8);
  if (header_bytes > kMaxHeaderBytes) {
    fail(ErrorKind::Format, "{}: header length {} exceeds the {}-byte limit (corrupt or not safetensors)", path,
         header_bytes, kMaxHeaderBytes);
  }
  if (header_bytes > file_size - 8) {
    fail(ErrorKind::Format, "{}: header length {} runs past the end of the {}-byte file (truncated?)", path,
         header_bytes, file_size);
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes + 8);
  if (header_bytes == 0 || header_begin[0] != '{') {
    fail(ErrorKind::Format, "{}: safetensors header does not start with '{{'", path);
  }
  const json header = parse_header(path, header_begin, header_begin + header_bytes);

  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      impl->metadata = parse_metadata(path, value);
    } else {
      entries.push_back(parse_entry(path, name, value));
    }
  }

  // The byte buffer must be tiled exactly: sorted by offset, each tensor starts where the previous one ended.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const std::uint64_t buffer_bytes = file_size - 8 - header_bytes;
  std::uint64_t expected_begin = 0;
  const std::string* previous = nullptr;
  for (const Entry& entry : entries) {
    if (entry.begin < expected_begin) {
      fail(ErrorKind::Format, "{}: tensor '{}' (bytes {}..{}) overlaps tensor '{}' (ends at {})", path,
           entry.view.name, entry.begin, entry.end, *previous, expected_begin);
    }
    if (entry.begin > expected_begin) {
      fail(ErrorKind::Format, "{}: tensor '{}' starts at byte {} leaving a gap after {} (which ends at {})", path,
           entry.view.name, entry.begin, previous ? "tensor '" + *previous + "'" : std::string("the header"),
           expected_begin);
    }
    if (entry.end > buffer_bytes) {
      fail(ErrorKind::Format, "{}: tensor '{}': data_offsets [{}, {}] run past the {}-byte data buffer (truncated?)",
           path, entry.view.name, entry.begin, entry.end, buffer_bytes);
    }
    expected_begin = entry.end;
    previous = &entry.view.name;
  }
  if (expected_begin != buffer_bytes) {
    fail(ErrorKind::Format, "{}: the tensors cover {} bytes but the data buffer holds {} (trailing bytes)", path,
         expected_begin, buffer_bytes);
  }

  const unsigned char* buffer = bytes + 8 + header_bytes;
  for (Entry& entry : entries) {
    entry.view.data = buffer + entry.begin;
    impl->names.push_back(entry.view.name);
    impl->tensors.emplace(entry.view.name, std::move(entry.view));
  }
  return SafetensorsFile(std::move(impl));
}

const std::string& SafetensorsFile::path() const { return impl_->path; }
const std::vector<std::string>& SafetensorsFile::names() const { return impl_->names; }
bool SafetensorsFile::contains(const std::string& name) const { return impl_->tensors.count(name) != 0; }
const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return impl_->metadata; }

const TensorView& SafetensorsFile::tensor(const std::string& name) const {
  auto it = impl_->tensors.find(name);
  if (it == impl_->tensors.end()) {
    fail(ErrorKind::Checkpoint, "{}: no tensor named '{}' ({} tensors in the file)", impl_->path, name,
         impl_->names.size());
  }
  return it->second;
}

// ---------------------------------------------------------------------------------------------------------
void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorView*> sorted;
  sorted.reserve(tensors.size());
  for (const TensorView& tensor : tensors) sorted.push_back(&tensor);
  std::sort(sorted.begin(), sorted.end(), [](const TensorView* a, const TensorView* b) { return a->name < b->name; });

  json header = json::object();
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const TensorView& tensor = *sorted[i];
    if (tensor.name.empty() || tensor.name == kMetadataKey) {
      fail(ErrorKind::InvalidArgument, "{}: invalid tensor name '{}'", path, tensor.name);
    }
    if (i > 0 && sorted[i - 1]->name == tensor.name) {
      fail(ErrorKind::InvalidArgument, "{}: tensor '{}' is given twice", path, tensor.name);
    }
    std::uint64_t numel = 1;
    for (std::int64_t extent : tensor.shape) {
      if (extent < 0) {
        fail(ErrorKind::InvalidArgument, "{}: tensor '{}': negative extent in shape {}", path, tensor.name,
             shape_string(tensor.shape));
      }
      numel *= static_cast<std::uint64_t>(extent);
    }
    if (numel * dtype_size(tensor.dtype) != tensor.nbytes) {
      fail(ErrorKind::InvalidArgument, "{}: tensor '{}': {} bytes given but {} {} needs {}", path, tensor.name,
           tensor.nbytes, dtype_name(tensor.dtype), shape_string(tensor.shape), numel * dtype_size(tensor.dtype));
    }
    if (tensor.nbytes > 0 && tensor.data == nullptr) {
      fail(ErrorKind::InvalidArgument, "{}: tensor '{}' has no data", path, tensor.name);
    }
    header[tensor.name] = {{"dtype", dtype_name(tensor.dtype)},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + tensor.nbytes}}};
    offset += tensor.nbytes;
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;

  // Padding the header keeps the data buffer 8-byte aligned in the file (and in a page-aligned mapping).
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::uint64_t header_bytes = text.size();

  io::write_file_atomically(path, [&](std::ostream& out) {
    char length[8];
    std::memcpy(length, &header_bytes, 8);
    out.write(length, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const TensorView* tensor : sorted) {
      if (tensor->nbytes > 0) {
        out.write(static_cast<const char*>(tensor->data), static_cast<std::streamsize>(tensor->nbytes));
      }
    }
  });
}

}  // namespace clipmatch
