// Image pipeline: decoding of every supported kind, error reporting, resize and normalisation math, batch
// decoding, encoding round trips, and parity with the torchvision-preprocessed MobileNetV2 reference inputs.
#include <clipmatch/image.hpp>
#include <clipmatch/safetensors.hpp>

#include "core/thread_pool.hpp"
#include "io/image_impl.hpp"
#include "test_support.hpp"

#include <stb/stb_image_write.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace clipmatch;
using clipmatch::test::TempDir;

namespace {

// 16×12 progressive JPEG (SOF2) made once with PIL 9 (quality 95, 4:4:4): quadrants
// (220,40,30) top-left, (20,60,210) top-right, (30,200,60) bottom-left, (240,240,240) bottom-right.
const std::uint8_t kProgressiveJpeg[] = {
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02,
    0x01, 0x01, 0x01, 0x02, 0x02, 0x02, 0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04,
    0x04, 0x03, 0x04, 0x06, 0x05, 0x06, 0x06, 0x06, 0x05, 0x06, 0x06, 0x06, 0x07, 0x09, 0x08, 0x06,
    0x07, 0x09, 0x07, 0x06, 0x06, 0x08, 0x0b, 0x08, 0x09, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08,
    0x0b, 0x0c, 0x0b, 0x0a, 0x0c, 0x09, 0x0a, 0x0a, 0x0a, 0xff, 0xdb, 0x00, 0x43, 0x01, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x05, 0x03, 0x03, 0x05, 0x0a, 0x07, 0x06, 0x07, 0x0a, 0x0a, 0x0a, 0x0a,
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0xff, 0xc2,
    0x00, 0x11, 0x08, 0x00, 0x0c, 0x00, 0x10, 0x03, 0x01, 0x11, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11,
    0x01, 0xff, 0xc4, 0x00, 0x16, 0x00, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x04, 0x08, 0xff, 0xc4, 0x00, 0x15, 0x01, 0x01, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x08,
    0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x10, 0x03, 0x10, 0x00, 0x00, 0x01, 0x1a, 0x6c,
    0xc7, 0x5d, 0x89, 0x36, 0x31, 0x8c, 0x86, 0xf6, 0xb2, 0x95, 0x29, 0xff, 0xc4, 0x00, 0x19, 0x10,
    0x00, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x05, 0x07, 0x10, 0x15, 0x17, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x05, 0x02,
    0xa6, 0x52, 0x30, 0xf7, 0x42, 0x7f, 0xff, 0xc4, 0x00, 0x21, 0x11, 0x00, 0x00, 0x01, 0x0d, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x04, 0x07,
    0x10, 0x15, 0x17, 0x52, 0x54, 0xa1, 0xa3, 0xd1, 0xd3, 0xff, 0xda, 0x00, 0x08, 0x01, 0x03, 0x01,
    0x01, 0x3f, 0x01, 0x8d, 0x2a, 0xce, 0xbf, 0x11, 0xee, 0x61, 0xd6, 0x9f, 0x25, 0xc9, 0xb6, 0xff,
    0x00, 0xff, 0xc4, 0x00, 0x1c, 0x11, 0x00, 0x01, 0x03, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x06, 0x10, 0x13, 0x16, 0x53, 0xa2, 0xd2, 0xff,
    0xda, 0x00, 0x08, 0x01, 0x02, 0x01, 0x01, 0x3f, 0x01, 0xa8, 0x0a, 0xf4, 0x6c, 0xe7, 0xd4, 0xf9,
    0x9f, 0xff, 0xc4, 0x00, 0x1c, 0x10, 0x00, 0x00, 0x06, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x10, 0x34, 0x36, 0xa2, 0xa4, 0xd2, 0xff,
    0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x06, 0x3f, 0x02, 0x8d, 0x99, 0x0a, 0xc6, 0xea, 0x3d, 0xbf,
    0xff, 0xc4, 0x00, 0x16, 0x10, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0xd1, 0xf0, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01,
    0x3f, 0x21, 0xb3, 0x41, 0xaf, 0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00,
    0x00, 0x00, 0x10, 0x30, 0x0f, 0xff, 0xc4, 0x00, 0x14, 0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0xff, 0xda, 0x00, 0x08, 0x01,
    0x03, 0x01, 0x01, 0x3f, 0x10, 0x11, 0x41, 0xff, 0xc4, 0x00, 0x15, 0x11, 0x01, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x61, 0xff, 0xda,
    0x00, 0x08, 0x01, 0x02, 0x01, 0x01, 0x3f, 0x10, 0xa0, 0xb3, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20,
    0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3f, 0x10, 0x10, 0xef, 0xff, 0xd9,
};

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(context);
  out->insert(out->end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + size);
}

