#include <clipmatch/error.hpp>
#include <clipmatch/safetensors.hpp>

#include "io/torch_tensor.hpp"
#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

using namespace clipmatch;
using clipmatch::test::read_all;
using clipmatch::test::TempDir;
using clipmatch::test::write_all;
namespace fs = std::filesystem;

namespace {

// A raw safetensors file with a hand-written header, for corruption cases the writer would never produce.
std::string raw_file(const std::string& header, std::size_t data_bytes) {
  std::string out(8, '\0');
  const std::uint64_t length = header.size();
  std::memcpy(out.data(), &length, 8);
  return out + header + std::string(data_bytes, '\x01');
}

std::string open_error(const fs::path& path) {
  try {
    SafetensorsFile::open(path.string());
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string open_error_of(const TempDir& dir, const std::string& header, std::size_t data_bytes) {
  const fs::path path = dir / "bad.safetensors";
  write_all(path, raw_file(header, data_bytes));
  return open_error(path);
}

}  // namespace

TEST_CASE("safetensors: every dtype round-trips with metadata", "[safetensors]") {
  TempDir dir;
  const std::vector<DType> all = {DType::F64,  DType::F32, DType::F16, DType::BF16, DType::I64,
                                  DType::I32,  DType::I16, DType::I8,  DType::U8,   DType::BOOL,
                                  DType::U16,  DType::U32, DType::U64, DType::F8_E4M3, DType::F8_E5M2};
  std::vector<std::vector<unsigned char>> buffers;
  std::vector<TensorView> views;
  for (std::size_t i = 0; i < all.size(); ++i) {
    TensorView view;
    view.name = std::string("t_") + dtype_name(all[i]);
    view.dtype = all[i];
    view.shape = {2, static_cast<std::int64_t>(i % 3 + 1)};
    view.nbytes = static_cast<std::size_t>(view.numel()) * dtype_size(all[i]);
    std::vector<unsigned char> bytes(view.nbytes);
    for (std::size_t b = 0; b < bytes.size(); ++b) bytes[b] = static_cast<unsigned char>((b * 37 + i) & 0x3F);
    buffers.push_back(std::move(bytes));
    views.push_back(view);
  }
  for (std::size_t i = 0; i < views.size(); ++i) views[i].data = buffers[i].data();
  TensorView scalar{"scalar", DType::F32, {}, nullptr, 4};
  const float scalar_value = 2.5f;
  scalar.data = &scalar_value;
  TensorView empty{"empty", DType::F32, {0, 4}, nullptr, 0};
  views.push_back(scalar);
  views.push_back(empty);

  const fs::path path = dir / "all.safetensors";
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "ünïcode ✓"}};
  write_safetensors(path.string(), views, metadata);

  const auto file = SafetensorsFile::open(path.string());
  CHECK(file.metadata() == metadata);
  REQUIRE(file.names().size() == views.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const TensorView& read = file.tensor(views[i].name);
    CHECK(read.dtype == all[i]);
    CHECK(read.shape == views[i].shape);
    REQUIRE(read.nbytes == buffers[i].size());
    CHECK(std::memcmp(read.data, buffers[i].data(), read.nbytes) == 0);
  }
  CHECK(file.tensor("scalar").shape.empty());
  CHECK(*static_cast<const float*>(file.tensor("scalar").data) == 2.5f);
  CHECK(file.tensor("empty").nbytes == 0);
  CHECK_FALSE(file.contains("missing"));
  CHECK_THROWS_WITH(file.tensor("missing"), Catch::Contains("missing") && Catch::Contains("all.safetensors"));
}

TEST_CASE("safetensors: written layout follows the spec", "[safetensors]") {
  TempDir dir;
  const std::vector<float> a = {1, 2, 3};
  const std::vector<std::int64_t> b = {7, 8};
  const fs::path path = dir / "layout.safetensors";
  write_safetensors(path.string(),
                    {TensorView{"zeta", DType::F32, {3}, a.data(), 12}, TensorView{"alpha", DType::I64, {2}, b.data(), 16}},
                    {{"k", "v"}});
  const std::string bytes = read_all(path);
  std::uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), 8);
  CHECK(header_bytes % 8 == 0);
  REQUIRE(bytes.size() == 8 + header_bytes + 12 + 16);
  const std::string header_text = bytes.substr(8, header_bytes);
  CHECK(header_text.front() == '{');
  CHECK(header_text.find_last_not_of(' ') == header_text.find_last_of('}'));
  const auto header = nlohmann::json::parse(header_text);
  // Sorted by name: alpha's bytes come first.
  CHECK(header["alpha"]["data_offsets"] == nlohmann::json::array({0, 16}));
  CHECK(header["zeta"]["data_offsets"] == nlohmann::json::array({16, 28}));
  CHECK(header["alpha"]["dtype"] == "I64");
  CHECK(header["zeta"]["shape"] == nlohmann::json::array({3}));
  CHECK(header["__metadata__"]["k"] == "v");
  std::int64_t first = 0;
  std::memcpy(&first, bytes.data() + 8 + header_bytes, 8);
  CHECK(first == 7);
  const auto file = SafetensorsFile::open(path.string());
  CHECK(file.names() == std::vector<std::string>{"alpha", "zeta"});

  // Without metadata there is no __metadata__ key; no leftover temp files in the folder.
  write_safetensors(path.string(), {TensorView{"x", DType::F32, {3}, a.data(), 12}});
  const std::string again = read_all(path);
  CHECK(again.find("__metadata__") == std::string::npos);
  CHECK(clipmatch::test::entries_in(dir.path()) == 1);
}

