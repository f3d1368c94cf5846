// clipmatch — the one error type of the library.
//
// Every failure the library reports is a clipmatch::Error: a message that already names what went wrong
// and where (file, row, tensor, field), so callers can print what() and stop. The C API maps it to a
// status code plus last-error string, Python to an exception, the CLI to one line on stderr.
#pragma once

#include <clipmatch/export.h>

#include <stdexcept>
#include <string>

namespace clipmatch {

/// Broad category of a failure; stable so bindings can map it to their own error kinds.
enum class ErrorKind {
  InvalidArgument = 1,  ///< a caller-supplied value is out of range or inconsistent
  Io = 2,               ///< a file could not be opened, read or written
  Format = 3,           ///< a file was read but its content is malformed (bad JSON, CSV, safetensors, image)
  Checkpoint = 4,       ///< a checkpoint lacks, adds or mis-shapes a tensor
  Unsupported = 5,      ///< a valid request this build cannot serve (e.g. CUDA without a GPU)
  Internal = 6,         ///< a bug or an unexpected failure of a dependency
  Cancelled = 7,        ///< a progress callback asked to stop (the call had no lasting effect beyond complete files)
};

class CLIPMATCH_API Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace clipmatch
