// Resize (Pillow-exact, image_resample.cpp) → centre crop → normalise, the order and rounding of
// PIL.Image.resize → torchvision center_crop / ToTensor / Normalize and of Hugging Face image processors.
#include <clipmatch/image.hpp>
#include <clipmatch/names.hpp>

#include "core/fail.hpp"
#include "io/image_impl.hpp"

#include <algorithm>
#include <cmath>

namespace clipmatch {
namespace {

constexpr int kMaxSide = 16384;

/// A named field of the preprocessing JSON (names from clipmatch/names.hpp).
template <typename Enum>
Enum enum_field(const std::string& text, const char* field, const std::string& where) {
  try {
    return from_name<Enum>(text, fmt::format("image preprocessing field \"{}\"", field));
  } catch (const Error& e) {
    fail(ErrorKind::Format, "{}: {}", where, e.what());
  }
}

void check_image(const Image& image, const char* what) {
  if (image.width <= 0 || image.height <= 0)
    fail(ErrorKind::InvalidArgument, "{}: image is empty ({}x{})", what, image.width, image.height);
  if (image.rgb.size() != static_cast<std::size_t>(image.width) * image.height * 3)
    fail(ErrorKind::InvalidArgument, "{}: image of {}x{} holds {} bytes, expected {}", what, image.width, image.height,
         image.rgb.size(), static_cast<std::size_t>(image.width) * image.height * 3);
}

}  // namespace

ImagePreprocess ImagePreprocess::vit() { return ImagePreprocess{}; }

ImagePreprocess ImagePreprocess::clip() {
  ImagePreprocess pp;
  pp.filter = ResizeFilter::Bicubic;
  pp.mode = ResizeMode::ShorterSideThenCenterCrop;
  pp.resize_to = 224;
  pp.mean = {0.48145466f, 0.4578275f, 0.40821073f};
  pp.std = {0.26862954f, 0.26130258f, 0.27577711f};
  return pp;
}

ImagePreprocess ImagePreprocess::imagenet() {
  ImagePreprocess pp;
  pp.mode = ResizeMode::ShorterSideThenCenterCrop;
  pp.resize_to = 256;
  pp.mean = {0.485f, 0.456f, 0.406f};
  pp.std = {0.229f, 0.224f, 0.225f};
  return pp;
}

ImagePreprocess ImagePreprocess::mobilenet_v2_tf() { return ImagePreprocess{}; }

void ImagePreprocess::validate() const {
  if (size <= 0 || size > kMaxSide) fail(ErrorKind::InvalidArgument, "ImagePreprocess.size = {} is not in [1, {}]", size, kMaxSide);
  if (mode == ResizeMode::ShorterSideThenCenterCrop && (resize_to < size || resize_to > kMaxSide))
    fail(ErrorKind::InvalidArgument, "ImagePreprocess.resize_to = {} must be in [size = {}, {}] for centre cropping",
         resize_to, size, kMaxSide);
  for (int c = 0; c < 3; ++c) {
    if (!std::isfinite(mean[c])) fail(ErrorKind::InvalidArgument, "ImagePreprocess.mean[{}] is not finite", c);
    if (!std::isfinite(std[c]) || std[c] == 0.0f)
      fail(ErrorKind::InvalidArgument, "ImagePreprocess.std[{}] = {} must be finite and non-zero", c, std[c]);
  }
  if (!std::isfinite(scale) || scale == 0.0f)
    fail(ErrorKind::InvalidArgument, "ImagePreprocess.scale = {} must be finite and non-zero", scale);
}

bool ImagePreprocess::operator==(const ImagePreprocess& o) const {
  return size == o.size && filter == o.filter && mode == o.mode &&
         (mode == ResizeMode::Stretch || resize_to == o.resize_to) && mean == o.mean && std == o.std && scale == o.scale;
}

std::string ImagePreprocess::to_json() const { return io::preprocess_to_json(*this).dump(); }

ImagePreprocess ImagePreprocess::from_json(const std::string& json) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::Format, "image preprocessing JSON: {}", e.what());
  }
  return io::preprocess_from_json(parsed, "image preprocessing JSON");
}

std::vector<float> preprocess(const Image& image, const ImagePreprocess& pp) {
  pp.validate();
  std::vector<float> out(static_cast<std::size_t>(3) * pp.size * pp.size);
  io::preprocess_into(image, pp, out.data());
  return out;
}

