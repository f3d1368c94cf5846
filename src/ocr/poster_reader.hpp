// Reading one poster: grayscale, upscaled until glyphs are large enough for Tesseract, read in every chosen
// page-segmentation mode and again on the top and bottom bands, the readings merged into one word list.
#pragma once

#include "ocr/tesseract_reader.hpp"

#include <clipmatch/image.hpp>
#include <clipmatch/ocr.hpp>

#include <string>

namespace clipmatch::ocr {

/// Checks the reading settings and the fusion weight of `options`; throws Error(InvalidArgument) naming the field.
void validate(const OcrOptions& options);

/// Luma of `image` (ITU-R 601, as PIL's convert("L")), upscaled with the bicubic filter (aspect kept) when it
/// is shorter than `min_height`.
GrayImage prepare_for_ocr(const Image& image, int min_height);

/// Every word the passes of `options` read, each once (its most confident reading), before any confidence
/// threshold: the cache keeps them all, so the threshold can change without reading again.
PosterText read_poster(const Image& image, const OcrOptions& options, TesseractReader& reader);

/// The settings that change what read_poster returns (and Tesseract's version), as text: the OCR cache key.
std::string reading_settings(const OcrOptions& options);

/// `text` with the words below options.min_confidence dropped.
PosterText confident_words(const PosterText& text, float min_confidence);

}  // namespace clipmatch::ocr
