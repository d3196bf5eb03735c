#include "bot/domain/time.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace relance {

namespace chr = std::chrono;

std::string FixedOffsetZone::name() const {
  auto m = offset_.count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "UTC%c%02d:%02d", m < 0 ? '-' : '+', int(std::abs(m) / 60), int(std::abs(m) % 60));
  return buf;
}

chr::year_month_day easter_sunday(chr::year y) {
  // Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
  const int Y = int(y);
  const int a = Y % 19, b = Y / 100, c = Y % 100, d = b / 4, e = b % 4;
  const int f = (b + 8) / 25, g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31, day = (h + l - 7 * m + 114) % 31 + 1;
  return chr::year_month_day{y, chr::month(unsigned(month)), chr::day(unsigned(day))};
}

std::vector<chr::year_month_day> french_public_holidays(chr::year y, bool alsace_moselle) {
  using chr::day;
  using chr::month;
  const chr::sys_days easter{easter_sunday(y)};
  std::vector<chr::year_month_day> out{
      {y, month(1), day(1)},
      chr::year_month_day{easter + chr::days(1)},   // lundi de Pâques
      {y, month(5), day(1)},
      {y, month(5), day(8)},
      chr::year_month_day{easter + chr::days(39)},  // Ascension
      chr::year_month_day{easter + chr::days(50)},  // lundi de Pentecôte
      {y, month(7), day(14)},
      {y, month(8), day(15)},
      {y, month(11), day(1)},
      {y, month(11), day(11)},
      {y, month(12), day(25)},
  };
  if (alsace_moselle) {
    out.push_back(chr::year_month_day{easter - chr::days(2)});  // Vendredi saint
    out.push_back({y, month(12), day(26)});
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool ContactWindow::is_closed_day(chr::year_month_day d) const {
  const chr::weekday wd{chr::sys_days{d}};
  if (std::find(closed_days.begin(), closed_days.end(), wd) != closed_days.end()) return true;
  if (std::find(extra_closed_dates.begin(), extra_closed_dates.end(), d) != extra_closed_dates.end()) return true;
  if (public_holidays) {
    const auto hs = french_public_holidays(d.year(), alsace_moselle);
    if (std::find(hs.begin(), hs.end(), d) != hs.end()) return true;
  }
  return false;
}

namespace {

bool in_quiet(chr::minutes tod, chr::minutes start, chr::minutes end) {
  if (start == end) return false;
  if (start > end) return tod >= start || tod < end;  // crosses midnight
  return tod >= start && tod < end;
}

}  // namespace

bool ContactWindow::allows(Timestamp t, const ZoneRules& zone) const {
  const LocalTime l = zone.to_local(t);
  const auto day = chr::floor<chr::days>(l);
  const auto tod = chr::duration_cast<chr::minutes>(l - day);
  if (is_closed_day(chr::year_month_day{chr::sys_days{day.time_since_epoch()}})) return false;
  return !in_quiet(tod, quiet_start, quiet_end);
}

Timestamp ContactWindow::next_allowed(Timestamp t, const ZoneRules& zone) const {
  // Each iteration either returns or jumps to the next opening; a year of
  // closed days is the worst case a sane configuration allows.
  const bool overnight = quiet_start > quiet_end;
  const chr::minutes opening = overnight ? quiet_end : chr::minutes(0);
  for (int guard = 0; guard < 400; ++guard) {
    if (allows(t, zone)) return t;
    const LocalTime l = zone.to_local(t);
    const auto day = chr::floor<chr::days>(l);
    const auto tod = chr::duration_cast<chr::minutes>(l - day);
    const bool closed = is_closed_day(chr::year_month_day{chr::sys_days{day.time_since_epoch()}});
    LocalTime next = day + chr::days(1) + opening;
    if (!closed && in_quiet(tod, quiet_start, quiet_end) && tod < quiet_end) next = day + quiet_end;
    const Timestamp n = zone.to_utc(chr::floor<chr::seconds>(next));
    t = n > t ? n : t + chr::hours(1);  // never loop in place, whatever the zone does
  }
  return t;
}

Timestamp add_local_days(Timestamp t, chr::days n, const ZoneRules& zone) {
  return zone.to_utc(zone.to_local(t) + n);
}

std::string format_utc(Timestamp t) {
  const auto day = chr::floor<chr::days>(t);
  const chr::year_month_day ymd{day};
  const chr::hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()), int(hms.hours().count()), int(hms.minutes().count()),
                int(hms.seconds().count()));
  return buf;
}

std::string format_local(Timestamp t, const ZoneRules& zone, bool with_time) {
  const LocalTime l = zone.to_local(t);
  const auto day = chr::floor<chr::days>(l);
  const chr::year_month_day ymd{chr::sys_days{day.time_since_epoch()}};
  const chr::hh_mm_ss hms{l - day};
  char buf[32];
  if (with_time)
    std::snprintf(buf, sizeof buf, "%02u/%02u/%04d %02d:%02d", unsigned(ymd.day()), unsigned(ymd.month()),
                  int(ymd.year()), int(hms.hours().count()), int(hms.minutes().count()));
  else
    std::snprintf(buf, sizeof buf, "%02u/%02u/%04d", unsigned(ymd.day()), unsigned(ymd.month()), int(ymd.year()));
  return buf;
}