std::vector<std::uint8_t> png_bytes(int w, int h, int comp, const std::vector<std::uint8_t>& pixels) {
  std::vector<std::uint8_t> out;
  REQUIRE(stbi_write_png_to_func(append_bytes, &out, w, h, comp, pixels.data(), w * comp));
  return out;
}

Image decode(const std::vector<std::uint8_t>& bytes, const DecodeOptions& options = {}) {
  return decode_image_memory(bytes.data(), bytes.size(), "test-image", options);
}

std::array<int, 3> pixel(const Image& image, int x, int y) {
  const std::uint8_t* p = image.rgb.data() + (static_cast<std::size_t>(y) * image.width + x) * 3;
  return {p[0], p[1], p[2]};
}

void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Image gradient_image(int w, int h) {
  Image image{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        image.rgb[(static_cast<std::size_t>(y) * w + x) * 3 + c] =
            static_cast<std::uint8_t>(c == 0 ? x * 255 / (w - 1) : c == 1 ? y * 255 / (h - 1) : (x + y) % 256);
  return image;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("PNG of every channel layout decodes to RGB", "[image]") {
  SECTION("RGB") {
    const std::vector<std::uint8_t> px = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    const Image image = decode(png_bytes(2, 2, 3, px));
    REQUIRE(image.width == 2);
    REQUIRE(image.height == 2);
    CHECK(image.rgb == px);
  }
  SECTION("grayscale is replicated") {
    const Image image = decode(png_bytes(3, 1, 1, {0, 128, 255}));
    CHECK(image.rgb == std::vector<std::uint8_t>{0, 0, 0, 128, 128, 128, 255, 255, 255});
  }
  SECTION("grayscale+alpha is composited on white") {
    const Image image = decode(png_bytes(3, 1, 2, {0, 255, 0, 0, 100, 128}));
    CHECK(pixel(image, 0, 0) == std::array<int, 3>{0, 0, 0});        // opaque black
    CHECK(pixel(image, 1, 0) == std::array<int, 3>{255, 255, 255});  // transparent → white
    const int expected = static_cast<int>(std::lround((128 * 100 + 127 * 255) / 255.0));
    CHECK(pixel(image, 2, 0) == std::array<int, 3>{expected, expected, expected});
  }
  SECTION("RGBA: composite on white (default) or drop") {
    const auto bytes = png_bytes(2, 1, 4, {200, 100, 50, 255, 10, 20, 30, 0});
    const Image white = decode(bytes);
    CHECK(pixel(white, 0, 0) == std::array<int, 3>{200, 100, 50});
    CHECK(pixel(white, 1, 0) == std::array<int, 3>{255, 255, 255});
    DecodeOptions drop;
    drop.alpha = AlphaMode::Drop;
    const Image dropped = decode(bytes, drop);
    CHECK(pixel(dropped, 1, 0) == std::array<int, 3>{10, 20, 30});
  }
}

TEST_CASE("baseline JPEG decodes close to its source", "[image]") {
  Image source{16, 16, std::vector<std::uint8_t>(16 * 16 * 3)};
  for (std::size_t i = 0; i < source.rgb.size(); i += 3) {
    source.rgb[i] = 200;
    source.rgb[i + 1] = 120;
    source.rgb[i + 2] = 40;
  }
  const auto bytes = encode_jpeg(source, 95);
  REQUIRE(bytes.size() > 4);
  CHECK((bytes[0] == 0xFF && bytes[1] == 0xD8));
  const Image image = decode(bytes);
  REQUIRE(image.width == 16);
  for (std::size_t i = 0; i < image.rgb.size(); ++i) CHECK(std::abs(int(image.rgb[i]) - int(source.rgb[i])) <= 3);
}

TEST_CASE("progressive JPEG decodes", "[image]") {
  const std::vector<std::uint8_t> bytes(std::begin(kProgressiveJpeg), std::end(kProgressiveJpeg));
  bool has_sof2 = false;
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) has_sof2 |= bytes[i] == 0xFF && bytes[i + 1] == 0xC2;
  REQUIRE(has_sof2);
  const Image image = decode(bytes);
  REQUIRE(image.width == 16);
  REQUIRE(image.height == 12);
  // PIL's libjpeg decodes (222,39,31) (22,59,210) (29,200,60) (240,240,240) at these points.
  const std::array<std::pair<std::array<int, 2>, std::array<int, 3>>, 4> expected = {{
      {{2, 2}, {222, 39, 31}}, {{13, 2}, {22, 59, 210}}, {{2, 9}, {29, 200, 60}}, {{13, 9}, {240, 240, 240}}}};
  for (const auto& [xy, rgb] : expected) {
    const auto got = pixel(image, xy[0], xy[1]);
    for (int c = 0; c < 3; ++c) CHECK(std::abs(got[c] - rgb[c]) <= 4);
  }
}

TEST_CASE("file decoding and errors name the file", "[image]") {
  TempDir dir;
  const auto good = png_bytes(2, 1, 3, {1, 2, 3, 4, 5, 6});
  write_file(dir / "good.png", good);
  CHECK(decode_image_file((dir / "good.png").string()).rgb == std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6});

  const std::string missing = (dir / "missing.jpg").string();
  CHECK_THAT(error_of([&] { decode_image_file(missing); }), Catch::Contains(missing));

  std::vector<std::uint8_t> garbage(100, 0x42);
  write_file(dir / "garbage.jpg", garbage);
  const std::string garbage_error = error_of([&] { decode_image_file((dir / "garbage.jpg").string()); });
  CHECK_THAT(garbage_error, Catch::Contains("garbage.jpg"));

  write_file(dir / "empty.png", {});
  CHECK_THAT(error_of([&] { decode_image_file((dir / "empty.png").string()); }), Catch::Contains("empty.png"));

  // Truncated: the header survives, the pixel data does not.
  Image big = gradient_image(64, 64);
  for (const auto& [name, bytes] : {std::pair{std::string("cut.png"), encode_png(big)},
                                    std::pair{std::string("cut.jpg"), encode_jpeg(big, 90)}}) {
    std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 3));
    write_file(dir / name, cut);
    const std::string message = error_of([&] { decode_image_file((dir / name).string()); });
    INFO(message);
    // stb_image's JPEG decoder pads a truncated entropy stream with zeros (like libjpeg's warning mode), so
    // a cut JPEG may decode; a cut PNG must fail with the file named.
    if (name == "cut.png") CHECK_THAT(message, Catch::Contains("cut.png"));
  }
}

