// Time in the core: Easter and French public holidays, the contact window
// (quiet hours, closed days), local-day arithmetic and ISO 8601 parsing.
// Links relance_domain only: the zone is a FixedOffsetZone (Paris in winter is
// UTC+1); the real Europe/Paris across DST is tested in tests/app/zone_dst_test.cpp.
#include "bot/domain/time.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace relance;
namespace chr = std::chrono;

namespace {

const FixedOffsetZone utc_zone{chr::minutes{0}};
const FixedOffsetZone paris_winter{chr::minutes{60}};  // CET

chr::year_month_day ymd(int y, unsigned m, unsigned d) { return {chr::year{y}, chr::month{m}, chr::day{d}}; }

// A UTC instant, written the way a human reads it ("2026-11-23T14:05:00Z").
Timestamp utc(std::string_view iso) {
  auto t = parse_iso_time(iso, utc_zone);
  REQUIRE(t);
  return *t;
}

// A local wall-clock time in the +01:00 zone ("2026-11-23T21:00").
Timestamp paris(std::string_view local) {
  auto t = parse_iso_time(local, paris_winter);
  REQUIRE(t);
  return *t;
}

bool contains(const std::vector<chr::year_month_day>& v, chr::year_month_day d) {
  return std::find(v.begin(), v.end(), d) != v.end();
}

}  // namespace

// ------------------------------------------------------------------ Easter

TEST_CASE("easter_sunday gives the Gregorian Easter of recent and coming years", "[domain][time][holidays]") {
  CHECK(easter_sunday(chr::year{2024}) == ymd(2024, 3, 31));
  CHECK(easter_sunday(chr::year{2025}) == ymd(2025, 4, 20));
  CHECK(easter_sunday(chr::year{2026}) == ymd(2026, 4, 5));
  CHECK(easter_sunday(chr::year{2027}) == ymd(2027, 3, 28));
}

TEST_CASE("easter_sunday handles the extreme dates of the computus", "[domain][time][holidays]") {
  CHECK(easter_sunday(chr::year{1818}) == ymd(1818, 3, 22));  // earliest possible
  CHECK(easter_sunday(chr::year{2038}) == ymd(2038, 4, 25));  // latest possible
  CHECK(easter_sunday(chr::year{2000}) == ymd(2000, 4, 23));
  CHECK(easter_sunday(chr::year{2008}) == ymd(2008, 3, 23));
  CHECK(easter_sunday(chr::year{2019}) == ymd(2019, 4, 21));
  for (int y = 1900; y <= 2100; ++y) {
    const auto e = easter_sunday(chr::year{y});
    INFO("year " << y);
    REQUIRE(e.ok());
    CHECK(chr::weekday{chr::sys_days{e}} == chr::Sunday);
    CHECK(e >= ymd(y, 3, 22));
    CHECK(e <= ymd(y, 4, 25));
  }
}

// ------------------------------------------------------------------ holidays

TEST_CASE("the eleven French public holidays of 2026, in date order", "[domain][time][holidays]") {
  const auto hs = french_public_holidays(chr::year{2026});
  const std::vector<chr::year_month_day> expected{
      ymd(2026, 1, 1),   // jour de l'an
      ymd(2026, 4, 6),   // lundi de Pâques
      ymd(2026, 5, 1),   // fête du travail
      ymd(2026, 5, 8),   // victoire 1945
      ymd(2026, 5, 14),  // Ascension
      ymd(2026, 5, 25),  // lundi de Pentecôte
      ymd(2026, 7, 14),  // fête nationale
      ymd(2026, 8, 15),  // Assomption
      ymd(2026, 11, 1),  // Toussaint
      ymd(2026, 11, 11), // armistice
      ymd(2026, 12, 25), // Noël
  };
  CHECK(hs == expected);
  CHECK_FALSE(contains(hs, ymd(2026, 4, 3)));    // Good Friday: Alsace-Moselle only
  CHECK_FALSE(contains(hs, ymd(2026, 12, 26)));  // Saint-Étienne: Alsace-Moselle only
  CHECK_FALSE(contains(hs, ymd(2026, 4, 5)));    // Easter Sunday is a Sunday, not listed
}

