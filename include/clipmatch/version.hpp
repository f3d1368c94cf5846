// clipmatch — library version and a description of the build it runs on.
#pragma once

#include <clipmatch/export.h>

#include <string>

namespace clipmatch {

/// The library version, "MAJOR.MINOR.PATCH".
CLIPMATCH_API std::string version();

/// One line naming the LibTorch version, whether CUDA is usable and how many CPU threads compute uses.
CLIPMATCH_API std::string build_info();

}  // namespace clipmatch
