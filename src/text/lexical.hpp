// The lexical side of the poster-text channel: the words a poster prints, scored against intros with BM25.
//
// Terms are runs of letters and digits, lower-cased (ASCII; other letters are kept as they are), apostrophes
// dropped, at least `kMinTermLength` characters long, without English stop words, and optionally stemmed (plural and -ing/-ed endings
// removed, so "Wars" on a poster meets "war" in a synopsis). Scores are dot products of two matrices over one
// shared vocabulary, so the channel joins the visual embeddings as extra columns (model/text_channel.hpp).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace clipmatch::text {

/// Shorter terms are dropped: OCR of pictures yields many one- and two-letter fragments.
inline constexpr std::size_t kMinTermLength = 3;

/// The terms of `text` in order (repeats kept).
std::vector<std::string> lexical_terms(const std::string& text, bool stem);

/// BM25 scores of queries (the term lists of posters) against documents (intros) as a product of two
/// matrices: queries [Q, V] (1 where a query has the term) and documents [D, V] (the term's BM25 weight in
/// the document, k1 = 1.2, b = 0.75, divided by the largest possible idf so one rare shared term scores
/// about 1). V = the terms that occur in some query and in some document (possibly 0).
struct Bm25Vectors {
  torch::Tensor queries;    ///< [Q, V] float32
  torch::Tensor documents;  ///< [D, V] float32
  std::vector<std::string> vocabulary;
};

Bm25Vectors bm25_vectors(const std::vector<std::vector<std::string>>& query_terms,
                         const std::vector<std::string>& documents, bool stem);

}  // namespace clipmatch::text
