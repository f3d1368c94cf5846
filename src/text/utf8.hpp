// UTF-8 decoding that never fails: tokenizers see well-formed code points whatever bytes they were given.
#pragma once

#include <string>

namespace clipmatch::text {

/// Decodes UTF-8 into code points. Each maximal ill-formed subsequence (stray continuation byte, truncated
/// sequence, overlong form, surrogate, value above U+10FFFF) becomes one U+FFFD, following the Unicode
/// "substitution of maximal subparts" practice that ICU and Python's errors="replace" also use.
std::u32string decode_utf8_lossy(const std::string& bytes);

/// Appends the UTF-8 form of `cp` (which must be a valid scalar value) to `out`.
void append_utf8(std::string& out, char32_t cp);

std::string encode_utf8(const std::u32string& text);

/// `bytes` with every invalid sequence replaced by U+FFFD (valid input is returned unchanged).
std::string sanitize_utf8(const std::string& bytes);

}  // namespace clipmatch::text
