#include "text/html_unescape.hpp"

#include "text/utf8.hpp"

#include <string_view>
#include <unordered_map>

namespace clipmatch::text {

namespace {

const std::unordered_map<std::string_view, std::string_view>& named_references() {
  static const std::unordered_map<std::string_view, std::string_view> table{
#include "text/html_entities.inc"
  };
  return table;
}

// Numeric references to C1 controls mean the Windows-1252 character, as browsers (and Python) read them.
char32_t windows_1252(char32_t cp) {
  static constexpr char32_t kC1[32] = {0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                       0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
                                       0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                       0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
  return kC1[cp - 0x80];
}

bool is_dropped_codepoint(char32_t cp) {
  return (cp >= 0x1 && cp <= 0x8) || cp == 0xB || (cp >= 0xE && cp <= 0x1F) || (cp >= 0x7F && cp <= 0x9F) ||
         (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

bool is_ascii_digit(char32_t c) { return c >= U'0' && c <= U'9'; }
bool is_ascii_hex(char32_t c) {
  return is_ascii_digit(c) || (c >= U'a' && c <= U'f') || (c >= U'A' && c <= U'F');
}
int hex_value(char32_t c) {
  if (is_ascii_digit(c)) return static_cast<int>(c - U'0');
  if (c >= U'a' && c <= U'f') return static_cast<int>(c - U'a' + 10);
  return static_cast<int>(c - U'A' + 10);
}

void append_numeric(std::u32string& out, unsigned long long value) {
  if (value == 0) {
    out.push_back(0xFFFD);
  } else if (value == 0x0D) {
    out.push_back(U'\r');
  } else if (value >= 0x80 && value <= 0x9F) {
    out.push_back(windows_1252(static_cast<char32_t>(value)));
  } else if ((value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF) {
    out.push_back(0xFFFD);
  } else if (!is_dropped_codepoint(static_cast<char32_t>(value))) {
    out.push_back(static_cast<char32_t>(value));
  }
}

}  // namespace

std::u32string html_unescape(const std::u32string& text) {
  if (text.find(U'&') == std::u32string::npos) return text;
  std::u32string out;
  out.reserve(text.size());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (text[i] != U'&') {
      out.push_back(text[i++]);
      continue;
    }
    std::size_t j = i + 1;
    if (j < n && text[j] == U'#') {
      // &#123;? or &#x1F;? — digits saturate so an absurdly long reference reads as "too large".
      const bool hex = j + 1 < n && (text[j + 1] == U'x' || text[j + 1] == U'X');
      std::size_t k = j + (hex ? 2 : 1);
      const std::size_t digits_start = k;
      unsigned long long value = 0;
      while (k < n && (hex ? is_ascii_hex(text[k]) : is_ascii_digit(text[k]))) {
        const unsigned digit = static_cast<unsigned>(hex ? hex_value(text[k]) : static_cast<int>(text[k] - U'0'));
        value = value > 0x7FFFFFFFull ? value : value * (hex ? 16 : 10) + digit;
        ++k;
      }
      if (k == digits_start) {  // "&#" not followed by a number is literal text
        out.push_back(text[i++]);
        continue;
      }
      if (k < n && text[k] == U';') ++k;
      append_numeric(out, value);
      i = k;
      continue;
    }
    // Named: up to 32 characters other than \t \n \f space < & # ;, then an optional ";".
    std::size_t k = j;
    while (k < n && k - j < 32) {
      const char32_t c = text[k];
      if (c == U'\t' || c == U'\n' || c == U'\f' || c == U' ' || c == U'<' || c == U'&' || c == U'#' || c == U';')
        break;
      ++k;
    }
    if (k == j) {
      out.push_back(text[i++]);
      continue;
    }
    if (k < n && text[k] == U';') ++k;
    const std::string name = encode_utf8(text.substr(j, k - j));
    const auto& table = named_references();
    bool replaced = false;
    // The whole name, else its longest known prefix (at least two characters); the rest stays as text.
    for (std::size_t length = name.size(); length >= 2 && !replaced; --length) {
      const auto it = table.find(std::string_view(name).substr(0, length));
      if (it == table.end()) continue;
      out += decode_utf8_lossy(std::string(it->second));
      out += decode_utf8_lossy(name.substr(length));
      replaced = true;
    }
    if (!replaced) out.append(text, i, k - i);
    i = k;
  }
  return out;
}

}  // namespace clipmatch::text
