// One Tesseract engine: reads the words of an 8-bit grayscale image with a page-segmentation mode. Not
// thread-safe (Tesseract's engine is not); read_posters.cpp keeps one per worker thread.
#pragma once

#include <clipmatch/ocr.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace clipmatch::ocr {

/// An 8-bit grayscale image, rows top to bottom.
struct GrayImage {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;
};

class TesseractReader {
 public:
  /// Starts an engine for `language` with data from `tessdata_dir` (empty: Tesseract's default) binarising with
  /// method `binarization` (OcrOptions::binarization); throws Error(Unsupported) naming what is missing when it
  /// cannot start or this build has no Tesseract.
  TesseractReader(const std::string& language, const std::string& tessdata_dir, int binarization = 0);
  ~TesseractReader();
  TesseractReader(const TesseractReader&) = delete;
  TesseractReader& operator=(const TesseractReader&) = delete;

  /// Words of rows [top, top + rows) of `image` read in page-segmentation mode `page_mode`, with their
  /// confidence (0–100); empty words are left out.
  std::vector<OcrWord> read(const GrayImage& image, int top, int rows, int page_mode);

  /// Tesseract's version ("5.3.0"), or "" when this build has none.
  static std::string version();

 private:
  struct Engine;
  std::unique_ptr<Engine> engine_;
};

}  // namespace clipmatch::ocr
