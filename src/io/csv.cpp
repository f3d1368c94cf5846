#include "io/csv.hpp"

#include "core/fail.hpp"

#include <fstream>
#include <sstream>

namespace clipmatch::io {

namespace {

bool is_line_break(char c) { return c == '\n' || c == '\r'; }

/// Consumes one line break at `pos` (CRLF counts as one) and returns the position after it.
std::size_t skip_line_break(std::string_view text, std::size_t pos) {
  if (text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') return pos + 2;
  return pos + 1;
}

}  // namespace

std::vector<CsvRecord> parse_csv(std::string_view text, const std::string& source) {
  constexpr std::string_view bom = "\xEF\xBB\xBF";
  if (text.substr(0, bom.size()) == bom) text.remove_prefix(bom.size());

  std::vector<CsvRecord> records;
  std::size_t pos = 0;
  std::size_t line = 1;
  while (pos < text.size()) {
    if (is_line_break(text[pos])) {  // an empty line
      pos = skip_line_break(text, pos);
      ++line;
      continue;
    }
    CsvRecord record;
    record.line = line;
    bool record_done = false;
    while (!record_done) {
      std::string field;
      if (pos < text.size() && text[pos] == '"') {
        const std::size_t quote_line = line;
        ++pos;
        bool closed = false;
        while (pos < text.size()) {
          const char c = text[pos];
          if (c == '"') {
            if (pos + 1 < text.size() && text[pos + 1] == '"') {
              field += '"';
              pos += 2;
              continue;
            }
            ++pos;
            closed = true;
            break;
          }
          if (is_line_break(c)) {
            const std::size_t next = skip_line_break(text, pos);
            field.append(text.substr(pos, next - pos));
            pos = next;
            ++line;
            continue;
          }
          field += c;
          ++pos;
        }
        if (!closed) {
          fail(ErrorKind::Format, "{}: line {}: quoted field is never closed (unterminated quote)", source,
               quote_line);
        }
        if (pos < text.size() && text[pos] != ',' && !is_line_break(text[pos])) {
          fail(ErrorKind::Format, "{}: line {}: unexpected character '{}' after a closing quote", source, line,
               text[pos]);
        }
      } else {
        while (pos < text.size() && text[pos] != ',' && !is_line_break(text[pos])) {
          if (text[pos] == '"') {
            fail(ErrorKind::Format, "{}: line {}: stray quote inside an unquoted field (quote the field and "
                 "double the quote)", source, line);
          }
          field += text[pos];
          ++pos;
        }
      }
      record.fields.push_back(std::move(field));
      if (pos >= text.size()) {
        record_done = true;
      } else if (text[pos] == ',') {
        ++pos;
      } else {  // a line break ends the record
        pos = skip_line_break(text, pos);
        ++line;
        record_done = true;
      }
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<CsvRecord> read_csv_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "{}: cannot open CSV file", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail(ErrorKind::Io, "{}: read error", path);
  return parse_csv(buffer.str(), path);
}

std::string csv_quote(std::string_view field) {
  // A leading byte-order mark would be stripped by the reader (it takes one at the start of a file for a BOM).
  const bool starts_with_bom = field.substr(0, 3) == "\xEF\xBB\xBF";
  const bool needs_quotes = field.find_first_of(",\"\r\n") != std::string_view::npos ||
                            (!field.empty() && (field.front() == ' ' || field.back() == ' ')) || starts_with_bom;
  if (!needs_quotes) return std::string(field);
  std::string quoted = "\"";
  for (char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

void CsvWriter::write_row(const std::vector<std::string>& fields) {
  // A lone empty field would be an empty line, which the reader skips.
  if (fields.size() == 1 && fields[0].empty()) {
    out_ << "\"\"\r\n";
    return;
  }
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out_ << ',';
    out_ << csv_quote(fields[i]);
  }
  out_ << "\r\n";
}

}  // namespace clipmatch::io
