#include "text/unicode.hpp"

#include "core/fail.hpp"

#include <unicode/normalizer2.h>
#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

namespace clipmatch::text::unicode {

namespace {

icu::UnicodeString to_icu(const std::u32string& text) {
  return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(text.data()),
                                       static_cast<int32_t>(text.size()));
}

std::u32string from_icu(const icu::UnicodeString& text) {
  std::u32string out(static_cast<std::size_t>(text.countChar32()), U'\0');
  UErrorCode status = U_ZERO_ERROR;
  text.toUTF32(reinterpret_cast<UChar32*>(out.data()), static_cast<int32_t>(out.size()), status);
  if (U_FAILURE(status)) fail(ErrorKind::Internal, "ICU UTF-32 conversion failed: {}", u_errorName(status));
  return out;
}

std::uint32_t category_mask(char32_t cp) { return U_GET_GC_MASK(static_cast<UChar32>(cp)); }

}  // namespace

std::u32string normalize(const std::u32string& text, Form form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = form == Form::NFC ? icu::Normalizer2::getNFCInstance(status)
                                                         : icu::Normalizer2::getNFDInstance(status);
  if (U_FAILURE(status)) fail(ErrorKind::Internal, "ICU normaliser unavailable: {}", u_errorName(status));
  const icu::UnicodeString result = normalizer->normalize(to_icu(text), status);
  if (U_FAILURE(status)) fail(ErrorKind::Internal, "ICU normalisation failed: {}", u_errorName(status));
  return from_icu(result);
}

std::u32string to_lower(const std::u32string& text) {
  icu::UnicodeString ustr = to_icu(text);
  ustr.toLower(icu::Locale::getRoot());
  return from_icu(ustr);
}

char32_t fold_case(char32_t cp) {
  return static_cast<char32_t>(u_foldCase(static_cast<UChar32>(cp), U_FOLD_CASE_DEFAULT));
}

bool is_white_space(char32_t cp) { return u_isUWhiteSpace(static_cast<UChar32>(cp)) != 0; }
bool is_python_space(char32_t cp) {
  const auto c = static_cast<UChar32>(cp);
  const UCharDirection direction = u_charDirection(c);
  return direction == U_WHITE_SPACE_NEUTRAL || direction == U_BLOCK_SEPARATOR || direction == U_SEGMENT_SEPARATOR ||
         u_charType(c) == U_SPACE_SEPARATOR;
}
bool is_other(char32_t cp) { return (category_mask(cp) & U_GC_C_MASK) != 0; }
bool is_punctuation(char32_t cp) { return (category_mask(cp) & U_GC_P_MASK) != 0; }
bool is_nonspacing_mark(char32_t cp) { return (category_mask(cp) & U_GC_MN_MASK) != 0; }
bool is_letter(char32_t cp) { return (category_mask(cp) & U_GC_L_MASK) != 0; }
bool is_number(char32_t cp) { return (category_mask(cp) & U_GC_N_MASK) != 0; }

}  // namespace clipmatch::text::unicode
