// RFC 4180 records from UTF-8 text, with the line each record starts on so
// errors can say "file:line". Tolerant where Excel and Moodle are (CRLF, LF
// or CR line ends, a quote inside an unquoted field), strict where guessing
// would lose data (a quote left open swallows the rest of the file).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace relance::csv {

struct Record {
  std::vector<std::string> fields;
  int line = 0;  // physical line (1-based) where the record starts
  // The first field longer than the reader's limit (-1: none) and its real
  // length; only its first `max_field_bytes` bytes are in `fields`.
  int too_long_field = -1;
  std::size_t too_long_bytes = 0;
};

// More than any value of a learner's row (bot/domain/learner_fields.hpp),
// few enough that a 50 MB cell is never copied.
inline constexpr std::size_t default_max_field_bytes = 64 * 1024;

// `,`, `;` or tab: the one that splits the first lines into the same number
// (more than one) of fields; `,` when nothing splits.
char detect_separator(std::string_view text);

class Reader {
public:
  // `text` must outlive the reader. A leading UTF-8 BOM is skipped.
  // A field longer than `max_field_bytes` is read past, not copied: the
  // record says so (Record::too_long_field) and reading goes on.
  Reader(std::string_view text, char separator, std::size_t max_field_bytes = default_max_field_bytes);

  enum class Status { record, end, error };
  // Reads the next record into `r` (its storage is reused). Lines that are
  // completely empty are skipped. On `error`, error() says why (in French)
  // and error_line() where; the reader cannot resynchronise after it.
  Status next(Record& r);
  const std::string& error() const { return error_; }
  int error_line() const { return error_line_; }

private:
  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
  char sep_;
  std::size_t max_field_;
  std::string error_;
  int error_line_ = 0;
};

// Every record of `text` (tests and small files). Throws std::runtime_error
// with "ligne N : reason" on a malformed file.
std::vector<Record> read_all(std::string_view text, char separator);

}  // namespace relance::csv