TEST_CASE("pixel-count limit refuses decompression bombs from the header", "[image]") {
  // A PNG whose IHDR announces 16000×16000 (256 MP; stb itself refuses > 2^30 bytes) followed by nothing: only the header is ever read.
  const auto small = png_bytes(1, 1, 3, {0, 0, 0});
  std::vector<std::uint8_t> bomb(small.begin(), small.begin() + 33);  // signature + IHDR chunk
  auto put_be32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bomb[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  };
  put_be32(16, 16000);
  put_be32(20, 16000);
  const std::string message = error_of([&] { decode_image_memory(bomb.data(), bomb.size(), "bomb.png"); });
  CHECK_THAT(message, Catch::Contains("bomb.png") && Catch::Contains("16000x16000"));

  DecodeOptions tight;
  tight.max_pixels = 100;
  const auto eleven_by_ten = encode_png(gradient_image(11, 10));
  CHECK_THAT(error_of([&] { decode(eleven_by_ten, tight); }), Catch::Contains("11x10"));
  tight.max_pixels = 110;
  CHECK(decode(eleven_by_ten, tight).width == 11);
}

TEST_CASE("resize filters on simple patterns", "[image]") {
  for (const auto filter : {ResizeFilter::Bilinear, ResizeFilter::Bicubic}) {
    Image flat{37, 23, std::vector<std::uint8_t>(37 * 23 * 3, 77)};
    for (const auto& [w, h] : {std::pair{224, 224}, std::pair{5, 9}, std::pair{37, 23}, std::pair{37, 300}}) {
      const Image out = resize_image(flat, w, h, filter);
      REQUIRE(out.rgb.size() == static_cast<std::size_t>(w) * h * 3);
      for (auto v : out.rgb) REQUIRE(v == 77);
    }
    // A horizontal ramp stays monotone (no ringing for this smooth input) in both directions of scaling.
    const Image ramp = gradient_image(50, 8);
    for (const int w : {13, 120}) {
      const Image out = resize_image(ramp, w, 8, filter);
      for (int x = 1; x < w; ++x) CHECK(pixel(out, x, 4)[0] >= pixel(out, x - 1, 4)[0]);
      CHECK(pixel(out, 0, 4)[0] < 20);
      CHECK(pixel(out, w - 1, 4)[0] > 235);
    }
  }
  // Bilinear upscaling by 2 interpolates linearly between pixel centres (PIL/torchvision half-pixel grid).
  Image two{2, 1, {0, 0, 0, 100, 100, 100}};
  const Image up = resize_image(two, 4, 1, ResizeFilter::Bilinear);
  CHECK(up.rgb == std::vector<std::uint8_t>{0, 0, 0, 25, 25, 25, 75, 75, 75, 100, 100, 100});
  // Shrinking averages (antialiasing): a 1-pixel checkerboard halved becomes flat grey, not aliased.
  Image checker{8, 8, std::vector<std::uint8_t>(8 * 8 * 3)};
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x)
      for (int c = 0; c < 3; ++c) checker.rgb[(y * 8 + x) * 3 + c] = (x + y) % 2 ? 200 : 0;
  const Image half = resize_image(checker, 4, 4, ResizeFilter::Bilinear);
  for (int y = 1; y < 3; ++y)
    for (int x = 1; x < 3; ++x) CHECK(std::abs(pixel(half, x, y)[0] - 100) <= 1);
  // Exact values from Pillow 9.4 Image.resize on grey rows (shrinking, and bicubic enlarging with clipping).
  auto grey_row = [](std::vector<int> values) {
    Image image{static_cast<int>(values.size()), 1, {}};
    for (int v : values) image.rgb.insert(image.rgb.end(), 3, static_cast<std::uint8_t>(v));
    return image;
  };
  auto red_of = [](const Image& image) {
    std::vector<int> out;
    for (int x = 0; x < image.width; ++x) out.push_back(image.rgb[x * 3]);
    return out;
  };
  const Image ramp6 = grey_row({0, 50, 100, 150, 200, 250});
  CHECK(red_of(resize_image(ramp6, 3, 1, ResizeFilter::Bilinear)) == std::vector<int>{36, 125, 214});
  CHECK(red_of(resize_image(ramp6, 3, 1, ResizeFilter::Bicubic)) == std::vector<int>{27, 125, 223});
  CHECK(red_of(resize_image(grey_row({0, 200, 30, 90}), 7, 1, ResizeFilter::Bicubic)) ==
        std::vector<int>{0, 67, 196, 124, 27, 65, 95});
}

