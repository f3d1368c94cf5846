// The few Unicode services the tokenizers need (normalisation, full lower-casing, character classes), backed
// by ICU so that they follow the Unicode tables the reference tokenizers use rather than hand-kept ranges.
#pragma once

#include <string>

namespace clipmatch::text::unicode {

enum class Form { NFC, NFD };

std::u32string normalize(const std::u32string& text, Form form);
/// Full (context-sensitive, possibly length-changing) lower-case mapping in the root locale, like Python's
/// str.lower() and Rust's char::to_lowercase.
std::u32string to_lower(const std::u32string& text);

/// Simple case folding of one code point (what a case-insensitive regex compares).
char32_t fold_case(char32_t cp);

bool is_white_space(char32_t cp);      ///< the Unicode White_Space property (Rust char::is_whitespace)
/// Python's str.isspace(): bidi class WS, B or S, or category Zs (adds U+001C–U+001F to White_Space).
bool is_python_space(char32_t cp);
bool is_other(char32_t cp);            ///< general category C* (Cc, Cf, Cs, Co, Cn)
bool is_punctuation(char32_t cp);      ///< general category P*
bool is_nonspacing_mark(char32_t cp);  ///< general category Mn
bool is_letter(char32_t cp);           ///< general category L*  (regex \p{L})
bool is_number(char32_t cp);           ///< general category N*  (regex \p{N})

}  // namespace clipmatch::text::unicode
