#include "io/csv.hpp"

#include <clipmatch/error.hpp>

#include <sstream>

#include "test_support.hpp"

using clipmatch::io::parse_csv;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_csv(text, "in.csv");
  } catch (const clipmatch::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("csv: plain records, empty fields and line numbers", "[csv]") {
  const auto records = parse_csv("a,b,c\n1,,3\n,,\n", "in.csv");
  REQUIRE(records.size() == 3);
  CHECK(records[1].fields == std::vector<std::string>{"1", "", "3"});
  CHECK(records[2].fields == std::vector<std::string>{"", "", ""});
  CHECK(records[0].line == 1);
  CHECK(records[2].line == 3);
}

TEST_CASE("csv: quoted fields with commas, doubled quotes and embedded line breaks", "[csv]") {
  const auto records = parse_csv("id,text\r\n1,\"a, b\"\r\n2,\"say \"\"hi\"\"\"\r\n3,\"two\r\nlines\"\r\n"
                                 "4,\"lf\nonly\"\n5,\"\"\n6,last",
                                 "in.csv");
  REQUIRE(records.size() == 7);
  CHECK(records[1].fields[1] == "a, b");
  CHECK(records[2].fields[1] == "say \"hi\"");
  CHECK(records[3].fields[1] == "two\r\nlines");
  CHECK(records[4].fields[1] == "lf\nonly");
  CHECK(records[5].fields[1].empty());
  CHECK(records[6].fields == std::vector<std::string>{"6", "last"});
  // The record after a two-line field starts two lines further down.
  CHECK(records[3].line == 4);
  CHECK(records[4].line == 6);
  CHECK(records[5].line == 8);
}

TEST_CASE("csv: BOM is stripped, blank lines skipped, UTF-8 kept", "[csv]") {
  const auto records = parse_csv("\xEF\xBB\xBFposter,intro\n\nx.jpg,Caf\xC3\xA9 \xE2\x98\x85\n\n", "in.csv");
  REQUIRE(records.size() == 2);
  CHECK(records[0].fields[0] == "poster");
  CHECK(records[1].fields[1] == "Caf\xC3\xA9 \xE2\x98\x85");
  CHECK(records[1].line == 3);
}

TEST_CASE("csv: malformed quoting is an error naming the source and line", "[csv]") {
  const std::string unterminated = error_of("a,b\n1,2\n3,\"never closed\n4,5\n");
  CHECK_THAT(unterminated, Catch::Contains("in.csv: line 3") && Catch::Contains("unterminated"));
  CHECK_THAT(error_of("a,b\n1,x\"y\n"), Catch::Contains("in.csv: line 2") && Catch::Contains("stray quote"));
  CHECK_THAT(error_of("a,b\n\"q\"x,1\n"), Catch::Contains("in.csv: line 2") && Catch::Contains("after a closing"));
}

TEST_CASE("csv: writer output reads back identically", "[csv]") {
  const std::vector<std::vector<std::string>> rows = {
      {"plain", "with,comma", "with \"quote\"", "multi\nline", " padded ", ""}, {""}, {"x", "y\r\nz"}};
  std::ostringstream out;
  clipmatch::io::CsvWriter writer(out);
  for (const auto& row : rows) writer.write_row(row);
  CHECK(clipmatch::io::csv_quote("plain") == "plain");
  CHECK(clipmatch::io::csv_quote("a\"b") == "\"a\"\"b\"");
  const auto records = parse_csv(out.str(), "round-trip");
  REQUIRE(records.size() == rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) CHECK(records[i].fields == rows[i]);
}

TEST_CASE("csv: a missing file is an Io error naming it", "[csv]") {
  try {
    clipmatch::io::read_csv_file("/nonexistent/movies.csv");
    FAIL("no error");
  } catch (const clipmatch::Error& e) {
    CHECK(e.kind() == clipmatch::ErrorKind::Io);
    CHECK_THAT(e.what(), Catch::Contains("/nonexistent/movies.csv"));
  }
}
