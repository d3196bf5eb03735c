// Return rate after relaunches (procedure 000 §4): the last relaunch before a
// return, within the window, gets the credit.
#include "bot/domain/stats.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using namespace relance;
using namespace std::chrono_literals;

namespace {

// Fake times: day N of a fixed month, at 10:00 UTC.
Timestamp day(int n, int hour = 10) {
  return Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 3 / 1} + std::chrono::days{n - 1} +
                   std::chrono::hours{hour}};
}

Relaunch relaunch(std::int64_t id, Timestamp at, int step, Means means, Result result = Result::no_answer) {
  Relaunch r;
  r.id = id;
  r.at = at;
  r.step = step;
  r.means = means;
  r.result = result;
  return r;
}

CaseHistory history(const Case& c, std::vector<Relaunch> rs, std::optional<Timestamp> returned_at) {
  return CaseHistory{&c, std::move(rs), returned_at};
}

}  // namespace

TEST_CASE("stats: no cases gives zero counts and a zero rate, not a division by zero") {
  const ReturnStats s = return_stats({}, std::chrono::days{14});
  CHECK(s.overall.relaunches == 0);
  CHECK(s.overall.returned == 0);
  CHECK(s.overall.rate() == 0.0);
  CHECK(s.by_step.empty());
  CHECK(s.by_means.empty());
}

TEST_CASE("stats: a return within the window is credited to the relaunch before it") {
  Case c;
  const ReturnStats s = return_stats({history(c, {relaunch(1, day(1), 0, Means::sms)}, day(5))}, std::chrono::days{14});
  CHECK(s.overall.relaunches == 1);
  CHECK(s.overall.returned == 1);
  CHECK(s.overall.rate() == 1.0);
  CHECK(s.by_step.at(0).returned == 1);
  CHECK(s.by_means.at("sms").returned == 1);
}

TEST_CASE("stats: a return after the window does not count") {
  Case c;
  const auto rs = std::vector<Relaunch>{relaunch(1, day(1), 0, Means::sms)};
  SECTION("one second past the window") {
    const ReturnStats s = return_stats({history(c, rs, day(15) + 1s)}, std::chrono::days{14});
    CHECK(s.overall.relaunches == 1);
    CHECK(s.overall.returned == 0);
  }
  SECTION("exactly at the end of the window still counts") {
    const ReturnStats s = return_stats({history(c, rs, day(15))}, std::chrono::days{14});
    CHECK(s.overall.returned == 1);
  }
}

TEST_CASE("stats: only the last relaunch before the return gets the credit") {
  Case c;
  // Procedure 001's ladder: SMS at detection, email 7 days later, a last call
  // 14 days after that; the learner comes back 3 days after the call.
  const std::vector<Relaunch> rs{relaunch(1, day(1), 0, Means::sms), relaunch(2, day(8), 1, Means::email),
                                 relaunch(3, day(22), 2, Means::phone)};
  const ReturnStats s = return_stats({history(c, rs, day(25))}, std::chrono::days{14});
  CHECK(s.overall.relaunches == 3);
  CHECK(s.overall.returned == 1);
  CHECK(s.by_step.at(0).returned == 0);
  CHECK(s.by_step.at(1).returned == 0);
  CHECK(s.by_step.at(2).returned == 1);
  CHECK(s.by_means.at("sms").returned == 0);
  CHECK(s.by_means.at("email").returned == 0);
  CHECK(s.by_means.at("phone").returned == 1);
  CHECK(s.overall.rate() == Approx(1.0 / 3));
}

TEST_CASE("stats: the last relaunch too long before the return credits nobody, even if an earlier one is close") {
  Case c;
  const std::vector<Relaunch> rs{relaunch(1, day(1), 0, Means::sms), relaunch(2, day(2), 1, Means::email)};
  const ReturnStats s = return_stats({history(c, rs, day(20))}, std::chrono::days{14});
  CHECK(s.overall.relaunches == 2);
  CHECK(s.overall.returned == 0);
}