TEST_CASE("movable feasts follow Easter in 2024 and 2025", "[domain][time][holidays]") {
  const auto h24 = french_public_holidays(chr::year{2024});
  CHECK(contains(h24, ymd(2024, 4, 1)));   // lundi de Pâques
  CHECK(contains(h24, ymd(2024, 5, 9)));   // Ascension
  CHECK(contains(h24, ymd(2024, 5, 20)));  // lundi de Pentecôte
  const auto h25 = french_public_holidays(chr::year{2025});
  CHECK(contains(h25, ymd(2025, 4, 21)));
  CHECK(contains(h25, ymd(2025, 5, 29)));
  CHECK(contains(h25, ymd(2025, 6, 9)));
  CHECK(h25.size() == 11);
}

TEST_CASE("Alsace-Moselle adds Good Friday and 26 December", "[domain][time][holidays]") {
  const auto hs = french_public_holidays(chr::year{2026}, /*alsace_moselle=*/true);
  CHECK(hs.size() == 13);
  CHECK(contains(hs, ymd(2026, 4, 3)));    // Vendredi saint
  CHECK(contains(hs, ymd(2026, 12, 26)));  // Saint-Étienne
  CHECK(contains(hs, ymd(2026, 5, 14)));   // and still the national ones
  CHECK(std::is_sorted(hs.begin(), hs.end()));
  const auto h27 = french_public_holidays(chr::year{2027}, true);
  CHECK(contains(h27, ymd(2027, 3, 26)));  // Easter 2027-03-28 minus 2 days
}

// ------------------------------------------------------------------ contact window

TEST_CASE("the default contact window: quiet 20:00-08:00, Sundays and public holidays closed",
          "[domain][time][window]") {
  const ContactWindow w;
  CHECK(w.quiet_start == chr::hours{20});
  CHECK(w.quiet_end == chr::hours{8});
  CHECK(w.closed_days == std::vector<chr::weekday>{chr::Sunday});
  CHECK(w.public_holidays);
  CHECK_FALSE(w.alsace_moselle);
  CHECK(w.is_closed_day(ymd(2026, 11, 29)));       // a Sunday
  CHECK(w.is_closed_day(ymd(2026, 11, 11)));       // a Wednesday holiday
  CHECK_FALSE(w.is_closed_day(ymd(2026, 11, 28))); // a Saturday is open
  CHECK_FALSE(w.is_closed_day(ymd(2026, 12, 26))); // not outside Alsace-Moselle
}

TEST_CASE("a weekday at 10:00 is allowed and next_allowed keeps it", "[domain][time][window]") {
  const ContactWindow w;
  const Timestamp t = paris("2026-11-10T10:00");  // Tuesday
  CHECK(w.allows(t, paris_winter));
  CHECK(w.next_allowed(t, paris_winter) == t);
}

TEST_CASE("quiet hours boundaries: 08:00 and 19:59 allowed, 20:00 and 07:59 quiet", "[domain][time][window]") {
  const ContactWindow w;
  CHECK(w.allows(paris("2026-11-17T08:00"), paris_winter));
  CHECK(w.allows(paris("2026-11-17T19:59:59"), paris_winter));
  CHECK_FALSE(w.allows(paris("2026-11-17T20:00"), paris_winter));
  CHECK_FALSE(w.allows(paris("2026-11-17T07:59:59"), paris_winter));
  CHECK_FALSE(w.allows(paris("2026-11-17T00:00"), paris_winter));
  // The local time decides, not UTC: 19:30Z is 20:30 in Paris.
  CHECK_FALSE(w.allows(utc("2026-11-17T19:30:00Z"), paris_winter));
  CHECK(w.allows(utc("2026-11-17T19:30:00Z"), utc_zone));
}

