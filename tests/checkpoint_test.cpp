#include <clipmatch/error.hpp>
#include <clipmatch/safetensors.hpp>

#include "io/checkpoint.hpp"
#include "io/torch_tensor.hpp"
#include "test_support.hpp"

#include <fstream>

using namespace clipmatch;
using clipmatch::test::TempDir;
namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

void write_tensors(const fs::path& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  std::vector<io::OwnedTensor> owned;
  std::vector<TensorView> views;
  for (const auto& [name, tensor] : tensors) owned.push_back(io::from_torch(name, tensor));
  for (const auto& o : owned) views.push_back(o.view);
  write_safetensors(path.string(), views, {{"format", "pt"}});
}

std::string open_error(const fs::path& path) {
  try {
    io::CheckpointReader::open(path.string());
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("checkpoint: single file by folder or by path", "[checkpoint]") {
  TempDir dir;
  const torch::Tensor w = torch::randn({3, 4});
  write_tensors(dir / "model.safetensors", {{"layer.weight", w.to(torch::kFloat16)}, {"layer.bias", torch::ones({3})}});
  for (const fs::path& path : {dir.path(), dir / "model.safetensors"}) {
    const auto reader = io::CheckpointReader::open(path.string());
    CHECK(reader.path() == (dir / "model.safetensors").string());
    CHECK(reader.names() == std::vector<std::string>{"layer.bias", "layer.weight"});
    CHECK(reader.contains("layer.bias"));
    CHECK(reader.tensor("layer.weight").dtype == DType::F16);
    const torch::Tensor loaded = reader.load("layer.weight");
    CHECK(loaded.scalar_type() == torch::kFloat32);
    CHECK(torch::equal(loaded, w.to(torch::kFloat16).to(torch::kFloat32)));
    CHECK(reader.load("layer.bias", {3}).sum().item<float>() == 3.0f);
    CHECK(reader.metadata().at("format") == "pt");
    CHECK_THROWS_WITH(reader.load("layer.bias", {4}),
                      Catch::Contains("'layer.bias'") && Catch::Contains("[3]") && Catch::Contains("[4]"));
    CHECK_THROWS_WITH(reader.load("missing"), Catch::Contains("'missing'") && Catch::Contains("model.safetensors"));
  }
  CHECK_THAT(open_error(dir / "nope"), Catch::Contains("not found"));
  TempDir empty;
  CHECK_THAT(open_error(empty.path()), Catch::Contains("neither"));
}

TEST_CASE("checkpoint: sharded index", "[checkpoint]") {
  TempDir dir;
  const torch::Tensor a = torch::randn({2, 2});
  const torch::Tensor b = torch::arange(5, torch::kInt64);
  const torch::Tensor c = torch::randn({7}).to(torch::kBFloat16);
  write_tensors(dir / "model-00001-of-00002.safetensors", {{"a", a}, {"b", b}});
  write_tensors(dir / "model-00002-of-00002.safetensors", {{"c", c}});
  write_text(dir / "model.safetensors.index.json",
             R"({"metadata": {"total_size": 70}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                 "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}})");
  // The index wins over a stray single file in the same folder.
  write_tensors(dir / "model.safetensors", {{"stray", torch::zeros({1})}});

  const auto reader = io::CheckpointReader::open(dir.path().string());
  CHECK(reader.path() == (dir / "model.safetensors.index.json").string());
  CHECK(reader.names() == std::vector<std::string>{"a", "b", "c"});
  CHECK(torch::equal(reader.load("a"), a));
  CHECK(torch::equal(reader.load("b"), b.to(torch::kFloat32)));
  CHECK(torch::equal(reader.load("c"), c.to(torch::kFloat32)));
  CHECK_FALSE(reader.contains("stray"));

  SECTION("a missing shard is an error naming it") {
    fs::remove(dir / "model-00002-of-00002.safetensors");
    CHECK_THAT(open_error(dir.path()),
               Catch::Contains("model-00002-of-00002.safetensors") && Catch::Contains("missing") &&
                   Catch::Contains("'c'"));
  }
  SECTION("a shard that lacks its mapped tensor") {
    write_text(dir / "model.safetensors.index.json",
               R"({"weight_map": {"a": "model-00002-of-00002.safetensors"}})");
    CHECK_THAT(open_error(dir.path()), Catch::Contains("'a'") && Catch::Contains("does not hold it"));
  }
  SECTION("an index without weight_map") {
    write_text(dir / "model.safetensors.index.json", R"({"metadata": {}})");
    CHECK_THAT(open_error(dir.path()), Catch::Contains("weight_map"));
  }
  SECTION("an index that is not JSON") {
    write_text(dir / "model.safetensors.index.json", "{oops");
    CHECK_THAT(open_error(dir.path()), Catch::Contains("index.json") && Catch::Contains("not valid JSON"));
  }
}

