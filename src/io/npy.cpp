#include "io/npy.hpp"

#include "core/fail.hpp"
#include "io/atomic_file.hpp"

#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>

namespace clipmatch::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicBytes = 6;

std::int64_t checked_numel(const std::string& where, const std::vector<std::int64_t>& shape) {
  std::int64_t count = 1;
  for (std::int64_t extent : shape) {
    if (extent < 0) fail(ErrorKind::InvalidArgument, "{}: negative extent in shape [{}]", where, fmt::join(shape, ", "));
    if (extent != 0 && count > std::numeric_limits<std::int64_t>::max() / extent) {
      fail(ErrorKind::InvalidArgument, "{}: shape [{}] is too large", where, fmt::join(shape, ", "));
    }
    count *= extent;
  }
  return count;
}

// numpy's own header spelling, padded with spaces and a final newline so the data starts 64-byte aligned.
std::string header_for(const char* descr, const std::vector<std::int64_t>& shape) {
  std::string dims;
  for (std::int64_t extent : shape) dims += fmt::format("{}, ", extent);
  if (shape.size() > 1) dims.erase(dims.size() - 2);  // (3,) keeps its comma, (3, 4) does not end in one
  else if (shape.size() == 1) dims.pop_back();
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, dims);
  const std::size_t unpadded = kMagicBytes + 2 + 2 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict.push_back('\n');
  return dict;
}

void write_array(const std::filesystem::path& path, const char* descr, const void* data, std::size_t element_bytes,
                 const std::vector<std::int64_t>& shape) {
  const std::int64_t count = checked_numel(path.string(), shape);
  if (count > 0 && data == nullptr) fail(ErrorKind::InvalidArgument, "{}: no data to write", path.string());
  const std::string header = header_for(descr, shape);
  if (header.size() > std::numeric_limits<std::uint16_t>::max()) {
    fail(ErrorKind::InvalidArgument, "{}: shape of rank {} does not fit a version 1.0 header", path.string(),
         shape.size());
  }
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(kMagic, kMagicBytes);
    const char version[2] = {1, 0};
    out.write(version, 2);
    const auto length = static_cast<std::uint16_t>(header.size());
    const char length_le[2] = {static_cast<char>(length & 0xFF), static_cast<char>(length >> 8)};
    out.write(length_le, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    if (count > 0) out.write(static_cast<const char*>(data), static_cast<std::streamsize>(count * element_bytes));
  });
}

// A reader for the one Python literal .npy headers contain: a dict of str → str | bool | tuple of ints.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  NpyArray parse() {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<std::vector<std::int64_t>> shape;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      skip_space();
      if (key == "descr") {
        descr = string_literal();
      } else if (key == "fortran_order") {
        fortran_order = boolean();
      } else if (key == "shape") {
        shape = tuple();
      } else {
        error(fmt::format("unexpected key '{}'", key));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') error("expected ',' or '}'");
    }
    if (!descr || !fortran_order || !shape) error("needs 'descr', 'fortran_order' and 'shape'");
    NpyArray array;
    if (*descr == "<f4") {
      array.type = NpyType::Float32;
    } else if (*descr == "<i8") {
      array.type = NpyType::Int64;
    } else {
      fail(ErrorKind::Format, "{}: unsupported .npy dtype '{}' (only '<f4' and '<i8')", path_, *descr);
    }
    if (*fortran_order) fail(ErrorKind::Format, "{}: Fortran-order .npy arrays are not supported", path_);
    array.shape = *shape;
    return array;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(ErrorKind::Format, "{}: malformed .npy header at character {}: {} (header: {})", path_, pos_, what, text_);
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) error(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') error("expected a quoted string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) error("unterminated string");
    std::string value = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return value;
  }
  bool boolean() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    error("expected True or False");
  }
  std::vector<std::int64_t> tuple() {
    expect('(');
    std::vector<std::int64_t> values;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) error("expected a non-negative integer in 'shape'");
      std::int64_t value = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const int digit = text_[pos_++] - '0';
        if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) error("extent too large");
        value = value * 10 + digit;
      }
      if (peek() == 'L') ++pos_;  // Python 2 longs
      values.push_back(value);
      skip_space();
      if (peek() == ',') ++pos_;
      else if (peek() != ')') error("expected ',' or ')' in 'shape'");
    }
    ++pos_;
    return values;
  }

  const std::string& path_;
  const std::string& text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::int64_t NpyArray::numel() const {
  std::int64_t count = 1;
  for (std::int64_t extent : shape) count *= extent;
  return count;
}