TEST_CASE("normalisation, cropping and presets", "[image]") {
  Image image{4, 2, std::vector<std::uint8_t>(4 * 2 * 3)};
  for (std::size_t i = 0; i < image.rgb.size(); i += 3) {
    image.rgb[i] = 0;
    image.rgb[i + 1] = 255;
    image.rgb[i + 2] = 51;
  }
  ImagePreprocess pp = ImagePreprocess::clip();
  pp.size = 2;
  pp.resize_to = 2;
  const auto out = preprocess(image, pp);
  REQUIRE(out.size() == 12);
  for (int i = 0; i < 4; ++i) {
    CHECK(out[i] == Approx((0.0f - 0.48145466f) / 0.26862954f));
    CHECK(out[4 + i] == Approx((1.0f - 0.4578275f) / 0.26130258f));
    CHECK(out[8 + i] == Approx((0.2f - 0.40821073f) / 0.27577711f));
  }
  // mobilenet_v2_tf is x/127.5 − 1.
  Image one{1, 1, {0, 255, 51}};
  ImagePreprocess mob = ImagePreprocess::mobilenet_v2_tf();
  mob.size = 1;
  const auto m = preprocess(one, mob);
  CHECK(m[0] == Approx(-1.0f));
  CHECK(m[1] == Approx(1.0f));
  CHECK(m[2] == Approx(51 / 127.5 - 1));

  // Shorter side then centre crop: a 3-wide stripe image keeps only its middle column after the crop.
  Image stripes{6, 2, std::vector<std::uint8_t>(6 * 2 * 3)};
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 6; ++x)
      for (int c = 0; c < 3; ++c) stripes.rgb[(y * 6 + x) * 3 + c] = x < 2 ? 0 : x < 4 ? 255 : 0;
  ImagePreprocess crop;
  crop.mode = ResizeMode::ShorterSideThenCenterCrop;
  crop.size = 2;
  crop.resize_to = 2;
  crop.mean = {0, 0, 0};
  crop.std = {1, 1, 1};
  for (float v : preprocess(stripes, crop)) CHECK(v == Approx(1.0f));

  CHECK(ImagePreprocess::imagenet().resize_to == 256);
  CHECK(ImagePreprocess::clip().filter == ResizeFilter::Bicubic);
  CHECK(ImagePreprocess::vit().mode == ResizeMode::Stretch);

  ImagePreprocess bad;
  bad.std = {0.5f, 0.0f, 0.5f};
  CHECK_THAT(error_of([&] { bad.validate(); }), Catch::Contains("std[1]"));
  CHECK_THAT(error_of([&] { preprocess(Image{2, 2, {1, 2, 3}}, ImagePreprocess::vit()); }), Catch::Contains("2x2"));
}

