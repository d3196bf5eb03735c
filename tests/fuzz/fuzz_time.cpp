// Fuzz target: ISO 8601 times and dates (CLI --now/--as-of, API events,
// config dates). A time that parses must format back to the same instant.
#include "bot/domain/time.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  static const relance::FixedOffsetZone paris{std::chrono::minutes{60}};
  if (auto t = relance::parse_iso_time(s, paris)) {
    // Round trip, except within a day of the lowest year accepted (an offset
    // can move 1900-01-01 local into 1899 UTC, which is refused).
    const auto back = relance::parse_iso_time(relance::format_utc(*t), paris);
    const bool edge = *t < relance::Timestamp{std::chrono::sys_days{std::chrono::year{1900} / 1 / 2}};
    if (!edge && (!back || *back != *t)) std::abort();
  }
  if (auto d = relance::parse_iso_date(s)) {
    const auto back = relance::parse_iso_date(relance::format_date(*d));
    if (!back || *back != *d) std::abort();
  }
  return 0;
}