TEST_CASE("checkpoint: every shared safetensors file loads", "[checkpoint][shared]") {
  const auto root = test::shared_path("");
  CLIPMATCH_REQUIRE_SHARED(root, "shared folder");
  std::vector<fs::path> files;
  // Partial copies of shared/ (the GPU machine carries no weights/) check the groups they have.
  for (const char* group : {"fixtures/hf", "weights", "fixtures/torchvision"}) {
    if (!fs::exists(*root / group)) continue;
    const auto before = files.size();
    for (const auto& entry : fs::recursive_directory_iterator(*root / group)) {
      if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
    }
    INFO(group);
    CHECK(files.size() - before >= 2);
  }
  CHECK_FALSE(files.empty());
  for (const fs::path& path : files) {
    INFO(path.string());
    const auto file = SafetensorsFile::open(path.string());
    CHECK_FALSE(file.names().empty());
    for (const std::string& name : file.names()) {
      const TensorView& view = file.tensor(name);
      CHECK(view.nbytes == static_cast<std::size_t>(view.numel()) * dtype_size(view.dtype));
      const torch::Tensor values = io::to_torch(view, io::kKeepDType);
      CHECK(values.sizes().vec() == view.shape);
      if (values.is_floating_point()) CHECK(torch::isfinite(values).all().item<bool>());
    }
  }
}

TEST_CASE("checkpoint: Hugging Face and torchvision checkpoints by name", "[checkpoint][shared]") {
  const auto bert = test::shared_path("fixtures/hf/bert_tiny");
  CLIPMATCH_REQUIRE_SHARED(bert, "fixtures/hf/bert_tiny");
  const auto reader = io::CheckpointReader::open(bert->string());
  CHECK(reader.names().size() > 20);
  const auto io_file = SafetensorsFile::open((*bert / "io.safetensors").string());
  CHECK(io_file.contains("out.last_hidden_state"));

  const auto resnet = test::shared_path("fixtures/torchvision/resnet_bottleneck_1111_w16", "CLIPMATCH_TORCHVISION_FIXTURES");
  CLIPMATCH_REQUIRE_SHARED(resnet, "fixtures/torchvision/resnet_bottleneck_1111_w16");
  const auto tv = io::CheckpointReader::open(resnet->string());
  CHECK(tv.tensor("conv1.weight").dtype == DType::F16);
  const torch::Tensor conv1 = tv.load("conv1.weight", {64, 3, 7, 7});
  CHECK(conv1.scalar_type() == torch::kFloat32);
  CHECK(torch::isfinite(conv1).all().item<bool>());
  CHECK(conv1.abs().sum().item<float>() > 0.0f);
}

TEST_CASE("checkpoint: GloVe F16 embeddings decode to the published vectors", "[checkpoint][shared]") {
  const auto path = test::shared_path("weights/glove_6b_100d_top100k/embeddings.safetensors");
  CLIPMATCH_REQUIRE_SHARED(path, "weights/glove_6b_100d_top100k");
  const auto file = SafetensorsFile::open(path->string());
  const TensorView& view = file.tensor("embeddings");
  CHECK(view.dtype == DType::F16);
  CHECK(view.shape == std::vector<std::int64_t>{100000, 100});
  CHECK(file.metadata().at("license") == "PDDL-1.0");
  const torch::Tensor e = io::to_torch(view);
  CHECK(e.scalar_type() == torch::kFloat32);
  CHECK(torch::isfinite(e).all().item<bool>());
  // Row 0 is "the": GloVe 6B 100d starts -0.038194 -0.24487 0.72812 (as F16: below). Values from numpy.
  CHECK(e[0][0].item<float>() == -0.0382080078125f);
  CHECK(e[0][1].item<float>() == -0.244873046875f);
  CHECK(e[0][2].item<float>() == 0.72802734375f);
  CHECK(e[99999][98].item<float>() == -0.7353515625f);
  CHECK(e[99999][99].item<float>() == -0.80078125f);
  CHECK(e.abs().to(torch::kFloat64).sum().item<double>() == Approx(3984679.25).epsilon(1e-6));
}