TEST_CASE("a message due at 21:00 on a weekday waits until 08:00 the next day", "[domain][time][window]") {
  const ContactWindow w;
  CHECK(w.next_allowed(paris("2026-11-16T21:00"), paris_winter) == paris("2026-11-17T08:00"));  // Mon -> Tue
  CHECK(w.next_allowed(paris("2026-11-16T20:00"), paris_winter) == paris("2026-11-17T08:00"));
  CHECK(w.next_allowed(paris("2026-11-16T23:59:59"), paris_winter) == paris("2026-11-17T08:00"));
}

TEST_CASE("a message due in the small hours waits until 08:00 the same day", "[domain][time][window]") {
  const ContactWindow w;
  CHECK(w.next_allowed(paris("2026-11-17T03:00"), paris_winter) == paris("2026-11-17T08:00"));
  CHECK(w.next_allowed(paris("2026-11-17T07:59:59"), paris_winter) == paris("2026-11-17T08:00"));
  // Monday 03:00 is after a closed Sunday and is itself open from 08:00.
  CHECK(w.next_allowed(paris("2026-11-30T03:00"), paris_winter) == paris("2026-11-30T08:00"));
}

TEST_CASE("Saturday 21:00 waits until Monday 08:00 because Sunday is closed", "[domain][time][window]") {
  const ContactWindow w;
  CHECK(w.next_allowed(paris("2026-11-28T21:00"), paris_winter) == paris("2026-11-30T08:00"));
  CHECK(w.next_allowed(paris("2026-11-29T10:00"), paris_winter) == paris("2026-11-30T08:00"));  // Sunday daytime
  CHECK(w.next_allowed(paris("2026-11-29T03:00"), paris_winter) == paris("2026-11-30T08:00"));  // Sunday night
}

TEST_CASE("Christmas Eve 21:00 skips Christmas Day to Saturday 26 December 08:00", "[domain][time][window][holidays]") {
  const ContactWindow w;
  CHECK(w.next_allowed(paris("2026-12-24T21:00"), paris_winter) == paris("2026-12-26T08:00"));
  CHECK_FALSE(w.allows(paris("2026-12-25T10:00"), paris_winter));
}

TEST_CASE("Tuesday 10 November 20:30 skips Armistice Day to Thursday 08:00", "[domain][time][window][holidays]") {
  const ContactWindow w;
  CHECK(w.next_allowed(paris("2026-11-10T20:30"), paris_winter) == paris("2026-11-12T08:00"));
}

TEST_CASE("holiday chains: Whit weekend Saturday evening waits until Tuesday, Ascension eve until Friday",
          "[domain][time][window][holidays]") {
  const ContactWindow w;
  // 2026-05-23 is a Saturday, 24 Sunday, 25 Whit Monday.
  CHECK(w.next_allowed(paris("2026-05-23T21:00"), paris_winter) == paris("2026-05-26T08:00"));
  // Ascension Thursday 14 May: Wednesday 13 at 20:00 waits until Friday.
  CHECK(w.next_allowed(paris("2026-05-13T20:00"), paris_winter) == paris("2026-05-15T08:00"));
}

TEST_CASE("Alsace-Moselle: Christmas Eve 21:00 waits until Monday 28 December", "[domain][time][window][holidays]") {
  ContactWindow w;
  w.alsace_moselle = true;
  CHECK(w.is_closed_day(ymd(2026, 12, 26)));
  CHECK(w.is_closed_day(ymd(2026, 4, 3)));
  // 25 Christmas, 26 Saint-Étienne (a Saturday), 27 Sunday.
  CHECK(w.next_allowed(paris("2026-12-24T21:00"), paris_winter) == paris("2026-12-28T08:00"));
  // Good Friday: Thursday 2 April evening waits until Saturday 4 April.
  CHECK(w.next_allowed(paris("2026-04-02T21:00"), paris_winter) == paris("2026-04-04T08:00"));
}

