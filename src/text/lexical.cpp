#include "text/lexical.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace clipmatch::text {

namespace {

const std::unordered_set<std::string>& stop_words() {
  static const std::unordered_set<std::string> words{
      "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "her", "was", "one", "our", "out",
      "his", "has", "had", "him", "who", "its", "how", "now", "see", "way", "she", "did",
      "get", "let", "own", "say", "too", "use", "this", "that", "with", "have", "from", "they", "will", "what",
      "when", "your", "said", "each", "which", "their", "there", "about", "would", "these", "other", "into",
      "than", "then", "them", "some", "could", "only", "over", "also", "after", "where", "most", "more", "just",
      "like", "while", "very", "been", "were", "being", "both", "such", "here", "those", "through", "because",
      "upon", "must", "whom", "whose", "within", "without", "between", "during", "before", "again", "against",
      "under", "until", "off", "why", "yet", "nor", "ever", "every", "himself", "herself", "themselves", "itself",
      "should", "does", "doing", "done", "once", "soon", "even", "still", "many", "much", "well", "back", "down",
      "film", "movie", "finds", "becomes", "takes", "gets"};
  return words;
}

/// Length of the UTF-8 sequence a lead byte starts (1 for ASCII and for stray continuation bytes).
std::size_t sequence_length(unsigned char lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

/// Characters that never belong to a word: ASCII other than letters and digits, and the symbol and
/// punctuation blocks OCR of pictures is full of (U+0080–U+00BF: « » © °; U+2000–U+2FFF: dashes, quotes,
/// arrows, box drawing), whose UTF-8 sequences start with 0xC2 and 0xE2.
bool is_separator(unsigned char lead) {
  if (lead < 0x80) return !std::isalnum(lead);
  return lead == 0xC2 || lead == 0xE2;
}

/// Plural and common verb endings, so a poster's "WARS" meets a synopsis's "war". Deliberately light: a term
/// only loses an ending when at least three characters remain.
std::string stem_term(std::string term) {
  auto ends_with = [&](const char* suffix) {
    const std::size_t n = std::char_traits<char>::length(suffix);
    return term.size() >= n + 3 && term.compare(term.size() - n, n, suffix) == 0;
  };
  if (ends_with("ies")) return term.substr(0, term.size() - 3) + "y";
  if (ends_with("ing")) return term.substr(0, term.size() - 3);
  if (ends_with("ed")) return term.substr(0, term.size() - 2);
  if (ends_with("es") && (term[term.size() - 3] == 's' || term[term.size() - 3] == 'x')) return term.substr(0, term.size() - 2);
  if (ends_with("s") && term[term.size() - 2] != 's') return term.substr(0, term.size() - 1);
  return term;
}

}  // namespace

std::vector<std::string> lexical_terms(const std::string& text, bool stem) {
  std::vector<std::string> terms;
  std::string current;
  std::size_t characters = 0;
  auto flush = [&] {
    if (characters >= kMinTermLength && !stop_words().count(current)) terms.push_back(stem ? stem_term(current) : current);
    current.clear();
    characters = 0;
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = std::min(sequence_length(lead), text.size() - i);
    if (lead == '\'') {
      // Inside a word the apostrophe is dropped, so "Andy's" and "ANDYS" both give "andys" (stemmed: "andy").
    } else if (is_separator(lead)) {
      flush();
    } else {
      current += lead < 0x80 ? std::string(1, static_cast<char>(std::tolower(lead))) : text.substr(i, length);
      ++characters;
    }
    i += length;
  }
  flush();
  return terms;
}

Bm25Vectors bm25_vectors(const std::vector<std::vector<std::string>>& query_terms,
                         const std::vector<std::string>& documents, bool stem) {
  constexpr double k1 = 1.2, b = 0.75;
  std::vector<std::unordered_map<std::string, int>> counts(documents.size());
  std::unordered_map<std::string, int> document_frequency;
  double total_length = 0;
  std::vector<double> lengths(documents.size());
  for (std::size_t d = 0; d < documents.size(); ++d) {
    const auto terms = lexical_terms(documents[d], stem);
    lengths[d] = static_cast<double>(terms.size());
    total_length += lengths[d];
    for (const auto& term : terms) {
      if (counts[d][term]++ == 0) ++document_frequency[term];
    }
  }
  // The vocabulary: terms some query has that some document has, in sorted order (deterministic columns).
  std::map<std::string, std::int64_t> column;
  for (const auto& terms : query_terms)
    for (const auto& term : terms)
      if (document_frequency.count(term)) column.emplace(term, 0);
  std::int64_t next = 0;
  for (auto& [term, index] : column) index = next++;

  const auto n_docs = static_cast<std::int64_t>(documents.size());
  Bm25Vectors out;
  out.queries = torch::zeros({static_cast<std::int64_t>(query_terms.size()), next});
  out.documents = torch::zeros({n_docs, next});
  for (const auto& [term, index] : column) out.vocabulary.push_back(term);
  auto queries = out.queries.accessor<float, 2>();
  for (std::size_t q = 0; q < query_terms.size(); ++q)
    for (const auto& term : query_terms[q])
      if (const auto it = column.find(term); it != column.end()) queries[static_cast<std::int64_t>(q)][it->second] = 1;
  if (next == 0) return out;
  const double average_length = std::max(1.0, total_length / static_cast<double>(documents.size()));
  auto idf = [&](int df) { return std::log(1.0 + (n_docs - df + 0.5) / (df + 0.5)); };
  const double max_idf = idf(1);
  auto weights = out.documents.accessor<float, 2>();
  for (std::size_t d = 0; d < documents.size(); ++d) {
    const double norm = k1 * (1 - b + b * lengths[d] / average_length);
    for (const auto& [term, tf] : counts[d]) {
      const auto it = column.find(term);
      if (it == column.end()) continue;
      const double saturation = tf * (k1 + 1) / (tf + norm);
      weights[static_cast<std::int64_t>(d)][it->second] =
          static_cast<float>(idf(document_frequency[term]) * saturation / ((k1 + 1) * max_idf));
    }
  }
  return out;
}

}  // namespace clipmatch::text