void write_npy(const std::filesystem::path& path, const float* data, const std::vector<std::int64_t>& shape) {
  write_array(path, "<f4", data, sizeof(float), shape);
}

void write_npy(const std::filesystem::path& path, const std::int64_t* data, const std::vector<std::int64_t>& shape) {
  write_array(path, "<i8", data, sizeof(std::int64_t), shape);
}

void write_npy(const std::filesystem::path& path, const torch::Tensor& tensor) {
  if (!tensor.defined()) fail(ErrorKind::InvalidArgument, "{}: cannot write an undefined tensor", path.string());
  const torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
  const std::vector<std::int64_t> shape = cpu.sizes().vec();
  if (cpu.scalar_type() == torch::kFloat32) return write_npy(path, cpu.data_ptr<float>(), shape);
  if (cpu.scalar_type() == torch::kInt64) return write_npy(path, cpu.data_ptr<std::int64_t>(), shape);
  fail(ErrorKind::InvalidArgument, "{}: .npy output takes float32 or int64 tensors, not {}", path.string(),
       c10::toString(cpu.scalar_type()));
}

NpyArray read_npy(const std::filesystem::path& path) {
  const std::string where = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "{}: cannot open", where);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(ErrorKind::Io, "{}: read failed", where);

  if (bytes.size() < kMagicBytes + 4 || bytes.compare(0, kMagicBytes, kMagic, kMagicBytes) != 0) {
    fail(ErrorKind::Format, "{}: not a .npy file (missing \\x93NUMPY magic)", where);
  }
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_length = 0;
  std::size_t header_start = 0;
  const auto byte = [&](std::size_t i) { return static_cast<std::size_t>(static_cast<unsigned char>(bytes[i])); };
  if (major == 1) {
    header_length = byte(8) | byte(9) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(ErrorKind::Format, "{}: truncated .npy header", where);
    header_length = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    header_start = 12;
  } else {
    fail(ErrorKind::Format, "{}: unsupported .npy format version {}", where, major);
  }
  if (header_start + header_length > bytes.size()) {
    fail(ErrorKind::Format, "{}: .npy header length {} runs past the end of the {}-byte file", where, header_length,
         bytes.size());
  }
  const std::string header = bytes.substr(header_start, header_length);
  NpyArray array = HeaderParser(where, header).parse();

  const std::int64_t count = checked_numel(where, array.shape);
  const std::size_t element_bytes = array.type == NpyType::Float32 ? sizeof(float) : sizeof(std::int64_t);
  const std::size_t data_bytes = bytes.size() - header_start - header_length;
  if (data_bytes % element_bytes != 0 || static_cast<std::uint64_t>(count) != data_bytes / element_bytes) {
    fail(ErrorKind::Format, "{}: shape [{}] needs {} data bytes but the file holds {}", where,
         fmt::join(array.shape, ", "), static_cast<std::uint64_t>(count) * element_bytes, data_bytes);
  }
  const char* data = bytes.data() + header_start + header_length;
  if (array.type == NpyType::Float32) {
    array.f32.resize(static_cast<std::size_t>(count));
    if (count > 0) std::memcpy(array.f32.data(), data, data_bytes);
  } else {
    array.i64.resize(static_cast<std::size_t>(count));
    if (count > 0) std::memcpy(array.i64.data(), data, data_bytes);
  }
  return array;
}

torch::Tensor read_npy_tensor(const std::filesystem::path& path) {
  NpyArray array = read_npy(path);
  if (array.type == NpyType::Float32) {
    return torch::from_blob(array.f32.data(), array.shape, torch::kFloat32).clone();
  }
  return torch::from_blob(array.i64.data(), array.shape, torch::kInt64).clone();
}

}  // namespace clipmatch::io
