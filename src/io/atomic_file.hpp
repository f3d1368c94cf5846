// Writing output files so that readers never see a half-written one: the content goes to a temporary file in
// the destination's folder (same file system, so the final rename is atomic), is flushed to disk, and is then
// renamed over the destination. On any failure the temporary file is removed and the destination is untouched.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <ostream>

namespace clipmatch::io {

/// Calls `writer` with a binary stream to a temporary file beside `path`, then fsyncs and renames it to
/// `path`. Exceptions from `writer` propagate (after clean-up); I/O failures throw clipmatch::Error (Io)
/// naming `path`. The destination's folder must exist.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& writer);

/// Creates `folder` and its parents; throws clipmatch::Error (Io) "`what` FOLDER cannot be created: REASON"
/// instead of a bare filesystem_error.
void create_directories(const std::filesystem::path& folder, const char* what);

/// Removes the temporary files that writers killed mid-write (SIGKILL, power loss) left in `folder`: those of
/// processes that no longer run. Returns how many were removed.
std::size_t remove_stale_temporaries(const std::filesystem::path& folder);

/// Atomically replaces `path` with the `size` bytes at `data`.
void write_bytes_atomically(const std::filesystem::path& path, const void* data, std::size_t size);

}  // namespace clipmatch::io
