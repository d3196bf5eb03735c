// Fuzz target: CSV bytes as an administrator's Excel or Moodle produces them.
// Decoding, separator detection and reading must end in records or a clear
// error with a line number, never a crash.
#include "messages/text/utf8.hpp"
#include "adapters/lms/csv/csv_reader.hpp"
#include "adapters/lms/csv/encoding.hpp"
#include "adapters/lms/csv/relative_time.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const relance::csv::Decoded d = relance::csv::decode_to_utf8(bytes);
  if (!d.ok()) {
    if (d.error_line < 0) std::abort();
    return 0;
  }
  if (!relance::text::is_valid_utf8(d.text)) std::abort();  // decoding yields UTF-8
  const char sep = relance::csv::detect_separator(d.text);
  if (sep != ',' && sep != ';' && sep != '\t') std::abort();
  relance::csv::Reader reader(d.text, sep);
  relance::csv::Record r;
  int last_line = 0;
  for (;;) {
    const auto st = reader.next(r);
    if (st == relance::csv::Reader::Status::end) break;
    if (st == relance::csv::Reader::Status::error) {
      if (reader.error().empty() || reader.error_line() < 1) std::abort();
      break;
    }
    if (r.line < last_line) std::abort();  // line numbers never go back
    last_line = r.line;
    for (const auto& f : r.fields) {
      const auto la = relance::csv::parse_last_access(f);
      if (la.ok() && !la.never && la.seconds_ago < 0) std::abort();
    }
  }
  return 0;
}