std::string format_date(chr::sys_days d) {
  const chr::year_month_day ymd{d};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()), unsigned(ymd.day()));
  return buf;
}

namespace {

bool read_int(std::string_view& s, std::size_t n, int& out) {
  if (s.size() < n) return false;
  // Digits only: std::from_chars takes a leading '-', which would let
  // "T-1:05" through as 22:05 the day before.
  for (std::size_t k = 0; k < n; ++k)
    if (s[k] < '0' || s[k] > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + n, out);
  if (ec != std::errc{} || p != s.data() + n) return false;
  s.remove_prefix(n);
  return true;
}

bool eat(std::string_view& s, char c) {
  if (s.empty() || s.front() != c) return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace

std::optional<chr::sys_days> parse_iso_date(std::string_view s) {
  int y, m, d;
  if (!read_int(s, 4, y) || !eat(s, '-') || !read_int(s, 2, m) || !eat(s, '-') || !read_int(s, 2, d) || !s.empty())
    return std::nullopt;
  // Years outside 1900..9999 are typing or export errors, not training dates
  // (and would not format back as four digits).
  if (y < 1900 || y > 9999) return std::nullopt;
  const chr::year_month_day ymd{chr::year(y), chr::month(unsigned(m)), chr::day(unsigned(d))};
  if (!ymd.ok()) return std::nullopt;
  return chr::sys_days{ymd};
}

std::optional<Timestamp> parse_iso_time(std::string_view s, const ZoneRules& zone) {
  if (s.size() < 10) return std::nullopt;
  auto date = parse_iso_date(s.substr(0, 10));
  if (!date) return std::nullopt;
  s.remove_prefix(10);
  int hh = 0, mm = 0, ss = 0;
  if (!s.empty()) {
    if (s.front() != 'T' && s.front() != ' ') return std::nullopt;
    s.remove_prefix(1);
    if (!read_int(s, 2, hh) || !eat(s, ':') || !read_int(s, 2, mm)) return std::nullopt;
    if (eat(s, ':') && !read_int(s, 2, ss)) return std::nullopt;
    if (eat(s, '.'))  // fractional seconds: ignored
      while (!s.empty() && s.front() >= '0' && s.front() <= '9') s.remove_prefix(1);
    if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;
  }
  const auto tod = chr::hours(hh) + chr::minutes(mm) + chr::seconds(ss);
  if (s.empty()) return zone.to_utc(LocalTime{date->time_since_epoch()} + tod);
  if (s == "Z" || s == "z") return Timestamp{*date} + tod;
  const char sign = s.front();
  if (sign != '+' && sign != '-') return std::nullopt;
  s.remove_prefix(1);
  int oh = 0, om = 0;
  if (!read_int(s, 2, oh)) return std::nullopt;
  // "+01", "+0100" or "+01:00"; a colon must be followed by the minutes.
  if ((eat(s, ':') || !s.empty()) && !read_int(s, 2, om)) return std::nullopt;
  if (!s.empty() || oh > 23 || om > 59) return std::nullopt;
  const auto off = chr::hours(oh) + chr::minutes(om);
  return Timestamp{*date} + tod - (sign == '+' ? off : -off);
}

bool BusinessHours::is_open_day(chr::year_month_day d) const {
  const chr::weekday wd{chr::sys_days{d}};
  if (std::find(open_days.begin(), open_days.end(), wd) == open_days.end()) return false;
  if (public_holidays) {
    const auto hs = french_public_holidays(d.year(), alsace_moselle);
    if (std::find(hs.begin(), hs.end(), d) != hs.end()) return false;
  }
  return true;
}

Timestamp add_business_time(Timestamp from, chr::minutes amount, const BusinessHours& hours, const ZoneRules& zone) {
  if (amount <= chr::minutes(0)) return from;
  if (hours.day_end <= hours.day_start || hours.open_days.empty()) return from + amount;
  chr::seconds left = amount;
  const LocalTime local = zone.to_local(from);
  auto day = chr::floor<chr::days>(local);
  // Ten years of days: every configuration with an open day ends far sooner.
  for (int i = 0; i < 3660; ++i, day += chr::days(1)) {
    if (!hours.is_open_day(chr::year_month_day{chr::sys_days{day.time_since_epoch()}})) continue;
    const Timestamp open = zone.to_utc(day + hours.day_start);
    const Timestamp close = zone.to_utc(day + hours.day_end);
    const Timestamp start = std::max(open, from);
    if (start >= close) continue;
    if (close - start >= left) return start + left;
    left -= chr::duration_cast<chr::seconds>(close - start);
  }
  return from + amount;
}

}  // namespace relance
