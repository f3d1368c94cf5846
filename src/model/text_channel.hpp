// The poster-text channel (clipmatch/ocr.hpp): OCR words of the posters scored against the intros with BM25,
// joined to the visual embeddings as extra columns scaled by √w, so every consumer of embeddings — the chunked
// distance matrix, ranks, top-k, heatmap — computes cos + w·bm25 without knowing about the channel.
#pragma once

#include "ocr/read_posters.hpp"
#include "text/lexical.hpp"

#include <clipmatch/ocr.hpp>

#include <torch/torch.h>

#include <string>
#include <vector>

namespace clipmatch::model {

struct TextChannel {
  std::vector<PosterText> poster_text;  ///< confident words of each poster
  text::Bm25Vectors vectors;            ///< queries = posters, documents = intros
};

/// Reads the posters (OCR cache in options.cache_dir) and builds the BM25 vectors against `intros`.
TextChannel build_text_channel(const std::vector<std::string>& posters, const std::vector<std::string>& intros,
                               const OcrOptions& options, bool verbose, ocr::ReadStats* stats = nullptr);

struct FusedEmbeddings {
  torch::Tensor posters, intros;
};

/// [posters | √w·queries] and [intros | √w·documents] on the embeddings' device: their dot products are
/// cos + w·bm25. Row i of posters and queries is one poster, row j of intros and documents one intro.
FusedEmbeddings fuse(const torch::Tensor& posters, const torch::Tensor& intros, const text::Bm25Vectors& lexical,
                     double weight);

/// Rows `rows` of the channel's vectors (a calibration slice).
text::Bm25Vectors select_rows(const text::Bm25Vectors& lexical, const std::vector<std::size_t>& rows);

/// One point of the fusion-weight search: w and the mean reciprocal rank of both directions it gave.
struct FusionTrial {
  double weight = 0;
  double mean_reciprocal_rank = 0;
  double mean_r1 = 0;
};

/// The w of a fixed grid (0 … 50) with the best mean R@1 of both directions, the movies of the arguments
/// matched among themselves; ties go to the better mean reciprocal rank, then to the middle of the tied
/// weights. Every trial goes to `trials`.
double learn_fusion_weight(const torch::Tensor& posters, const torch::Tensor& intros, const text::Bm25Vectors& lexical,
                           std::vector<FusionTrial>* trials = nullptr);

}  // namespace clipmatch::model
