// clipmatch — where the library's messages go.
//
// Everything the library would print (progress lines, one line per training epoch, warnings such as an
// unreadable feature-cache file) goes through one process-wide sink. By default it is standard error; a host
// program (a GUI, a service, a notebook) installs its own to route messages into its log.
#pragma once

#include <clipmatch/export.h>

#include <functional>
#include <string>

namespace clipmatch {

enum class LogLevel { Debug = 0, Info = 1, Warning = 2, Error = 3 };

/// Receives one complete message (no trailing newline). May be called from any thread running library code;
/// calls are serialised, so the callback needs no lock of its own.
using LogCallback = std::function<void(LogLevel level, const std::string& message)>;

/// Installs the process-wide sink; an empty callback restores the default (standard error).
CLIPMATCH_API void set_log_callback(LogCallback callback);

/// Sends one message to the current sink (for code that embeds the library and wants its messages beside ours).
CLIPMATCH_API void log_message(LogLevel level, const std::string& message);

}  // namespace clipmatch
