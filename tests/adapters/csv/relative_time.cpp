// Moodle's relative "Dernier accès" values.
#include "adapters/lms/csv/relative_time.hpp"

#include <catch2/catch.hpp>

using relance::csv::parse_last_access;

namespace {
constexpr std::int64_t min = 60, hour = 3600, day = 86400, year = 365 * day;

std::int64_t ago(std::string_view v) {
  const auto r = parse_last_access(v);
  INFO(v << " -> " << r.error);
  REQUIRE(r.ok());
  REQUIRE_FALSE(r.never);
  return r.seconds_ago;
}
}  // namespace

TEST_CASE("last access: never", "[csv][relative]") {
  for (std::string_view v : {"Jamais", "jamais", "JAMAIS", " Jamais ", "Never", "never"}) {
    const auto r = parse_last_access(v);
    INFO(v);
    CHECK(r.ok());
    CHECK(r.never);
  }
}

TEST_CASE("last access: French values from the Participants page", "[csv][relative]") {
  CHECK(ago("23 jours") == 23 * day);
  CHECK(ago("5 min 1 s") == 5 * min + 1);
  CHECK(ago("1 an 2 jours") == year + 2 * day);
  CHECK(ago("2 ans 10 jours") == 2 * year + 10 * day);
  CHECK(ago("2 heures 3 min") == 2 * hour + 3 * min);
  CHECK(ago("1 jour 4 heures") == day + 4 * hour);
  CHECK(ago("1 heure") == hour);
  CHECK(ago("45 s") == 45);
  CHECK(ago("maintenant") == 0);
  CHECK(ago("Maintenant") == 0);
}

TEST_CASE("last access: English values", "[csv][relative]") {
  CHECK(ago("23 days") == 23 * day);
  CHECK(ago("5 mins 1 sec") == 5 * min + 1);
  CHECK(ago("1 year 2 days") == year + 2 * day);
  CHECK(ago("1 day 4 hours") == day + 4 * hour);
  CHECK(ago("2 hours 3 mins") == 2 * hour + 3 * min);
  CHECK(ago("now") == 0);
}

TEST_CASE("last access: case, accents and spaces do not matter", "[csv][relative]") {
  CHECK(ago("23 JOURS") == 23 * day);
  CHECK(ago("1 AN 2 Jours") == year + 2 * day);
  CHECK(ago("3 Années") == 3 * year);
  CHECK(ago("2 secondes") == 2);
  CHECK(ago("23\xC2\xA0jours") == 23 * day);       // no-break space
  CHECK(ago("5\xE2\x80\xAFmin 1\xE2\x80\xAFs") == 5 * min + 1);  // narrow no-break space
  CHECK(ago("  23   jours ") == 23 * day);
  CHECK(ago("il y a 23 jours") == 23 * day);
  CHECK(ago("23 days ago") == 23 * day);
}

TEST_CASE("last access: anything else is an error that quotes the value", "[csv][relative]") {
  // "Jama" is in procedure 003's own table: a truncated copy is not "never".
  for (std::string_view v : {"Jama", "", "23", "jours", "23 mois", "hier", "2026-11-02", "5 min x", "-3 jours",
                             "1234567890 jours"}) {
    const auto r = parse_last_access(v);
    INFO(v);
    CHECK_FALSE(r.ok());
    CHECK_THAT(r.error, Catch::Contains("« " + std::string(v) + " »"));
  }
  CHECK_THAT(parse_last_access("23 mois").error, Catch::Contains("unité inconnue « mois »"));
  CHECK_THAT(parse_last_access("Jama").error, Catch::Contains("ni « Jamais » ni une durée"));
}
