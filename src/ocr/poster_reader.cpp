#include "ocr/poster_reader.hpp"

#include "core/fail.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace clipmatch::ocr {

void validate(const OcrOptions& o) {
  if (o.min_height < 1 || o.min_height > 8192) {
    fail(ErrorKind::InvalidArgument, "OCR: min_height must be in [1, 8192], got {}", o.min_height);
  }
  if (o.page_modes.empty()) fail(ErrorKind::InvalidArgument, "OCR: page_modes is empty (11 = sparse text is usual)");
  for (const int mode : o.page_modes) {
    // 0 (orientation detection only) and 2 (layout without reading) return no words.
    if (mode < 1 || mode > 13 || mode == 2) {
      fail(ErrorKind::InvalidArgument, "OCR: page mode {} is not a reading mode of Tesseract (1, 3–13)", mode);
    }
  }
  if (!(o.band_fraction > 0 && o.band_fraction <= 0.5)) {
    fail(ErrorKind::InvalidArgument, "OCR: band_fraction must be in (0, 0.5], got {}", o.band_fraction);
  }
  if (o.binarization < 0 || o.binarization > 2) {
    fail(ErrorKind::InvalidArgument, "OCR: binarization must be 0 (Otsu), 1 (adaptive Otsu) or 2 (Sauvola), got {}",
         o.binarization);
  }
  if (!(o.min_confidence >= 0 && o.min_confidence <= 100)) {
    fail(ErrorKind::InvalidArgument, "OCR: min_confidence must be in [0, 100], got {}", o.min_confidence);
  }
  if (o.language.empty()) fail(ErrorKind::InvalidArgument, "OCR: language is empty (e.g. \"eng\")");
  if (!std::isfinite(o.fusion_weight)) {
    fail(ErrorKind::InvalidArgument, "OCR: fusion_weight must be finite (negative = learned), got {}", o.fusion_weight);
  }
}

GrayImage prepare_for_ocr(const Image& image, int min_height) {
  Image source = image;
  if (image.height < min_height) {
    const double scale = static_cast<double>(min_height) / image.height;
    const int width = std::max(1, static_cast<int>(std::lround(image.width * scale)));
    source = resize_image(image, width, min_height, ResizeFilter::Bicubic);
  }
  GrayImage gray{source.width, source.height, {}};
  gray.pixels.resize(static_cast<std::size_t>(source.width) * static_cast<std::size_t>(source.height));
  for (std::size_t i = 0; i < gray.pixels.size(); ++i) {
    const auto* p = &source.rgb[3 * i];
    // PIL's integer luma: (R·19595 + G·38470 + B·7471 + 0x8000) >> 16.
    gray.pixels[i] = static_cast<std::uint8_t>((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
  }
  return gray;
}

PosterText read_poster(const Image& image, const OcrOptions& o, TesseractReader& reader) {
  const auto gray = prepare_for_ocr(image, o.min_height);
  PosterText merged;
  std::unordered_map<std::string, std::size_t> position;  // word → index in merged.words
  auto add = [&](const std::vector<OcrWord>& words) {
    for (const auto& word : words) {
      const auto [it, inserted] = position.emplace(word.text, merged.words.size());
      if (inserted) {
        merged.words.push_back(word);
      } else {
        auto& kept = merged.words[it->second];
        kept.confidence = std::max(kept.confidence, word.confidence);
      }
    }
  };
  for (const int mode : o.page_modes) add(reader.read(gray, 0, gray.height, mode));
  if (o.title_bands) {
    const int band = std::max(1, static_cast<int>(std::lround(gray.height * o.band_fraction)));
    // A band is one line of large type more often than a page: sparse text (11) reads it either way.
    add(reader.read(gray, 0, band, 11));
    add(reader.read(gray, gray.height - band, band, 11));
  }
  return merged;
}

std::string reading_settings(const OcrOptions& o) {
  // The default binarisation is left out of the key, so caches written before the option existed stay valid.
  return fmt::format("ocr-v1;tesseract={};lang={};min_height={};modes={};bands={};band_fraction={}{}",
                     TesseractReader::version(), o.language, o.min_height, fmt::join(o.page_modes, ","),
                     o.title_bands ? 1 : 0, o.title_bands ? o.band_fraction : 0.0,
                     o.binarization == 0 ? std::string() : fmt::format(";binarization={}", o.binarization));
}

PosterText confident_words(const PosterText& text, float min_confidence) {
  PosterText kept;
  for (const auto& word : text.words)
    if (word.confidence >= min_confidence) kept.words.push_back(word);
  return kept;
}

}  // namespace clipmatch::ocr
