#include "adapters/lms/csv/relative_time.hpp"

#include "adapters/lms/csv/text.hpp"

#include <array>

namespace relance::csv {

namespace {

struct Unit {
  std::string_view name;
  std::int64_t seconds;
};

constexpr std::int64_t minute = 60, hour = 3600, day = 86400, week = 7 * day, year = 365 * day;

// Moodle's language strings (lang/fr/moodle.php and lang/en/moodle.php:
// "an"/"ans", "jour"/"jours", "heure"/"heures", "min", "s"; "year(s)",
// "day(s)", "hour(s)", "min(s)", "sec(s)") plus the spelled-out forms a
// person may type. No months: their length is ambiguous.
constexpr std::array<Unit, 34> units{{
    {"an", year},        {"ans", year},         {"annee", year},     {"annees", year},
    {"year", year},      {"years", year},       {"yr", year},        {"yrs", year},
    {"semaine", week},   {"semaines", week},    {"week", week},      {"weeks", week},
    {"jour", day},       {"jours", day},        {"j", day},          {"day", day},
    {"days", day},       {"heure", hour},       {"heures", hour},    {"h", hour},
    {"hour", hour},      {"hours", hour},       {"min", minute},     {"mins", minute},
    {"minute", minute},  {"minutes", minute},   {"mn", minute},      {"s", 1},
    {"sec", 1},          {"secs", 1},           {"seconde", 1},      {"secondes", 1},
    {"second", 1},       {"seconds", 1},
}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z'); }

LastAccess bad(std::string_view value, std::string_view why) {
  LastAccess r;
  r.error = "« " + std::string(value) + " » n'est pas une durée de dernier accès Moodle (" + std::string(why) +
            ") ; attendu par exemple « Jamais », « 23 jours », « 5 min 1 s », « 1 an 2 jours »";
  return r;
}

}  // namespace

LastAccess parse_last_access(std::string_view value) {
  std::string s = fold(value);
  if (s.empty()) return bad(value, "valeur vide");
  if (s == "jamais" || s == "never") return LastAccess{true, 0, {}};
  if (s == "maintenant" || s == "now" || s == "a l'instant" || s == "just now") return LastAccess{};

  // Sometimes copied from a sentence: "il y a 23 jours", "23 days ago".
  std::string_view t = s;
  if (t.starts_with("il y a ")) t.remove_prefix(7);
  if (t.ends_with(" ago")) t.remove_suffix(4);

  if (t.find_first_of("0123456789") == std::string_view::npos) return bad(value, "ni « Jamais » ni une durée");

  std::int64_t total = 0;
  int parts = 0;
  std::size_t i = 0;
  while (i < t.size()) {
    if (t[i] == ' ' || t[i] == ',') { ++i; continue; }
    if (!is_digit(t[i])) return bad(value, "un nombre est attendu avant chaque unité");
    std::int64_t n = 0;
    const std::size_t digits_start = i;
    while (i < t.size() && is_digit(t[i])) {
      if (i - digits_start >= 9) return bad(value, "nombre trop grand");
      n = n * 10 + (t[i] - '0');
      ++i;
    }
    while (i < t.size() && t[i] == ' ') ++i;
    const std::size_t unit_start = i;
    while (i < t.size() && is_letter(t[i])) ++i;
    // A trailing dot ("5 sec.", "2 h.") is an abbreviation mark.
    const std::string_view unit = t.substr(unit_start, i - unit_start);
    if (i < t.size() && t[i] == '.') ++i;
    if (unit.empty()) return bad(value, "unité manquante après " + std::to_string(n));
    std::int64_t mult = 0;
    for (const auto& u : units)
      if (u.name == unit) mult = u.seconds;
    if (mult == 0) return bad(value, "unité inconnue « " + std::string(unit) + " »");
    total += n * mult;
    ++parts;
  }
  if (parts == 0) return bad(value, "aucune durée");
  return LastAccess{false, total, {}};
}

}  // namespace relance::csv
