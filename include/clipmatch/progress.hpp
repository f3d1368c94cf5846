// clipmatch — the progress callback every long call accepts.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace clipmatch {

/// Progress of a long call: `stage` names the work ("encode posters", "encode intros", "train", …), `done` of
/// `total` units are finished. Called on the thread that made the call. Return true to go on, false to cancel:
/// the call then throws clipmatch::Error of kind ErrorKind::Cancelled.
using ProgressCallback = std::function<bool(const std::string& stage, std::size_t done, std::size_t total)>;

}  // namespace clipmatch
