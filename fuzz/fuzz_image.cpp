// libFuzzer target: image decoding and preprocessing (src/io/image_decode.cpp, image_preprocess.cpp,
// image_resample.cpp, and stb_image underneath).
//
// decode_image_memory(input) → preprocess with ImagePreprocess::vit() (stretch, bilinear) and a CLIP-like
// shorter-side + centre-crop recipe (bicubic), both at a small output size so that a run stays fast.
// The last input byte picks the alpha mode (CompositeOnWhite or Drop); decoders ignore trailing bytes, so
// this does not disturb the format.
//
// max_pixels is lowered from the default 64 Mpx to 4 Mpx: the refusal path is the same code, and the fuzzer
// otherwise spends its time decoding 64-Mpx images announced by 100-byte files (each one a slow but legal run).
// Checked: the decoded image has width×height×3 bytes; preprocess returns 3×S×S finite floats.
// While "stb-pnm-16bit-overread" is listed in fuzz/known-checks.txt (tools/fuzz.sh passes it), PNM input is skipped.
#include <clipmatch/image.hpp>

#include "fuzz_common.hpp"

#include <cmath>

namespace {

constexpr int kSize = 32;

void check_preprocessed(const std::vector<float>& out, const clipmatch::ImagePreprocess& pp) {
  FUZZ_CHECK(out.size() == static_cast<std::size_t>(3) * pp.size * pp.size, "preprocess output has the wrong size");
  for (float v : out) FUZZ_CHECK(std::isfinite(v), "preprocess produced a non-finite value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Known stb_image bugs that AddressSanitizer reports cannot be suppressed like UBSan's: while their id is listed
  // in fuzz/known-checks.txt, tools/fuzz.sh has the inputs that reach them skipped, so that fuzzing goes on.
  if (fuzz::check_skipped("stb-pnm-16bit-overread") && size >= 2 && data[0] == 'P' && (data[1] == '5' || data[1] == '6'))
    return 0;
  clipmatch::DecodeOptions options;
  options.max_pixels = 4'000'000;
  options.alpha = size > 0 && (data[size - 1] & 1) ? clipmatch::AlphaMode::Drop : clipmatch::AlphaMode::CompositeOnWhite;

  clipmatch::Image image;
  const bool decoded =
      fuzz::guarded("decode_image_memory", [&] { image = clipmatch::decode_image_memory(data, size, "input", options); });
  if (!decoded) return 0;
  FUZZ_CHECK(image.width > 0 && image.height > 0, "decoded an empty image");
  FUZZ_CHECK(static_cast<std::int64_t>(image.width) * image.height <= options.max_pixels, "pixel limit not enforced");
  FUZZ_CHECK(image.rgb.size() == static_cast<std::size_t>(image.width) * image.height * 3, "rgb size mismatch");

  clipmatch::ImagePreprocess vit = clipmatch::ImagePreprocess::vit();
  vit.size = kSize;
  fuzz::guarded("preprocess(vit)", [&] { check_preprocessed(clipmatch::preprocess(image, vit), vit); });

  clipmatch::ImagePreprocess clip = clipmatch::ImagePreprocess::clip();
  clip.size = kSize;
  clip.resize_to = kSize + 4;
  fuzz::guarded("preprocess(clip)", [&] { check_preprocessed(clipmatch::preprocess(image, clip), clip); });
  return 0;
}
