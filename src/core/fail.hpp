// Internal helpers to raise clipmatch::Error with fmt-formatted messages.
#pragma once

#include <clipmatch/error.hpp>
#include <fmt/format.h>

#include <utility>

namespace clipmatch {

template <typename... Args>
[[noreturn]] void fail(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(kind, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace clipmatch
