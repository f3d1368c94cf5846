// clipmatch index / clipmatch search: a FAISS catalog index over poster (or intro) embeddings, and queries
// against it in either direction.
#include "commands.hpp"

#include <clipmatch/array_io.hpp>
#include <clipmatch/catalog.hpp>
#include <clipmatch/dataset.hpp>
#include <clipmatch/error.hpp>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

namespace clipmatch::cli {

namespace {

namespace fs = std::filesystem;

std::optional<Model> load_model(const std::string& path, Device device) {
  if (path.empty()) return std::nullopt;
  return Model::load(path, device);
}

Model& require_model(std::optional<Model>& model, const char* what) {
  if (!model) throw Error(ErrorKind::InvalidArgument, std::string(what) + " needs --model RUN to embed it");
  return *model;
}

/// A CSV field in quotes, inner quotes doubled (RFC 4180).
std::string csv_quoted(const std::string& field) {
  std::string out = "\"";
  for (const char c : field) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::vector<std::string> row_numbers(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(std::to_string(i));
  return out;
}

}  // namespace

void register_index(CLI::App& app, Action& action) {
  struct Args {
    std::string model, posters, data, intros, embeddings, out;
    bool index_intros = false;
    Device device = Device::Auto;
    CatalogIndexOptions options;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("index", "Build a FAISS catalog index of poster (or intro) embeddings for search");
  cmd->add_option("--model", args->model, "Trained run folder or model.safetensors that embeds the catalog");
  cmd->add_option("--posters", args->posters, "Folder of poster images (ids: file names)");
  cmd->add_option("--data", args->data, "Dataset folder: its posters (or --intros-side: intros), ids and titles from movies.csv");
  cmd->add_flag("--intros-side", args->index_intros, "With --data: index the intros, so a poster finds intros");
  cmd->add_option("--intros", args->intros, "movies.csv or a text file, one intro per line (an intro index; ids: row numbers)");
  cmd->add_option("--embeddings", args->embeddings, "Ready embeddings, float32 [N, D] .npy, L2-normalised (ids: row numbers)");
  cmd->add_option("--out", args->out, "Index folder to write (index.faiss + catalog.json)")->required();
  add_enum_option(*cmd, "--kind", args->options.kind, "Index kind");
  cmd->add_option("--hnsw-m", args->options.hnsw_neighbors, "HNSW links per node")->capture_default_str();
  cmd->add_option("--ef-construction", args->options.hnsw_ef_construction, "HNSW build candidate list")->capture_default_str();
  cmd->add_option("--ef-search", args->options.hnsw_ef_search, "HNSW search candidate list")->capture_default_str();
  cmd->add_option("--ivf-lists", args->options.ivf_lists, "IVF lists (0 = 4·sqrt(N))")->capture_default_str();
  cmd->add_option("--nprobe", args->options.ivf_probes, "IVF lists visited per query")->capture_default_str();
  cmd->add_option("--pq-bytes", args->options.pq_bytes, "PQ bytes per row")->capture_default_str();
  add_device_option(*cmd, args->device);
  cmd->callback([args, &action] {
    action = [args] {
      const auto& a = *args;
      const int sources = !a.posters.empty() + !a.data.empty() + !a.intros.empty() + !a.embeddings.empty();
      if (sources != 1) throw Error(ErrorKind::InvalidArgument, "give exactly one of --posters, --data, --intros, --embeddings");
      auto model = load_model(a.model, a.device);
      Matrix rows;
      std::vector<std::string> ids, titles;
      if (!a.embeddings.empty()) {
        rows = load_npy(a.embeddings);
        ids = row_numbers(static_cast<std::size_t>(rows.rows()));
      } else if (!a.posters.empty()) {
        const auto files = poster_files(a.posters);
        rows = require_model(model, "--posters").encode_posters(files, EncodeOptions{});
        for (const auto& f : files) ids.push_back(fs::path(f).filename().string());
      } else if (!a.intros.empty()) {
        const auto intros = read_intros(a.intros);
        rows = require_model(model, "--intros").encode_intros(intros, EncodeOptions{});
        ids = row_numbers(intros.size());
      } else {
        DatasetOptions data_options;
        const auto data = load_dataset(a.data, data_options);
        std::vector<std::string> items;
        for (const auto& movie : data.movies) {
          items.push_back(a.index_intros ? movie.intro : movie.poster);
          ids.push_back(movie.movie_id.empty() ? std::to_string(movie.row) : movie.movie_id);
          titles.push_back(movie.title);
        }
        auto& m = require_model(model, "--data");
        rows = a.index_intros ? m.encode_intros(items, EncodeOptions{}) : m.encode_posters(items, EncodeOptions{});
      }
      const auto start = std::chrono::steady_clock::now();
      const auto index = CatalogIndex::build(rows, std::move(ids), std::move(titles), a.options);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      index.save(a.out);
      fmt::print("indexed {} rows of width {} ({}) in {:.2f} s → {}\n", index.size(), index.dim(), to_name(index.kind()),
                 seconds, a.out);
    };
  });
}

void register_search(CLI::App& app, Action& action) {
  struct Args {
    std::string index, model, intro, intros, poster, posters, queries, out;
    std::size_t k = 10;
    int ef_search = 0, nprobe = 0;
    Device device = Device::Auto;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("search", "Query a catalog index: intros find posters, posters find intros");
  cmd->add_option("--index", args->index, "Index folder written by clipmatch index")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--model", args->model, "The run that embedded the catalog (embeds the queries)");
  cmd->add_option("--intro", args->intro, "One intro text");
  cmd->add_option("--intros", args->intros, "movies.csv or a text file, one intro per line");
  cmd->add_option("--poster", args->poster, "One poster image");
  cmd->add_option("--posters", args->posters, "Folder of poster images");
  cmd->add_option("--queries", args->queries, "Ready query embeddings, float32 [Q, D] .npy");
  cmd->add_option("-k", args->k, "Matches per query")->capture_default_str();
  cmd->add_option("--ef-search", args->ef_search, "HNSW candidate list for these queries (0 = the index's own)");
  cmd->add_option("--nprobe", args->nprobe, "IVF lists visited for these queries (0 = the index's own)");
  cmd->add_option("--out", args->out, "Write the matches as CSV (query,rank,row,id,title,distance) instead of printing");
  add_device_option(*cmd, args->device);
  cmd->callback([args, &action] {
    action = [args] {
      const auto& a = *args;
      const int sources = !a.intro.empty() + !a.intros.empty() + !a.poster.empty() + !a.posters.empty() + !a.queries.empty();
      if (sources != 1) {
        throw Error(ErrorKind::InvalidArgument, "give exactly one of --intro, --intros, --poster, --posters, --queries");
      }
      auto index = CatalogIndex::load(a.index);
      if (a.ef_search > 0 || a.nprobe > 0) {
        CatalogIndexOptions effort;
        effort.hnsw_ef_search = a.ef_search > 0 ? a.ef_search : effort.hnsw_ef_search;
        effort.ivf_probes = a.nprobe > 0 ? a.nprobe : effort.ivf_probes;
        index.set_search_options(effort);
      }
      auto model = load_model(a.model, a.device);
      Matrix queries;
      std::vector<std::string> names;
      if (!a.queries.empty()) {
        queries = load_npy(a.queries);
        names = row_numbers(static_cast<std::size_t>(queries.rows()));
      } else if (!a.intro.empty() || !a.intros.empty()) {
        const auto texts = a.intro.empty() ? read_intros(a.intros) : std::vector<std::string>{a.intro};
        queries = require_model(model, "an intro query").encode_intros(texts, EncodeOptions{});
        names = a.intro.empty() ? row_numbers(texts.size()) : std::vector<std::string>{a.intro.substr(0, 40)};
      } else {
        const auto files = a.poster.empty() ? poster_files(a.posters) : std::vector<std::string>{a.poster};
        queries = require_model(model, "a poster query").encode_posters(files, EncodeOptions{});
        for (const auto& f : files) names.push_back(fs::path(f).filename().string());
      }
      const auto start = std::chrono::steady_clock::now();
      const auto hits = index.search(queries, a.k);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      auto field = [](const std::vector<std::string>& v, std::int64_t i) {
        return v.empty() || i < 0 ? std::string() : v[static_cast<std::size_t>(i)];
      };
      std::string lines = "query,rank,row,id,title,distance\n";
      for (std::size_t q = 0; q < hits.queries; ++q) {
        for (std::size_t r = 0; r < hits.k; ++r) {
          const auto row = hits.indices[q * hits.k + r];
          if (row < 0) continue;
          lines += fmt::format("{},{},{},{},{},{:.6f}\n", csv_quoted(names[q]), r + 1, row, csv_quoted(field(index.ids(), row)),
                               csv_quoted(field(index.titles(), row)), hits.distances[q * hits.k + r]);
        }
      }
      if (a.out.empty()) {
        fmt::print("{}", lines);
      } else {
        std::ofstream(a.out, std::ios::binary) << lines;
      }
      fmt::print(stderr, "{} queries × k {} against {} rows ({}) in {:.2f} ms\n", hits.queries, hits.k, index.size(),
                 to_name(index.kind()), ms);
    };
  });
}

}  // namespace clipmatch::cli