namespace io {

nlohmann::json preprocess_to_json(const ImagePreprocess& pp) {
  return nlohmann::json{{"size", pp.size},
                        {"filter", to_name(pp.filter)},
                        {"mode", to_name(pp.mode)},
                        {"resize_to", pp.resize_to},
                        {"mean", pp.mean},
                        {"std", pp.std},
                        {"scale", pp.scale}};
}

std::int64_t json_integer(const nlohmann::json& value, const std::string& where, const char* field, std::int64_t min,
                          std::int64_t max) {
  bool in_range = false;
  if (value.is_number_unsigned()) {  // nlohmann parses every non-negative integer as unsigned
    const auto v = value.get<std::uint64_t>();
    in_range = v <= static_cast<std::uint64_t>(max) && (min <= 0 || v >= static_cast<std::uint64_t>(min));
  } else if (value.is_number_integer()) {
    const auto v = value.get<std::int64_t>();
    in_range = v >= min && v <= max;
  }
  if (!in_range) {
    fail(ErrorKind::Format, "{}: field \"{}\" = {} must be a whole number in [{}, {}]", where, field, value.dump(), min,
         max);
  }
  return value.get<std::int64_t>();
}

ImagePreprocess preprocess_from_json(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) fail(ErrorKind::Format, "{}: image preprocessing must be a JSON object", where);
  auto field = [&](const char* key) -> const nlohmann::json& {
    auto it = json.find(key);
    if (it == json.end()) fail(ErrorKind::Format, "{}: image preprocessing lacks field \"{}\"", where, key);
    return *it;
  };
  ImagePreprocess pp;
  try {
    pp.size = static_cast<int>(json_integer(field("size"), where, "size", 1, kMaxSide));
    pp.filter = enum_field<ResizeFilter>(field("filter").get<std::string>(), "filter", where);
    pp.mode = enum_field<ResizeMode>(field("mode").get<std::string>(), "mode", where);
    pp.resize_to = json.contains("resize_to")
                       ? static_cast<int>(json_integer(json.at("resize_to"), where, "resize_to", 1, kMaxSide))
                       : pp.size;
    pp.mean = field("mean").get<std::array<float, 3>>();
    pp.std = field("std").get<std::array<float, 3>>();
    pp.scale = field("scale").get<float>();
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::Format, "{}: image preprocessing: {}", where, e.what());
  }
  try {
    pp.validate();
  } catch (const Error& e) {
    fail(ErrorKind::Format, "{}: {}", where, e.what());
  }
  return pp;
}

void preprocess_into(const Image& image, const ImagePreprocess& pp, float* out) {
  check_image(image, "preprocess");
  const int size = pp.size;
  int resized_w = size, resized_h = size;
  if (pp.mode == ResizeMode::ShorterSideThenCenterCrop) {
    // torchvision / HF: the shorter side becomes resize_to, the longer int(resize_to · long / short).
    if (image.width <= image.height) {
      resized_w = pp.resize_to;
      resized_h = static_cast<int>(static_cast<std::int64_t>(pp.resize_to) * image.height / image.width);
    } else {
      resized_h = pp.resize_to;
      resized_w = static_cast<int>(static_cast<std::int64_t>(pp.resize_to) * image.width / image.height);
    }
  }
  const Image resized = resize_image(image, resized_w, resized_h, pp.filter);
  // torchvision's center_crop: offset int(round((len − crop) / 2)), round half to even like Python.
  const int top = static_cast<int>(std::nearbyint((resized_h - size) / 2.0));
  const int left = static_cast<int>(std::nearbyint((resized_w - size) / 2.0));
  const std::size_t plane = static_cast<std::size_t>(size) * size;
  for (int c = 0; c < 3; ++c) {
    const float mean = pp.mean[c], std = pp.std[c];
    float* dst = out + c * plane;
    for (int y = 0; y < size; ++y) {
      const std::uint8_t* row = resized.rgb.data() + (static_cast<std::size_t>(top + y) * resized_w + left) * 3 + c;
      for (int x = 0; x < size; ++x) dst[static_cast<std::size_t>(y) * size + x] = (static_cast<float>(row[x * 3]) * pp.scale - mean) / std;
    }
  }
}

}  // namespace io
}  // namespace clipmatch
