// distances.npy written straight from the chunked distance computation, so N = 50,000 (10 GB) never sits in
// memory at once.
#pragma once

#include "eval/similarity.hpp"

#include <filesystem>

namespace clipmatch::eval {

/// Writes the float32 poster × intro distance matrix as a C-order '<f4' .npy (format 1.0) atomically,
/// streaming `chunk_rows` rows at a time. Readable by numpy.load and io::read_npy.
void write_distance_npy(const std::filesystem::path& path, const torch::Tensor& posters, const torch::Tensor& intros,
                        DistanceKind kind = DistanceKind::OneMinusCosine, std::int64_t chunk_rows = kDefaultChunkRows);

}  // namespace clipmatch::eval
