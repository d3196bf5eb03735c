// Business time, for escalation deadlines: an alert must be claimed within so
// many working hours. Paris in winter (UTC+1) as a fixed zone; weekends and
// French public holidays are closed.
#include "bot/domain/time.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using namespace relance;
namespace chr = std::chrono;

namespace {

const FixedOffsetZone paris_winter{chr::minutes{60}};

Timestamp at(std::string_view local_iso) {
  auto t = parse_iso_time(local_iso, paris_winter);
  REQUIRE(t);
  return *t;
}

}  // namespace

TEST_CASE("business time: within one working day", "[time][business]") {
  BusinessHours h;
  CHECK(add_business_time(at("2026-11-23T10:00"), chr::hours(4), h, paris_winter) == at("2026-11-23T14:00"));
  // Before opening: the clock starts at 09:00.
  CHECK(add_business_time(at("2026-11-23T06:30"), chr::hours(4), h, paris_winter) == at("2026-11-23T13:00"));
  // Exactly at closing time: due at closing, not the next morning.
  CHECK(add_business_time(at("2026-11-23T14:00"), chr::hours(4), h, paris_winter) == at("2026-11-23T18:00"));
  CHECK(add_business_time(at("2026-11-23T10:00"), chr::minutes(0), h, paris_winter) == at("2026-11-23T10:00"));
}

TEST_CASE("business time: carried over the night and the weekend", "[time][business]") {
  BusinessHours h;
  // Friday 17:00 + 4 h: one hour on Friday, three on Monday morning.
  CHECK(add_business_time(at("2026-11-27T17:00"), chr::hours(4), h, paris_winter) == at("2026-11-30T12:00"));
  // Posted on Saturday night: Monday 13:00.
  CHECK(add_business_time(at("2026-11-28T22:00"), chr::hours(4), h, paris_winter) == at("2026-11-30T13:00"));
  // Two full days of 9 h.
  CHECK(add_business_time(at("2026-11-23T09:00"), chr::hours(18), h, paris_winter) == at("2026-11-24T18:00"));
}

TEST_CASE("business time: public holidays are closed", "[time][business]") {
  BusinessHours h;
  // 2026-12-25 is a Friday: Thursday 16:00 + 4 h -> Monday 28th 11:00.
  CHECK(add_business_time(at("2026-12-24T16:00"), chr::hours(4), h, paris_winter) == at("2026-12-28T11:00"));
  // Alsace-Moselle also closes on the 26th, a Saturday here: no change.
  h.alsace_moselle = true;
  CHECK(add_business_time(at("2026-12-24T16:00"), chr::hours(4), h, paris_winter) == at("2026-12-28T11:00"));
  // Without holidays the 25th is an ordinary Friday.
  h.public_holidays = false;
  CHECK(add_business_time(at("2026-12-24T16:00"), chr::hours(4), h, paris_winter) == at("2026-12-25T11:00"));
}

TEST_CASE("business time: a configuration without open hours falls back to plain time", "[time][business]") {
  BusinessHours h;
  h.open_days.clear();
  CHECK(add_business_time(at("2026-11-23T10:00"), chr::hours(4), h, paris_winter) == at("2026-11-23T14:00"));
  h = BusinessHours{};
  h.day_end = h.day_start;
  CHECK(add_business_time(at("2026-11-23T10:00"), chr::hours(4), h, paris_winter) == at("2026-11-23T14:00"));
}