TEST_CASE("the contact window is configurable: no holidays, no closed days, extra closed dates, daytime quiet",
          "[domain][time][window]") {
  SECTION("public holidays off") {
    ContactWindow w;
    w.public_holidays = false;
    CHECK(w.allows(paris("2026-12-25T10:00"), paris_winter));
  }
  SECTION("no closed weekday") {
    ContactWindow w;
    w.closed_days.clear();
    CHECK(w.next_allowed(paris("2026-11-28T21:00"), paris_winter) == paris("2026-11-29T08:00"));
  }
  SECTION("Saturday and Sunday closed") {
    ContactWindow w;
    w.closed_days = {chr::Saturday, chr::Sunday};
    CHECK(w.next_allowed(paris("2026-11-27T20:30"), paris_winter) == paris("2026-11-30T08:00"));
  }
  SECTION("an extra closed date (the organisation's bridge day)") {
    ContactWindow w;
    w.extra_closed_dates = {ymd(2026, 5, 15)};
    CHECK(w.next_allowed(paris("2026-05-13T20:00"), paris_winter) == paris("2026-05-16T08:00"));
  }
  SECTION("a quiet window that does not cross midnight (lunch 12:00-14:00)") {
    ContactWindow w;
    w.quiet_start = chr::hours{12};
    w.quiet_end = chr::hours{14};
    CHECK(w.allows(paris("2026-11-17T21:00"), paris_winter));
    CHECK(w.next_allowed(paris("2026-11-17T12:30"), paris_winter) == paris("2026-11-17T14:00"));
    CHECK(w.next_allowed(paris("2026-11-22T10:00"), paris_winter) == paris("2026-11-23T00:00"));  // Sunday
  }
  SECTION("an empty quiet window (start == end) never defers for the hour") {
    ContactWindow w;
    w.quiet_start = w.quiet_end = chr::hours{8};
    CHECK(w.allows(paris("2026-11-17T03:00"), paris_winter));
  }
}

TEST_CASE("next_allowed terminates even when every day is closed", "[domain][time][window]") {
  ContactWindow w;
  w.closed_days = {chr::Monday, chr::Tuesday, chr::Wednesday, chr::Thursday, chr::Friday, chr::Saturday, chr::Sunday};
  const Timestamp t = paris("2026-11-17T10:00");
  const Timestamp n = w.next_allowed(t, paris_winter);  // must return, whatever it returns
  CHECK(n > t);
}

// ------------------------------------------------------------------ local days

TEST_CASE("add_local_days keeps the local wall-clock time", "[domain][time]") {
  CHECK(add_local_days(paris("2026-11-23T21:00"), chr::days{7}, paris_winter) == paris("2026-11-30T21:00"));
  CHECK(add_local_days(paris("2026-12-28T10:00"), chr::days{7}, paris_winter) == paris("2027-01-04T10:00"));
  CHECK(add_local_days(paris("2026-11-23T21:00"), chr::days{0}, paris_winter) == paris("2026-11-23T21:00"));
  CHECK(add_local_days(paris("2026-03-01T10:00"), chr::days{-1}, paris_winter) == paris("2026-02-28T10:00"));
}

// ------------------------------------------------------------------ formatting

TEST_CASE("format_utc, format_local and format_date", "[domain][time][format]") {
  const Timestamp t = utc("2026-11-23T14:05:09Z");
  CHECK(format_utc(t) == "2026-11-23T14:05:09Z");
  CHECK(format_local(t, paris_winter) == "23/11/2026 15:05");
  CHECK(format_local(t, paris_winter, false) == "23/11/2026");
  CHECK(format_local(utc("2026-12-31T23:30:00Z"), paris_winter) == "01/01/2027 00:30");
  CHECK(format_date(chr::sys_days{ymd(2026, 1, 5)}) == "2026-01-05");
  CHECK(paris_winter.name() == "UTC+01:00");
  CHECK(FixedOffsetZone{chr::minutes{-330}}.name() == "UTC-05:30");
}

// ------------------------------------------------------------------ ISO parsing

TEST_CASE("parse_iso_time: a date alone is local midnight", "[domain][time][iso]") {
  CHECK(parse_iso_time("2026-11-23", paris_winter) == utc("2026-11-22T23:00:00Z"));
  CHECK(parse_iso_time("2026-11-23", utc_zone) == Timestamp{chr::sys_days{ymd(2026, 11, 23)}});
}

