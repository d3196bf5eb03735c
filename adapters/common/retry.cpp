#include "adapters/common/retry.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <vector>

namespace relance::net {

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds initial, std::chrono::milliseconds cap,
                                        double unit) {
  using std::chrono::milliseconds;
  if (initial <= milliseconds{0}) return milliseconds{0};
  if (cap < initial) cap = initial;
  // Doubling past 2^30 overflows long before it matters: the cap wins.
  const int shift = std::clamp(attempt, 0, 30);
  const double full = std::min(double(cap.count()), double(initial.count()) * std::ldexp(1.0, shift));
  const double u = std::clamp(unit, 0.0, 1.0);
  return milliseconds{static_cast<std::int64_t>(full / 2 + (full / 2) * u)};
}

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap)
    : initial_(initial), cap_(cap), rng_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::next() {
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  auto d = backoff_delay(attempt_, initial_, cap_, dist(rng_));
  if (attempt_ < 30) ++attempt_;
  return d;
}

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::optional<int> to_int(std::string_view s) {
  if (!all_digits(s)) return std::nullopt;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<unsigned> month_index(std::string_view m) {
  static constexpr std::array<std::string_view, 12> names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (unsigned i = 0; i < names.size(); ++i)
    if (m == names[i]) return i + 1;
  return std::nullopt;
}

// "08:49:37"
bool parse_clock(std::string_view s, int& h, int& m, int& sec) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
  auto hh = to_int(s.substr(0, 2)), mm = to_int(s.substr(3, 2)), ss = to_int(s.substr(6, 2));
  if (!hh || !mm || !ss || *hh > 23 || *mm > 59 || *ss > 60) return false;
  h = *hh, m = *mm, sec = *ss;
  return true;
}

std::vector<std::string_view> split_blanks(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<std::int64_t> to_unix(int year, unsigned month, int day, int h, int m, int s) {
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{unsigned(day)}};
  if (!ymd.ok()) return std::nullopt;
  const auto t = sys_days{ymd} + hours{h} + minutes{m} + seconds{s};
  return duration_cast<seconds>(t.time_since_epoch()).count();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::int64_t> parse_http_date(std::string_view value) {
  const auto parts = split_blanks(trim(value));
  int h = 0, m = 0, s = 0;
  if (parts.size() == 6 && parts[0].size() == 4 && parts[0][3] == ',' && parts[5] == "GMT") {
    // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    auto day = to_int(parts[1]);
    auto mon = month_index(parts[2]);
    auto year = to_int(parts[3]);
    if (!day || !mon || !year || parts[3].size() != 4 || !parse_clock(parts[4], h, m, s)) return std::nullopt;
    return to_unix(*year, *mon, *day, h, m, s);
  }
  if (parts.size() == 4 && !parts[0].empty() && parts[0].back() == ',' && parts[3] == "GMT") {
    // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    auto d = parts[1];
    if (d.size() != 9 || d[2] != '-' || d[6] != '-') return std::nullopt;
    auto day = to_int(d.substr(0, 2));
    auto mon = month_index(d.substr(3, 3));
    auto yy = to_int(d.substr(7, 2));
    if (!day || !mon || !yy || !parse_clock(parts[2], h, m, s)) return std::nullopt;
    // A two-digit year that looks more than 50 years ahead is in the past (RFC 9110 §5.6.7).
    const int year = *yy < 70 ? 2000 + *yy : 1900 + *yy;
    return to_unix(year, *mon, *day, h, m, s);
  }
  if (parts.size() == 5) {
    // asctime: Sun Nov  6 08:49:37 1994
    auto mon = month_index(parts[1]);
    auto day = to_int(parts[2]);
    auto year = to_int(parts[4]);
    if (!mon || !day || !year || !parse_clock(parts[3], h, m, s)) return std::nullopt;
    return to_unix(*year, *mon, *day, h, m, s);
  }
  return std::nullopt;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (all_digits(value)) {
    // A huge value is still a value: saturate rather than refuse it.
    if (value.size() > 9) return std::chrono::seconds{999'999'999};
    return std::chrono::seconds{*to_int(value)};
  }
  auto at = parse_http_date(value);
  if (!at) return std::nullopt;
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return std::chrono::seconds{std::max<std::int64_t>(0, *at - now_s)};
}

}  // namespace relance::net
