#include "eval/metrics_json.hpp"

#include "core/fail.hpp"
#include "io/atomic_file.hpp"

#include <array>

namespace clipmatch::eval {

namespace {

nlohmann::ordered_json retrieval_json(const RetrievalMetrics& m) {
  nlohmann::ordered_json j;
  j["r1"] = m.r1;
  j["r5"] = m.r5;
  j["r10"] = m.r10;
  j["median_rank"] = m.median_rank;
  j["mean_rank"] = m.mean_rank;
  return j;
}

}  // namespace

nlohmann::ordered_json split_json(const SplitMetrics& m) {
  nlohmann::ordered_json j;
  j["n"] = m.n;
  j["acc_dim0"] = m.acc_dim0;
  j["acc_dim1"] = m.acc_dim1;
  j["poster_to_intro"] = retrieval_json(m.poster_to_intro);
  j["intro_to_poster"] = retrieval_json(m.intro_to_poster);
  return j;
}

SplitMetrics split_from_json(const nlohmann::json& json, const std::string& where) {
  try {
    auto direction = [](const nlohmann::json& d) {
      return RetrievalMetrics{d.at("r1").get<double>(), d.at("r5").get<double>(), d.at("r10").get<double>(),
                              d.at("median_rank").get<double>(), d.at("mean_rank").get<double>()};
    };
    SplitMetrics m;
    m.n = json.at("n").get<std::size_t>();
    m.acc_dim0 = json.at("acc_dim0").get<double>();
    m.acc_dim1 = json.at("acc_dim1").get<double>();
    m.poster_to_intro = direction(json.at("poster_to_intro"));
    m.intro_to_poster = direction(json.at("intro_to_poster"));
    return m;
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::Format, "{}: bad split metrics: {}", where, e.what());
  }
}

nlohmann::ordered_json metrics_to_json(std::size_t n, DistanceKind kind, const SplitMetricsMap& splits) {
  nlohmann::ordered_json j;
  j["n"] = n;
  j["distance"] = distance_name(kind);
  nlohmann::ordered_json by_name = nlohmann::ordered_json::object();
  static constexpr std::array<const char*, 3> kKnown{"all", "train", "heldout"};
  for (const char* name : kKnown) {
    if (const auto it = splits.find(name); it != splits.end()) by_name[name] = split_json(it->second);
  }
  for (const auto& [name, metrics] : splits) {
    if (!by_name.contains(name)) by_name[name] = split_json(metrics);
  }
  j["splits"] = std::move(by_name);
  return j;
}

void write_metrics_json(const std::filesystem::path& path, std::size_t n, DistanceKind kind,
                        const SplitMetricsMap& splits) {
  const std::string text = metrics_to_json(n, kind, splits).dump(2) + "\n";
  io::write_bytes_atomically(path, text.data(), text.size());
}

}  // namespace clipmatch::eval
