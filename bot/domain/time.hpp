// Time in the core: UTC instants in, local calendar decisions through a
// ZoneRules the caller provides (the app implements it with date/tz, tests
// may use a fixed offset). Nothing here reads a clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance {

using Timestamp = std::chrono::sys_seconds;
using LocalTime = std::chrono::local_seconds;

inline Timestamp from_unix(std::int64_t s) { return Timestamp{std::chrono::seconds{s}}; }
inline std::int64_t to_unix(Timestamp t) { return t.time_since_epoch().count(); }

// The organisation's time zone. Implementations must be correct across DST.
class ZoneRules {
public:
  virtual ~ZoneRules() = default;
  virtual LocalTime to_local(Timestamp t) const = 0;
  // The UTC instant of a local wall-clock time. A time skipped by a spring
  // DST gap maps to the first instant after the gap; an ambiguous autumn time
  // maps to its earliest instant.
  virtual Timestamp to_utc(LocalTime l) const = 0;
  virtual std::string name() const = 0;
};

// A zone with a constant offset from UTC (tests, or organisations on UTC).
class FixedOffsetZone final : public ZoneRules {
public:
  explicit FixedOffsetZone(std::chrono::minutes offset = std::chrono::minutes{0}) : offset_(offset) {}
  LocalTime to_local(Timestamp t) const override { return LocalTime{t.time_since_epoch() + offset_}; }
  Timestamp to_utc(LocalTime l) const override { return Timestamp{l.time_since_epoch() - offset_}; }
  std::string name() const override;

private:
  std::chrono::minutes offset_;
};

// French public holidays (jours fériés) of a year, from the law's list:
// 1 Jan, Easter Monday, 1 May, 8 May, Ascension, Whit Monday, 14 Jul,
// 15 Aug, 1 Nov, 11 Nov, 25 Dec; with `alsace_moselle`, Good Friday and 26 Dec.
std::vector<std::chrono::year_month_day> french_public_holidays(std::chrono::year y, bool alsace_moselle = false);
std::chrono::year_month_day easter_sunday(std::chrono::year y);

// When learners may be messaged. Quiet from `quiet_start` to `quiet_end`
// local time (the window may cross midnight), all day on closed weekdays and
// on public holidays.
struct ContactWindow {
  std::chrono::minutes quiet_start{20 * 60};
  std::chrono::minutes quiet_end{8 * 60};
  std::vector<std::chrono::weekday> closed_days{std::chrono::Sunday};
  bool public_holidays = true;
  bool alsace_moselle = false;
  std::vector<std::chrono::year_month_day> extra_closed_dates;

  bool is_closed_day(std::chrono::year_month_day d) const;
  bool allows(Timestamp t, const ZoneRules& zone) const;
  // `t` itself when allowed, else the first allowed instant after it.
  Timestamp next_allowed(Timestamp t, const ZoneRules& zone) const;
};

// The hours staff work, for deadlines counted in business time (an alert
// must be claimed within 4 working hours): open days from `day_start` to
// `day_end`, local time; public holidays closed like the contact window's.
struct BusinessHours {
  std::chrono::minutes day_start{9 * 60};
  std::chrono::minutes day_end{18 * 60};
  std::vector<std::chrono::weekday> open_days{std::chrono::Monday, std::chrono::Tuesday, std::chrono::Wednesday,
                                              std::chrono::Thursday, std::chrono::Friday};
  bool public_holidays = true;
  bool alsace_moselle = false;

  bool is_open_day(std::chrono::year_month_day d) const;
};

// `from` plus `amount` of business time: a Friday 17:00 alert with 4 working
// hours to be claimed falls due on Monday 12:00 (Tuesday after Easter
// Monday). Returns `from` for a zero amount; when no day is ever open (a
// misconfiguration), returns `from` plus `amount` of plain time.
Timestamp add_business_time(Timestamp from, std::chrono::minutes amount, const BusinessHours& hours, const ZoneRules& zone);

// Adds whole local calendar days, keeping the local wall-clock time, so that
// "7 days later" is 7 days on the calendar even across a DST change.
Timestamp add_local_days(Timestamp t, std::chrono::days n, const ZoneRules& zone);

// "2026-11-23T14:05:00Z" / "2026-11-23 15:05 (Europe/Paris)" helpers.
std::string format_utc(Timestamp t);
std::string format_local(Timestamp t, const ZoneRules& zone, bool with_time = true);
std::string format_date(std::chrono::sys_days d);
// ISO 8601: "2026-11-23", "2026-11-23T14:05", "2026-11-23T14:05:00Z",
// "2026-11-23T15:05:00+01:00". Without an offset the time is local to `zone`.
// Years 1900..9999 only.
std::optional<Timestamp> parse_iso_time(std::string_view s, const ZoneRules& zone);
std::optional<std::chrono::sys_days> parse_iso_date(std::string_view s);

}  // namespace relance
