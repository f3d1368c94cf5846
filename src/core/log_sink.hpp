// Internal side of the log sink: whether a host installed its own (then terminal-only output such as redrawn
// progress bars is replaced by plain lines sent to it).
#pragma once

#include <clipmatch/log.hpp>

namespace clipmatch {

bool has_custom_log_sink();

}  // namespace clipmatch