TEST_CASE("stats: relaunches given out of order are ordered by time, then by id") {
  Case c;
  SECTION("by time") {
    const std::vector<Relaunch> rs{relaunch(2, day(8), 1, Means::email), relaunch(1, day(1), 0, Means::sms)};
    const ReturnStats s = return_stats({history(c, rs, day(9))}, std::chrono::days{14});
    CHECK(s.by_step.at(1).returned == 1);
    CHECK(s.by_step.at(0).returned == 0);
  }
  SECTION("same instant: the one logged last") {
    const std::vector<Relaunch> rs{relaunch(7, day(3), -1, Means::phone), relaunch(6, day(3), -1, Means::visit)};
    const ReturnStats s = return_stats({history(c, rs, day(4))}, std::chrono::days{14});
    CHECK(s.by_means.at("phone").returned == 1);
    CHECK(s.by_means.at("visit").returned == 0);
  }
}

TEST_CASE("stats: a relaunch logged in the same instant as the return gets the credit") {
  Case c;
  // `relance 42 tel repris`: the call is logged and the case closes at once.
  const std::vector<Relaunch> rs{relaunch(1, day(1), 0, Means::sms),
                                 relaunch(2, day(3), -1, Means::phone, Result::resumed)};
  const ReturnStats s = return_stats({history(c, rs, day(3))}, std::chrono::days{14});
  CHECK(s.by_step.at(-1).relaunches == 1);
  CHECK(s.by_step.at(-1).returned == 1);
  CHECK(s.by_step.at(0).returned == 0);
}

TEST_CASE("stats: a relaunch after the return is counted but never credited") {
  Case c;
  const std::vector<Relaunch> rs{relaunch(1, day(1), 0, Means::sms), relaunch(2, day(10), 1, Means::email)};
  const ReturnStats s = return_stats({history(c, rs, day(4))}, std::chrono::days{14});
  CHECK(s.overall.relaunches == 2);
  CHECK(s.overall.returned == 1);
  CHECK(s.by_step.at(0).returned == 1);
  CHECK(s.by_step.at(1).returned == 0);
}

TEST_CASE("stats: a seeded cohort gives figures by step and by means") {
  // A: SMS, back 2 days later.            -> step 0 / sms returned
  // B: SMS, email, no answer (dropout).   -> nothing returned
  // C: SMS, email, back 5 days later.     -> step 1 / email returned
  // D: phone logged by staff (step -1), no return yet.
  // E: never relaunched, came back alone  -> no relaunch, no credit
  Case a, b, cc, d, e;
  const std::vector<CaseHistory> cases{
      history(a, {relaunch(1, day(1), 0, Means::sms)}, day(3)),
      history(b, {relaunch(2, day(1), 0, Means::sms), relaunch(3, day(8), 1, Means::email)}, std::nullopt),
      history(cc, {relaunch(4, day(2), 0, Means::sms), relaunch(5, day(9), 1, Means::email)}, day(14)),
      history(d, {relaunch(6, day(4), -1, Means::phone, Result::reached)}, std::nullopt),
      history(e, {}, day(6)),
  };
  const ReturnStats s = return_stats(cases, std::chrono::days{14});
  CHECK(s.overall.relaunches == 6);
  CHECK(s.overall.returned == 2);
  CHECK(s.overall.rate() == Approx(2.0 / 6));
  REQUIRE(s.by_step.size() == 3);
  CHECK(s.by_step.at(0).relaunches == 3);
  CHECK(s.by_step.at(0).returned == 1);
  CHECK(s.by_step.at(1).relaunches == 2);
  CHECK(s.by_step.at(1).returned == 1);
  CHECK(s.by_step.at(1).rate() == Approx(0.5));
  CHECK(s.by_step.at(-1).relaunches == 1);
  CHECK(s.by_step.at(-1).returned == 0);
  REQUIRE(s.by_means.size() == 3);
  CHECK(s.by_means.at("sms").relaunches == 3);
  CHECK(s.by_means.at("sms").returned == 1);
  CHECK(s.by_means.at("email").relaunches == 2);
  CHECK(s.by_means.at("email").returned == 1);
  CHECK(s.by_means.at("phone").relaunches == 1);
  CHECK(s.by_means.at("phone").returned == 0);
}
