// RFC 4180 CSV: a reader that keeps track of physical line numbers for error messages, and a writer that
// quotes only where needed.
//
// Reader rules: fields separated by ',', records by CRLF, LF or a lone CR; a field that starts with '"' is
// quoted and may hold ',', '"' (written "") and line breaks, kept verbatim; a UTF-8 byte-order mark at the
// start is dropped; entirely empty lines are skipped (they cannot be told apart from a one-column record
// with an empty value, and every file we read has several columns). A quote inside an unquoted field, a
// character after a closing quote, or a quote left open at the end of the text is an error that names the
// source and the line.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace clipmatch::io {

struct CsvRecord {
  std::vector<std::string> fields;
  std::size_t line = 0;  ///< 1-based physical line on which the record starts
};

/// Parses `text`; `source` (usually the file path) is only used in error messages.
std::vector<CsvRecord> parse_csv(std::string_view text, const std::string& source);

/// Reads and parses the file at `path`; throws clipmatch::Error (Io) when it cannot be read.
std::vector<CsvRecord> read_csv_file(const std::string& path);

/// `field` as it must appear in a CSV file: verbatim, or quoted with "" escapes when it contains ',', '"',
/// a line break, or leading/trailing spaces.
std::string csv_quote(std::string_view field);

/// Writes records with CRLF line ends (as RFC 4180 asks); fields are quoted by csv_quote.
class CsvWriter {
 public:
  explicit CsvWriter(std::ostream& out) : out_(out) {}
  void write_row(const std::vector<std::string>& fields);

 private:
  std::ostream& out_;
};

}  // namespace clipmatch::io
