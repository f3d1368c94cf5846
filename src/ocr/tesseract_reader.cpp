#include "ocr/tesseract_reader.hpp"

#include "core/fail.hpp"

#ifdef CLIPMATCH_HAVE_TESSERACT
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>
#endif

namespace clipmatch::ocr {

#ifdef CLIPMATCH_HAVE_TESSERACT

struct TesseractReader::Engine {
  tesseract::TessBaseAPI api;
};

TesseractReader::TesseractReader(const std::string& language, const std::string& tessdata_dir, int binarization)
    : engine_(std::make_unique<Engine>()) {
  // Tesseract prints its own complaints to stderr; the reason reaches the caller in our error instead.
  if (engine_->api.Init(tessdata_dir.empty() ? nullptr : tessdata_dir.c_str(), language.c_str(),
                        tesseract::OEM_LSTM_ONLY) != 0) {
    fail(ErrorKind::Unsupported,
         "OCR: Tesseract could not load language '{}' from {} (on Debian: apt install tesseract-ocr-{})", language,
         tessdata_dir.empty() ? std::string("its default tessdata folder (or $TESSDATA_PREFIX)") : tessdata_dir,
         language);
  }
  // Posters carry no resolution; without one Tesseract guesses it and logs the guess for every image.
  engine_->api.SetVariable("user_defined_dpi", "300");
  engine_->api.SetVariable("debug_file", "/dev/null");
  engine_->api.SetVariable("thresholding_method", std::to_string(binarization).c_str());
}

TesseractReader::~TesseractReader() {
  if (engine_) engine_->api.End();
}

std::vector<OcrWord> TesseractReader::read(const GrayImage& image, int top, int rows, int page_mode) {
  if (page_mode < 0 || page_mode >= tesseract::PSM_COUNT) {
    fail(ErrorKind::InvalidArgument, "OCR: page-segmentation mode {} is not one of Tesseract's 0–{}", page_mode,
         static_cast<int>(tesseract::PSM_COUNT) - 1);
  }
  std::vector<OcrWord> words;
  if (rows <= 0 || image.width <= 0) return words;
  auto& api = engine_->api;
  api.SetPageSegMode(static_cast<tesseract::PageSegMode>(page_mode));
  api.SetImage(image.pixels.data() + static_cast<std::size_t>(top) * static_cast<std::size_t>(image.width), image.width,
               rows, 1, image.width);
  if (api.Recognize(nullptr) != 0) return words;
  std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
  if (!it) return words;
  do {
    std::unique_ptr<char[]> text(it->GetUTF8Text(tesseract::RIL_WORD));
    if (!text || text[0] == '\0') continue;
    words.push_back({text.get(), it->Confidence(tesseract::RIL_WORD)});
  } while (it->Next(tesseract::RIL_WORD));
  api.Clear();
  return words;
}

std::string TesseractReader::version() { return tesseract::TessBaseAPI::Version(); }

#else

struct TesseractReader::Engine {};

TesseractReader::TesseractReader(const std::string&, const std::string&, int) {
  fail(ErrorKind::Unsupported, "OCR: this clipmatch was built without Tesseract (on Debian: apt install "
                               "libtesseract-dev tesseract-ocr-eng, then rebuild)");
}
TesseractReader::~TesseractReader() = default;
std::vector<OcrWord> TesseractReader::read(const GrayImage&, int, int, int) { return {}; }
std::string TesseractReader::version() { return ""; }

#endif

}  // namespace clipmatch::ocr
