// libFuzzer target: the CSV reader (src/io/csv.cpp) and dataset loading with its train.txt split
// (src/io/dataset.cpp).
//
// Input layout: the bytes before the first NUL are movies.csv, the bytes after it train.txt; without a NUL
// there is no train.txt. (CSV text and row indices never need a NUL, so this costs the formats nothing.)
//
// 1. io::parse_csv on movies.csv directly; then the writer round trip: CsvWriter output parsed again must
//    give the same fields (the reader and writer are documented as inverse; check id "csv-round-trip").
// 2. load_dataset on a scratch folder holding the two files, with check_posters_exist = false (no poster
//    files exist), once with skip_bad_rows = false and once with true; checks that train indices are
//    ascending, in range and unique, and that heldout() is their complement.
#include <clipmatch/dataset.hpp>

#include "fuzz_common.hpp"
#include "io/csv.hpp"

#include <cstring>
#include <sstream>

namespace {

void csv_round_trip(const std::vector<clipmatch::io::CsvRecord>& records) {
  std::ostringstream out;
  clipmatch::io::CsvWriter writer(out);
  for (const auto& record : records) writer.write_row(record.fields);
  std::vector<clipmatch::io::CsvRecord> again;
  try {
    again = clipmatch::io::parse_csv(out.str(), "rewritten");
  } catch (const clipmatch::Error& e) {
    fuzz::finding("CsvWriter output is rejected by parse_csv", e.what());
  }
  FUZZ_CHECK_ID("csv-round-trip", again.size() == records.size(),
                "CSV round trip changed the record count from " + std::to_string(records.size()) + " to " +
                    std::to_string(again.size()));
  for (std::size_t i = 0; i < records.size() && i < again.size(); ++i) {
    FUZZ_CHECK_ID("csv-round-trip", again[i].fields == records[i].fields,
                  "CSV round trip changed record " + std::to_string(i));
  }
}

void check_dataset(const clipmatch::Dataset& dataset, const clipmatch::DatasetReport& report) {
  FUZZ_CHECK(report.rows_skipped <= report.rows_read, "more rows skipped than read");
  FUZZ_CHECK(dataset.movies.size() + report.rows_skipped == report.rows_read, "movies + skipped != rows read");
  for (std::size_t i = 0; i < dataset.train.size(); ++i) {
    FUZZ_CHECK(dataset.train[i] < dataset.movies.size(), "train index out of range");
    if (i > 0) FUZZ_CHECK(dataset.train[i - 1] < dataset.train[i], "train indices not strictly ascending");
  }
  const std::vector<std::size_t> held = dataset.heldout();
  FUZZ_CHECK(held.size() + dataset.train.size() == dataset.movies.size(), "heldout is not the complement of train");
  for (const auto& movie : dataset.movies) {
    FUZZ_CHECK(!movie.poster.empty() && !movie.intro.empty(), "a loaded movie has an empty poster or intro");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  const void* nul = std::memchr(data, 0, size);
  const std::size_t csv_size = nul ? static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - data) : size;
  const std::string_view csv(text, csv_size);

  fuzz::guarded("parse_csv", [&] { csv_round_trip(clipmatch::io::parse_csv(csv, "movies.csv")); });

  const auto& dir = fuzz::scratch_dir();
  fuzz::write_file(dir / "movies.csv", csv);
  std::error_code ec;
  if (nul) {
    fuzz::write_file(dir / "train.txt", std::string_view(text + csv_size + 1, size - csv_size - 1));
  } else {
    std::filesystem::remove(dir / "train.txt", ec);
  }
  for (const bool skip : {false, true}) {
    clipmatch::DatasetOptions options;
    options.check_posters_exist = false;
    options.skip_bad_rows = skip;
    fuzz::guarded(skip ? "load_dataset(skip_bad_rows)" : "load_dataset", [&] {
      clipmatch::DatasetReport report;
      const clipmatch::Dataset dataset = clipmatch::load_dataset(dir.string(), options, &report);
      FUZZ_CHECK(report.has_split == (nul != nullptr), "has_split disagrees with the presence of train.txt");
      check_dataset(dataset, report);
    });
  }
  return 0;
}