TEST_CASE("parse_iso_time: a time without an offset is local to the zone", "[domain][time][iso]") {
  CHECK(parse_iso_time("2026-11-23T14:05", paris_winter) == utc("2026-11-23T13:05:00Z"));
  CHECK(parse_iso_time("2026-11-23T14:05:30", paris_winter) == utc("2026-11-23T13:05:30Z"));
  CHECK(parse_iso_time("2026-11-23 14:05", paris_winter) == utc("2026-11-23T13:05:00Z"));
}

TEST_CASE("parse_iso_time: Z and numeric offsets ignore the zone", "[domain][time][iso]") {
  const Timestamp expected = from_unix(1795442700);  // 2026-11-23T14:05:00Z
  CHECK(format_utc(expected) == "2026-11-23T14:05:00Z");
  CHECK(parse_iso_time("2026-11-23T14:05:00Z", paris_winter) == expected);
  CHECK(parse_iso_time("2026-11-23T14:05:00z", paris_winter) == expected);
  CHECK(parse_iso_time("2026-11-23T14:05Z", paris_winter) == expected);
  CHECK(parse_iso_time("2026-11-23T15:05:00+01:00", utc_zone) == expected);
  CHECK(parse_iso_time("2026-11-23T15:05:00+0100", utc_zone) == expected);
  CHECK(parse_iso_time("2026-11-23T15:05:00+01", utc_zone) == expected);
  CHECK(parse_iso_time("2026-11-23T09:05:00-05:00", paris_winter) == expected);
  CHECK(parse_iso_time("2026-11-23T19:35:00+05:30", paris_winter) == expected);
  CHECK(parse_iso_time("2026-11-23T14:05:00.250Z", paris_winter) == expected);  // fraction dropped
}

TEST_CASE("parse_iso_time rejects malformed times", "[domain][time][iso]") {
  const char* bad[] = {
      "",
      "2026",
      "2026-11",
      "26-11-23",
      "2026/11/23",
      "23/11/2026",
      "2026-13-01",
      "2026-02-30",
      "2026-11-00",
      "2026-11-23T",
      "2026-11-23T14",
      "2026-11-23T1405",
      "2026-11-23T24:00",
      "2026-11-23T14:60",
      "2026-11-23T14:05:61",
      "2026-11-23X14:05",
      "2026-11-23T14:05:00X",
      "2026-11-23T14:05 Z",
      "2026-11-23T14:05:00+1",
      "2026-11-23T14:05:00+01:0",
      "2026-11-23T14:05:00+01:00junk",
      "2026-11-23T14:05:00ZZ",
      "2026-11-23junk",
      // Signs where digits belong: std::from_chars accepts a leading '-'.
      "2026-11-23T-1:05",
      "2026-11-23T14:-5",
      "2026-11-23T14:05:-1",
      "-026-11-23",
      // A dangling colon or an offset no zone has.
      "2026-11-23T14:05:00+01:",
      "2026-11-23T14:05:00+24:00",
      "2026-11-23T14:05:00+01:60",
  };
  for (const char* s : bad) {
    INFO("input: \"" << s << "\"");
    CHECK_FALSE(parse_iso_time(s, paris_winter).has_value());
  }
}

TEST_CASE("parse_iso_date accepts YYYY-MM-DD only", "[domain][time][iso]") {
  CHECK(parse_iso_date("2026-02-28") == chr::sys_days{ymd(2026, 2, 28)});
  CHECK(parse_iso_date("2028-02-29") == chr::sys_days{ymd(2028, 2, 29)});  // leap year
  CHECK_FALSE(parse_iso_date("2026-02-29"));
  CHECK_FALSE(parse_iso_date("2026-1-05"));
  CHECK_FALSE(parse_iso_date("2026-01-05T10:00"));
  CHECK_FALSE(parse_iso_date(" 2026-01-05"));
  CHECK_FALSE(parse_iso_date("2026-0a-05"));
}