TEST_CASE("safetensors: writer rejects inconsistent input", "[safetensors]") {
  TempDir dir;
  const std::vector<float> a = {1, 2, 3};
  const std::string path = (dir / "w.safetensors").string();
  CHECK_THROWS_WITH(write_safetensors(path, {TensorView{"x", DType::F32, {4}, a.data(), 12}}),
                    Catch::Contains("'x'") && Catch::Contains("needs 16"));
  CHECK_THROWS_WITH(write_safetensors(path, {TensorView{"x", DType::F32, {3}, a.data(), 12},
                                             TensorView{"x", DType::F32, {3}, a.data(), 12}}),
                    Catch::Contains("'x' is given twice"));
  CHECK_THROWS_WITH(write_safetensors(path, {TensorView{"__metadata__", DType::F32, {3}, a.data(), 12}}),
                    Catch::Contains("invalid tensor name"));
  CHECK_FALSE(fs::exists(path));
  CHECK_THROWS_WITH(write_safetensors((dir / "no_such_dir" / "x.safetensors").string(),
                                      {TensorView{"x", DType::F32, {3}, a.data(), 12}}),
                    Catch::Contains("no_such_dir"));
}

TEST_CASE("safetensors: corrupt files give clear errors", "[safetensors]") {
  TempDir dir;
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

  SECTION("valid baseline opens") {
    CHECK(open_error_of(dir, "{" + ok_entry + "}", 8) == "(no error)");
  }
  SECTION("missing file") { CHECK_THAT(open_error(dir / "nope.safetensors"), Catch::Contains("nope.safetensors") && Catch::Contains("cannot open")); }
  SECTION("shorter than the length prefix") {
    write_all(dir / "short.safetensors", "abc");
    CHECK_THAT(open_error(dir / "short.safetensors"), Catch::Contains("short.safetensors") && Catch::Contains("too short"));
  }
  SECTION("truncated data") {
    CHECK_THAT(open_error_of(dir, "{" + ok_entry + "}", 5),
               Catch::Contains("bad.safetensors") && Catch::Contains("'a'") && Catch::Contains("truncated"));
  }
  SECTION("trailing bytes") {
    CHECK_THAT(open_error_of(dir, "{" + ok_entry + "}", 12), Catch::Contains("trailing"));
  }
  SECTION("header length beyond the file") {
    std::string bytes = raw_file("{" + ok_entry + "}", 8);
    const std::uint64_t huge = 5000;
    std::memcpy(bytes.data(), &huge, 8);
    write_all(dir / "bad.safetensors", bytes);
    CHECK_THAT(open_error(dir / "bad.safetensors"), Catch::Contains("header length 5000") && Catch::Contains("past the end"));
  }
  SECTION("header length over the cap") {
    std::string bytes = raw_file("{}", 0);
    const std::uint64_t huge = 1ull << 40;
    std::memcpy(bytes.data(), &huge, 8);
    write_all(dir / "bad.safetensors", bytes);
    CHECK_THAT(open_error(dir / "bad.safetensors"), Catch::Contains("exceeds"));
  }
  SECTION("overlapping offsets") {
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
               Catch::Contains("'b'") && Catch::Contains("overlaps tensor 'a'"));
  }
  SECTION("gap between tensors") {
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 12),
               Catch::Contains("'b'") && Catch::Contains("gap after tensor 'a'"));
  }
  SECTION("gap at the start") {
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
               Catch::Contains("'a'") && Catch::Contains("gap after the header"));
  }
  SECTION("byte count disagrees with shape") {
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
               Catch::Contains("'a'") && Catch::Contains("span 8 bytes") && Catch::Contains("needs 12"));
  }
  SECTION("offsets reversed") {
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8),
               Catch::Contains("'a'") && Catch::Contains("end before they begin"));
  }
  SECTION("offsets outside the file") {
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 8),
               Catch::Contains("'b'") && Catch::Contains("run past"));
  }
  SECTION("bad JSON") {
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":"F32",)", 0), Catch::Contains("bad.safetensors") && Catch::Contains("not valid JSON"));
  }
  SECTION("header not an object") {
    CHECK_THAT(open_error_of(dir, "[1,2]", 0), Catch::Contains("start with '{'"));
  }
  SECTION("unknown dtype") {
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", 8),
               Catch::Contains("'a'") && Catch::Contains("unknown safetensors dtype 'F33'"));
  }
  SECTION("duplicate names") {
    CHECK_THAT(open_error_of(dir, "{" + ok_entry + "," + ok_entry + "}", 8), Catch::Contains("names 'a' twice"));
  }
  SECTION("non-string metadata") {
    CHECK_THAT(open_error_of(dir, R"({"__metadata__":{"epoch":3},)" + ok_entry + "}", 8),
               Catch::Contains("__metadata__ entry 'epoch' is not a string"));
  }
  SECTION("missing field and wrong field types") {
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", 8), Catch::Contains("'a': missing 'shape'"));
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), Catch::Contains("non-negative"));
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8), Catch::Contains("'a': 'data_offsets'"));
    CHECK_THAT(open_error_of(dir, R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8), Catch::Contains("'dtype' is not a string"));
  }
}