TEST_CASE("ImagePreprocess JSON round trip and errors", "[image]") {
  for (const auto& pp : {ImagePreprocess::vit(), ImagePreprocess::clip(), ImagePreprocess::imagenet(),
                         ImagePreprocess::mobilenet_v2_tf()}) {
    const std::string json = pp.to_json();
    CHECK(ImagePreprocess::from_json(json) == pp);
  }
  const auto parsed = nlohmann::json::parse(ImagePreprocess::clip().to_json());
  CHECK(parsed.at("mode") == "shorter_side_then_center_crop");
  CHECK(parsed.at("filter") == "bicubic");
  auto without_std = parsed;
  without_std.erase("std");
  CHECK_THAT(error_of([&] { ImagePreprocess::from_json(without_std.dump()); }), Catch::Contains("\"std\""));
  auto bad_filter = parsed;
  bad_filter["filter"] = "lanczos";
  CHECK_THAT(error_of([&] { ImagePreprocess::from_json(bad_filter.dump()); }), Catch::Contains("lanczos"));
  CHECK_THAT(error_of([&] { ImagePreprocess::from_json("{not json"); }), Catch::Contains("JSON"));
}

TEST_CASE("thread pool runs every index and reports the lowest failing one", "[image][thread_pool]") {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(hits.size(), [&](std::size_t i) { hits[i]++; });
  for (auto& h : hits) REQUIRE(h.load() == 1);
  try {
    pool.parallel_for(100, [&](std::size_t i) {
      if (i == 17 || i == 60) throw std::runtime_error("index " + std::to_string(i));
    });
    FAIL("expected an exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "index 17");
  }
  // Nested loops run inline on workers instead of deadlocking.
  std::atomic<int> total{0};
  pool.parallel_for(8, [&](std::size_t) { pool.parallel_for(8, [&](std::size_t) { total++; }); });
  CHECK(total.load() == 64);
}

TEST_CASE("batch decoding equals one-by-one decoding and names the failing file", "[image]") {
  TempDir dir;
  std::vector<std::string> paths;
  for (int i = 0; i < 7; ++i) {
    const auto path = dir / ("img" + std::to_string(i) + (i % 2 ? ".png" : ".jpg"));
    const Image image = gradient_image(30 + 7 * i, 20 + 5 * i);
    write_file(path, i % 2 ? encode_png(image) : encode_jpeg(image, 85));
    paths.push_back(path.string());
  }
  for (const auto& pp : {ImagePreprocess::clip(), ImagePreprocess::vit()}) {
    ThreadPool pool(4);
    const torch::Tensor batch = io::preprocess_files(paths, pp, {}, &pool);
    REQUIRE(batch.sizes() == torch::IntArrayRef({7, 3, 224, 224}));
    std::vector<Image> images;
    for (std::size_t i = 0; i < paths.size(); ++i) {
      images.push_back(decode_image_file(paths[i]));
      const auto one = preprocess(images.back(), pp);
      const torch::Tensor expected = torch::from_blob(const_cast<float*>(one.data()), {3, 224, 224});
      CHECK(torch::equal(batch[static_cast<std::int64_t>(i)], expected));
    }
    CHECK(torch::equal(io::to_tensor_batch(images, pp, &pool), batch));
  }
  write_file(dir / "broken.jpg", std::vector<std::uint8_t>(50, 1));
  auto with_broken = paths;
  with_broken.insert(with_broken.begin() + 3, (dir / "broken.jpg").string());
  with_broken.push_back((dir / "missing.png").string());
  CHECK_THAT(error_of([&] { io::preprocess_files(with_broken, ImagePreprocess::vit()); }),
             Catch::Contains("broken.jpg"));
}

TEST_CASE("PNG and JPEG encoding round-trip", "[image]") {
  const Image image = gradient_image(33, 17);
  CHECK(decode(encode_png(image)).rgb == image.rgb);
  const Image jpeg = decode(encode_jpeg(image, 95));
  REQUIRE(jpeg.width == 33);
  double err = 0;
  for (std::size_t i = 0; i < image.rgb.size(); ++i) err += std::abs(int(jpeg.rgb[i]) - int(image.rgb[i]));
  CHECK(err / image.rgb.size() < 3.0);
  CHECK_THROWS_AS(encode_jpeg(image, 0), Error);
  CHECK_THROWS_AS(encode_png(Image{2, 2, {}}), Error);
}

TEST_CASE("real posters and sample photos decode", "[image][shared]") {
  const auto mobilenet = clipmatch::test::shared_path("weights/mobilenet_v2_imagenet");
  CLIPMATCH_REQUIRE_SHARED(mobilenet, "weights/mobilenet_v2_imagenet");
  const std::map<std::string, std::pair<int, int>> sizes = {
      {"sample_dog.jpg", {768, 576}}, {"sample_eagle.jpg", {773, 512}}, {"sample_person.jpg", {640, 424}}};
  for (const auto& [name, wh] : sizes) {
    const Image image = decode_image_file((*mobilenet / name).string());
    CHECK(image.width == wh.first);
    CHECK(image.height == wh.second);
  }
  const auto posters = clipmatch::test::shared_path("data/ml100k-tmdb/posters");
  CLIPMATCH_REQUIRE_SHARED(posters, "data/ml100k-tmdb/posters");
  const Image poster = decode_image_file((*posters / "1.jpg").string());
  CHECK(poster.width > 0);
  CHECK(poster.height > poster.width);  // posters are portrait
}

TEST_CASE("MobileNetV2 preset matches the reference pixel_values", "[image][shared][parity]") {
  // io.safetensors in.pixel_values [3,3,224,224] were made with PIL decode + PIL bilinear resize to
  // 224x224 + x/127.5 - 1. Measured with this code (stb_image decode + Pillow-exact resize):
  //   dog max 0.00784 mean 0.00074, eagle max 0.01569 mean 0.00100, person max 0.01569 mean 0.00072.
  // The residue is stb_image's JPEG IDCT/upsampling versus libjpeg's (decoded pixels differ by <= 3 levels,
  // mean 0.1); fed PIL's decoded pixels, the resize reproduces the reference exactly (max diff 0).
  // Tolerances: 3 levels (3/127.5) max, 0.002 mean; stb's own triangle filter scored max 0.071.
  const auto folder = clipmatch::test::shared_path("weights/mobilenet_v2_imagenet");
  CLIPMATCH_REQUIRE_SHARED(folder, "weights/mobilenet_v2_imagenet");
  const auto io = SafetensorsFile::open((*folder / "io.safetensors").string());
  const auto& pixels = io.tensor("in.pixel_values");
  REQUIRE(pixels.dtype == DType::F32);
  REQUIRE(pixels.shape == std::vector<std::int64_t>{3, 3, 224, 224});
  const auto* reference = static_cast<const float*>(pixels.data);
  std::vector<std::string> paths;
  for (const char* name : {"sample_dog.jpg", "sample_eagle.jpg", "sample_person.jpg"})
    paths.push_back((*folder / name).string());
  const torch::Tensor batch = io::preprocess_files(paths, ImagePreprocess::mobilenet_v2_tf()).contiguous();
  const float* ours = batch.data_ptr<float>();
  const std::size_t per_image = 3 * 224 * 224;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    double max_diff = 0, sum_diff = 0;
    for (std::size_t k = 0; k < per_image; ++k) {
      const double d = std::fabs(ours[i * per_image + k] - reference[i * per_image + k]);
      max_diff = std::max(max_diff, d);
      sum_diff += d;
    }
    const double mean_diff = sum_diff / per_image;
    INFO(paths[i] << ": max abs diff " << max_diff << ", mean abs diff " << mean_diff);
    CHECK(max_diff <= 3 / 127.5 + 1e-6);
    CHECK(mean_diff < 0.002);
    std::printf("parity %s: max %.5f mean %.6f\n", paths[i].c_str(), max_diff, mean_diff);
  }
}
