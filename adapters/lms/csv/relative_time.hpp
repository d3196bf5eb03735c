// Moodle's "Dernier accès" / "Last access to course" column: a duration
// written by format_time() relative to when the page was exported, e.g.
// "Jamais", "23 jours", "5 min 1 s", "1 an 2 jours", "maintenant",
// "Never", "5 mins 1 sec", "1 year 2 days".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace relance::csv {

struct LastAccess {
  bool never = false;             // "Jamais" / "Never"
  std::int64_t seconds_ago = 0;   // when not never
  std::string error;              // in French, naming the value, when unreadable
  bool ok() const { return error.empty(); }
};

// Case- and accent-insensitive, French and English units, singular and plural.
// A year is 365 days, as in Moodle's format_time(). Anything else (including
// an empty value) is an error that quotes the value.
LastAccess parse_last_access(std::string_view value);

}  // namespace relance::csv