TEST_CASE("safetensors: torch conversion keeps values", "[safetensors][torch]") {
  TempDir dir;
  const torch::Tensor source = torch::tensor({1.5f, -2.25f, 65504.0f, 0.0009765625f}).reshape({2, 2});
  const std::vector<torch::ScalarType> types = {torch::kFloat64, torch::kFloat32, torch::kFloat16, torch::kBFloat16};
  std::vector<io::OwnedTensor> owned;
  for (auto type : types) owned.push_back(io::from_torch(std::string("w_") + c10::toString(type), source.to(type)));
  owned.push_back(io::from_torch("ids", torch::arange(6, torch::kInt64).reshape({3, 2}).t()));  // non-contiguous
  owned.push_back(io::from_torch("mask", torch::tensor({true, false, true})));
  std::vector<TensorView> views;
  for (const auto& o : owned) views.push_back(o.view);
  const fs::path path = dir / "t.safetensors";
  write_safetensors(path.string(), views);
  const auto file = SafetensorsFile::open(path.string());
  for (auto type : types) {
    const TensorView& view = file.tensor(std::string("w_") + c10::toString(type));
    CHECK(view.dtype == io::dtype_from_torch(type));
    const torch::Tensor as_float = io::to_torch(view);
    CHECK(as_float.scalar_type() == torch::kFloat32);
    CHECK(torch::equal(as_float, source.to(type).to(torch::kFloat32)));
    const torch::Tensor kept = io::to_torch(view, io::kKeepDType);
    CHECK(kept.scalar_type() == type);
  }
  const torch::Tensor ids = io::to_torch(file.tensor("ids"), io::kKeepDType);
  CHECK(ids.scalar_type() == torch::kInt64);
  CHECK(torch::equal(ids, torch::arange(6, torch::kInt64).reshape({3, 2}).t()));
  CHECK(torch::equal(io::to_torch(file.tensor("mask"), io::kKeepDType), torch::tensor({true, false, true})));
  CHECK_THROWS_WITH(io::from_torch("c", torch::zeros({2}, torch::kComplexFloat)), Catch::Contains("'c'"));
}

TEST_CASE("safetensors: unsigned and 8-bit float dtypes convert", "[safetensors][torch]") {
  const std::vector<std::uint16_t> u16 = {0, 65535};
  CHECK(torch::equal(io::to_torch({"u", DType::U16, {2}, u16.data(), 4}, io::kKeepDType),
                     torch::tensor({0, 65535}, torch::kInt32)));
  const std::vector<std::uint32_t> u32 = {4294967295u};
  CHECK(io::to_torch({"u", DType::U32, {1}, u32.data(), 4}, io::kKeepDType).item<std::int64_t>() == 4294967295LL);
  const std::vector<std::uint64_t> u64 = {~0ull};
  CHECK_THROWS_WITH(io::to_torch({"big", DType::U64, {1}, u64.data(), 8}), Catch::Contains("'big'"));
  // e4m3fn: 0x38 = 1.0, 0x7E = 448 (max), 0x01 = 2^-9, 0xB8 = -1.0, 0x7F = NaN.
  const std::vector<std::uint8_t> e4m3 = {0x38, 0x7E, 0x01, 0xB8, 0x7F};
  const torch::Tensor f = io::to_torch({"f8", DType::F8_E4M3, {5}, e4m3.data(), 5});
  CHECK(f[0].item<float>() == 1.0f);
  CHECK(f[1].item<float>() == 448.0f);
  CHECK(f[2].item<float>() == std::ldexp(1.0f, -9));
  CHECK(f[3].item<float>() == -1.0f);
  CHECK(std::isnan(f[4].item<float>()));
  // e5m2: 0x3C = 1.0, 0x7B = 57344 (max), 0x7C = inf.
  const std::vector<std::uint8_t> e5m2 = {0x3C, 0x7B, 0x7C};
  const torch::Tensor g = io::to_torch({"f8", DType::F8_E5M2, {3}, e5m2.data(), 3});
  CHECK(g[0].item<float>() == 1.0f);
  CHECK(g[1].item<float>() == 57344.0f);
  CHECK(std::isinf(g[2].item<float>()));
}
