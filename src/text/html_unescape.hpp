// Python's html.unescape(), which CLIP's basic_clean applies (twice) before tokenising.
#pragma once

#include <string>

namespace clipmatch::text {

/// Replaces named (full HTML5 table, with the spec's longest-prefix rule for legacy names without ";") and
/// numeric character references exactly as Python's html.unescape does, including its Windows-1252 remapping
/// of &#128;–&#159;, U+FFFD for &#0;, surrogates and values past U+10FFFF, and dropping noncharacters.
std::u32string html_unescape(const std::u32string& text);

}  // namespace clipmatch::text
