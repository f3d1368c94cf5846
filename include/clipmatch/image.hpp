// clipmatch — the image pipeline: decoding (JPEG, PNG, ... via stb_image) to RGB8, preprocessing described
// as data (resize, crop, normalise → float CHW), and PNG/JPEG encoding to memory.
//
// Decoding always yields 3-channel RGB. Grayscale is replicated to three channels. An alpha channel
// (grayscale+alpha, RGBA) is composited over white by default: posters and thumbnails with transparency
// are meant to be seen on a light page, and dropping alpha would expose whatever colour the encoder left in
// fully transparent pixels (often black). `DecodeOptions::alpha = AlphaMode::Drop` gives PIL's
// `convert("RGB")` behaviour instead. EXIF orientation is not applied (neither does PIL without exif_transpose).
#pragma once

#include <clipmatch/error.hpp>
#include <clipmatch/export.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace clipmatch {

/// An 8-bit RGB image, rows top to bottom, pixels interleaved (R, G, B); rgb.size() == width*height*3.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;
};

/// What to do with an alpha channel when decoding to RGB.
enum class AlphaMode {
  CompositeOnWhite,  ///< out = a·colour + (1−a)·255
  Drop,              ///< keep the colour channels as stored (PIL's convert("RGB"))
};

struct DecodeOptions {
  /// Images whose header announces more pixels than this are refused before any pixel is decoded, so a
  /// small file cannot make the decoder allocate gigabytes (a "decompression bomb").
  std::int64_t max_pixels = 64'000'000;
  AlphaMode alpha = AlphaMode::CompositeOnWhite;
};

/// Decodes the file at `path` (any format stb_image reads: JPEG baseline/progressive, PNG 8/16-bit, BMP,
/// GIF first frame, TGA, 8-bit PNM; PSD, HDR, PIC and 16-bit PNM are refused). Throws clipmatch::Error naming the file: Io when it cannot be read,
/// Format when it is corrupt, truncated or larger than `options.max_pixels`.
CLIPMATCH_API Image decode_image_file(const std::string& path, const DecodeOptions& options = {});

/// An encoded image file held in memory (JPEG, PNG, …); the caller owns the bytes.
struct EncodedImage {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};

/// Decoded 8-bit pixels owned by the caller: `height` rows of `width` pixels, `stride` bytes from one row to the
/// next (≥ width·channels), `channels` 3 (RGB) or 4 (RGBA).
struct PixelView {
  const std::uint8_t* data = nullptr;
  std::size_t width = 0;
  std::size_t height = 0;
  std::size_t stride = 0;
  std::size_t channels = 3;
};

/// Copies a pixel view into an RGB Image exactly as decoding would (RGBA: composited over white, or alpha
/// dropped per `options.alpha`). Throws clipmatch::Error (InvalidArgument) naming the bad field, or Format when
/// the image exceeds `options.max_pixels`.
CLIPMATCH_API Image image_from_pixels(const PixelView& pixels, const DecodeOptions& options = {});

/// Decodes an encoded image held in memory; `name` is used in error messages in place of a file name.
CLIPMATCH_API Image decode_image_memory(const std::uint8_t* data, std::size_t size, const std::string& name = "<memory>",
                                        const DecodeOptions& options = {});

/// Resampling kernel. Both are applied with a support scaled by the reduction factor when shrinking
/// (antialiased), as PIL's Image.resize does (and torchvision / HF processors, which call it).
enum class ResizeFilter {
  Bilinear,  ///< triangle kernel (PIL BILINEAR)
  Bicubic,   ///< Keys cubic with a = −0.5, i.e. Catmull-Rom (PIL BICUBIC)
};

enum class ResizeMode {
  Stretch,                    ///< resize straight to size×size (HF ViT processor, MobileNetV2 reference)
  ShorterSideThenCenterCrop,  ///< shorter side → resize_to keeping aspect, then centre crop size×size (CLIP, ResNet)
};

/// How an image becomes a model input: out[c][y][x] = (pixel·scale − mean[c]) / std[c], CHW, float32.
/// Plain data so that a checkpoint can carry it (to_json / from_json).
struct CLIPMATCH_API ImagePreprocess {
  int size = 224;       ///< output square side
  ResizeFilter filter = ResizeFilter::Bilinear;
  ResizeMode mode = ResizeMode::Stretch;
  int resize_to = 224;  ///< target of the shorter side (ShorterSideThenCenterCrop only); must be >= size
  std::array<float, 3> mean{0.5f, 0.5f, 0.5f};
  std::array<float, 3> std{0.5f, 0.5f, 0.5f};
  float scale = 1.0f / 255.0f;

  /// Hugging Face ViT image processor: 224 stretch, bilinear, mean = std = 0.5.
  static ImagePreprocess vit();
  /// OpenAI CLIP: bicubic, shorter side 224, centre crop 224, CLIP mean/std.
  static ImagePreprocess clip();
  /// torchvision ImageNet models (ResNet): bilinear, shorter side 256, centre crop 224, ImageNet mean/std.
  static ImagePreprocess imagenet();
  /// TF/TFLite MobileNetV2: bilinear straight to 224×224, x/127.5 − 1.
  static ImagePreprocess mobilenet_v2_tf();

  /// Throws clipmatch::Error (InvalidArgument) naming the offending field.
  void validate() const;
  /// {"size":224,"filter":"bilinear","mode":"stretch","resize_to":224,"mean":[..],"std":[..],"scale":..}
  std::string to_json() const;
  /// Parses what to_json wrote; throws clipmatch::Error (Format) naming a missing or bad field.
  static ImagePreprocess from_json(const std::string& json);

  bool operator==(const ImagePreprocess& other) const;
  bool operator!=(const ImagePreprocess& other) const { return !(*this == other); }
};

/// Resizes `image` to out_width×out_height with `filter`, reproducing Pillow's Image.resize exactly
/// (antialiased when shrinking, kernel truncated and renormalised at the border, 8-bit fixed point).
CLIPMATCH_API Image resize_image(const Image& image, int out_width, int out_height, ResizeFilter filter);

/// Applies `pp` to one image: 3·size·size floats, channel-major (CHW).
CLIPMATCH_API std::vector<float> preprocess(const Image& image, const ImagePreprocess& pp);

/// Encodes to PNG (lossless) in memory.
CLIPMATCH_API std::vector<std::uint8_t> encode_png(const Image& image);
/// Encodes to baseline JPEG in memory; quality in [1, 100].
CLIPMATCH_API std::vector<std::uint8_t> encode_jpeg(const Image& image, int quality = 90);

}  // namespace clipmatch
