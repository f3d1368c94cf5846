// Precompiled header for the library: LibTorch's headers dominate compile time (~30 s per file otherwise).
#pragma once
#include <torch/torch.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
