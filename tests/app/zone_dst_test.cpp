// A DST week with the real Europe/Paris rules (date/tz): "7 days later" is 7
// days on the calendar at the same local hour, a skipped spring time maps to
// the end of the gap, quiet hours end at 08:00 local on either side of the
// change, and a procedure 001 ladder opened just before the change keeps its
// local hour.
#include "bot/app/zone.hpp"
#include "bot/domain/case.hpp"
#include "bot/domain/detection.hpp"
#include "bot/domain/policy.hpp"
#include "bot/domain/time.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace relance;
namespace chr = std::chrono;

namespace {

const ZoneRules& paris() {
  static const std::unique_ptr<ZoneRules> z = app::make_zone("Europe/Paris");
  return *z;
}

Timestamp utc(std::string_view iso) {
  const FixedOffsetZone u;
  auto t = parse_iso_time(iso, u);
  REQUIRE(t);
  return *t;
}

// A wall-clock time in Paris: "2026-03-28T10:00".
Timestamp local(std::string_view s) {
  auto t = parse_iso_time(s, paris());
  REQUIRE(t);
  return *t;
}

Policy policy_001() {
  auto step = [](std::string name, StepAction a, Means m, std::string role, std::string tmpl, int after) {
    Step s;
    s.name = std::move(name);
    s.action = a;
    s.means = m;
    s.role = std::move(role);
    s.template_key = std::move(tmpl);
    s.after_previous = chr::days{after};
    return s;
  };
  Policy p;
  p.id = "001-auto-ecole";
  p.cohorts = {"permis-b"};
  p.sources = SourceSet::all();
  p.days = chr::days{90};
  p.plan.id = "plan-001";
  p.plan.on_exhausted = OnExhausted::declare_dropout;
  p.plan.dropout_after = chr::days{7};
  p.plan.steps = {step("1re relance", StepAction::message_learner, Means::sms, "secretariat", "ladder_1", 0),
                  step("2e relance", StepAction::message_learner, Means::email, "pedagogie", "ladder_2", 7),
                  step("3e relance", StepAction::staff_task, Means::phone, "direction", "ladder_3", 14)};
  return p;
}

struct NoCases final : CaseIndex {
  bool has_active_case(std::int64_t) const override { return false; }
  bool covered(std::int64_t, std::size_t, Timestamp) const override { return false; }
};

// Opens a 001 case for a learner whose last lesson makes them cross at `detect`,
// runs the steps due then, and returns the case with what it produced.
struct Ladder {
  std::vector<Policy> policies{policy_001()};
  ContactWindow window;
  Learner learner;
  Case c;
  Effects last;

  explicit Ladder(Timestamp detect) {
    learner.key = 1;
    learner.id = "L-1";
    learner.cohort = "permis-b";
    learner.phone = "+33612345678";
    learner.email = "lea@exemple.fr";
    learner.activity.observe(Source::lesson, add_local_days(detect, -chr::days{90}, paris()));
    Detector d(policies, detect, paris());
    auto det = d.examine(learner, NoCases{});
    REQUIRE(det);
    CHECK(det->crossed_at == detect);
    c = open_case(learner, policies[0], *det, detect);
    Outcome o = start_case(c, policies[0], CaseContext{learner, paris(), window, detect});
    last = std::move(o.effects);
  }

  // What the engine does at `now`: advance while due.
  Effects at(Timestamp now) {
    Effects out;
    for (int guard = 0; guard < 10 && is_active(c.state) && c.next_due && *c.next_due <= now; ++guard) {
      Outcome o = advance(c, CaseContext{learner, paris(), window, now});
      for (auto& e : o.effects) out.push_back(std::move(e));
    }
    return out;
  }
};

template <class T>
std::vector<T> only(const Effects& es) {
  std::vector<T> out;
  for (const auto& e : es)
    if (const auto* x = std::get_if<T>(&e)) out.push_back(*x);
  return out;
}

}  // namespace

TEST_CASE("make_zone finds Europe/Paris and refuses an unknown zone", "[app][zone]") {
  CHECK(paris().name() == "Europe/Paris");
  CHECK_THROWS_AS(app::make_zone("Mars/Olympus_Mons"), std::runtime_error);
  CHECK_THROWS_WITH(app::make_zone("Mars/Olympus_Mons"), Catch::Contains("unknown time zone 'Mars/Olympus_Mons'"));
}

TEST_CASE("Europe/Paris offsets: +01:00 in winter, +02:00 in summer", "[app][zone][dst]") {
  CHECK(local("2026-01-15T10:00") == utc("2026-01-15T09:00:00Z"));
  CHECK(local("2026-07-15T10:00") == utc("2026-07-15T08:00:00Z"));
  CHECK(format_local(utc("2026-07-15T08:00:00Z"), paris()) == "15/07/2026 10:00");
  // The change itself: 01:00Z on the last Sunday of March and of October.
  CHECK(format_local(utc("2026-03-29T00:59:59Z"), paris()) == "29/03/2026 01:59");
  CHECK(format_local(utc("2026-03-29T01:00:00Z"), paris()) == "29/03/2026 03:00");
  CHECK(format_local(utc("2026-10-25T00:59:59Z"), paris()) == "25/10/2026 02:59");
  CHECK(format_local(utc("2026-10-25T01:00:00Z"), paris()) == "25/10/2026 02:00");
}

TEST_CASE("spring forward: a step 7 days after Saturday 10:00 is Saturday 10:00 again", "[app][zone][dst]") {
  const Timestamp sat = local("2026-03-28T10:00");
  CHECK(sat == utc("2026-03-28T09:00:00Z"));
  const Timestamp next_sat = add_local_days(sat, chr::days{7}, paris());
  CHECK(next_sat == local("2026-04-04T10:00"));
  CHECK(next_sat == utc("2026-04-04T08:00:00Z"));
  CHECK(next_sat - sat == chr::hours{7 * 24 - 1});  // the week is an hour short
  // The day of the change has 23 hours.
  CHECK(add_local_days(sat, chr::days{1}, paris()) == utc("2026-03-29T08:00:00Z"));
}

TEST_CASE("fall back: a step 7 days after Saturday 10:00 is Saturday 10:00 again", "[app][zone][dst]") {
  const Timestamp sat = local("2026-10-24T10:00");
  CHECK(sat == utc("2026-10-24T08:00:00Z"));
  const Timestamp next_sat = add_local_days(sat, chr::days{7}, paris());
  CHECK(next_sat == local("2026-10-31T10:00"));
  CHECK(next_sat == utc("2026-10-31T09:00:00Z"));
  CHECK(next_sat - sat == chr::hours{7 * 24 + 1});
  CHECK(add_local_days(sat, chr::days{1}, paris()) == utc("2026-10-25T09:00:00Z"));  // a 25-hour day
}

TEST_CASE("a local time skipped by spring forward maps to the end of the gap", "[app][zone][dst]") {
  // 2026-03-29 02:30 does not exist in Paris: clocks jump from 02:00 to 03:00.
  CHECK(paris().to_utc(chr::local_days{chr::year{2026} / 3 / 29} + chr::hours{2} + chr::minutes{30}) ==
        utc("2026-03-29T01:00:00Z"));
  CHECK(local("2026-03-29T02:30") == utc("2026-03-29T01:00:00Z"));
  CHECK(format_local(local("2026-03-29T02:30"), paris()) == "29/03/2026 03:00");
  CHECK(local("2026-03-29T02:00") == utc("2026-03-29T01:00:00Z"));
  CHECK(local("2026-03-29T01:59:59") == utc("2026-03-29T00:59:59Z"));
  CHECK(local("2026-03-29T03:00") == utc("2026-03-29T01:00:00Z"));
  // Adding days onto the gap lands at its end as well.
  CHECK(add_local_days(local("2026-03-28T02:30"), chr::days{1}, paris()) == utc("2026-03-29T01:00:00Z"));
}

TEST_CASE("an ambiguous autumn local time maps to its earliest instant", "[app][zone][dst]") {
  // 2026-10-25 02:30 happens twice: at 00:30Z (CEST) and 01:30Z (CET).
  CHECK(local("2026-10-25T02:30") == utc("2026-10-25T00:30:00Z"));
  CHECK(format_local(utc("2026-10-25T00:30:00Z"), paris()) == "25/10/2026 02:30");
  CHECK(format_local(utc("2026-10-25T01:30:00Z"), paris()) == "25/10/2026 02:30");
  CHECK(local("2026-10-25T03:00") == utc("2026-10-25T02:00:00Z"));
}

TEST_CASE("quiet hours across the spring-forward night end at 08:00 local", "[app][zone][dst][window]") {
  SECTION("every day open: Saturday 21:00 CET -> Sunday 08:00 CEST") {
    ContactWindow w;
    w.closed_days.clear();
    const Timestamp sat_evening = local("2026-03-28T21:00");
    CHECK(sat_evening == utc("2026-03-28T20:00:00Z"));
    CHECK_FALSE(w.allows(sat_evening, paris()));
    CHECK(w.next_allowed(sat_evening, paris()) == utc("2026-03-29T06:00:00Z"));
    // From inside the night, before and after the jump.
    CHECK(w.next_allowed(utc("2026-03-29T00:30:00Z"), paris()) == utc("2026-03-29T06:00:00Z"));  // 01:30 CET
    CHECK(w.next_allowed(utc("2026-03-29T01:30:00Z"), paris()) == utc("2026-03-29T06:00:00Z"));  // 03:30 CEST
    // 06:00Z is 08:00 CEST: allowed, though it would be 07:00 local in winter.
    CHECK(w.allows(utc("2026-03-29T06:00:00Z"), paris()));
    CHECK_FALSE(w.allows(utc("2026-03-29T05:59:59Z"), paris()));  // 07:59:59 CEST
  }
  SECTION("default window (Sunday closed): Saturday 21:00 CET -> Monday 08:00 CEST") {
    const ContactWindow w;
    CHECK(w.next_allowed(local("2026-03-28T21:00"), paris()) == utc("2026-03-30T06:00:00Z"));
  }
  SECTION("fall back: Saturday 21:00 CEST -> Sunday 08:00 CET, or Monday with Sunday closed") {
    ContactWindow open;
    open.closed_days.clear();
    CHECK(open.next_allowed(local("2026-10-24T21:00"), paris()) == utc("2026-10-25T07:00:00Z"));
    CHECK(open.next_allowed(utc("2026-10-25T01:30:00Z"), paris()) == utc("2026-10-25T07:00:00Z"));  // 2nd 02:30
    const ContactWindow w;
    CHECK(w.next_allowed(local("2026-10-24T21:00"), paris()) == utc("2026-10-26T07:00:00Z"));
  }
}

TEST_CASE("001 ladder opened the Friday before spring forward keeps its local hour", "[app][zone][dst][ladder]") {
  const Timestamp friday = local("2026-03-27T10:00");  // 09:00Z, CET
  Ladder l(friday);
  const auto m1 = only<LearnerMessage>(l.last);
  REQUIRE(m1.size() == 1);
  CHECK(m1[0].channel == Means::sms);
  CHECK(m1[0].not_before == friday);

  // Step 2, 7 days later: Friday 3 April 10:00 CEST, an hour earlier in UTC.
  REQUIRE(l.c.next_due);
  CHECK(*l.c.next_due == local("2026-04-03T10:00"));
  CHECK(*l.c.next_due == utc("2026-04-03T08:00:00Z"));
  CHECK(l.at(utc("2026-04-03T07:59:59Z")).empty());
  const auto m2 = only<LearnerMessage>(l.at(utc("2026-04-03T08:00:00Z")));
  REQUIRE(m2.size() == 1);
  CHECK(m2[0].channel == Means::email);
  CHECK(m2[0].not_before == utc("2026-04-03T08:00:00Z"));  // Good Friday is not a holiday outside Alsace-Moselle

  // Step 3, 14 days later, and the dropout deadline 7 days after it, all at 10:00 local.
  CHECK(*l.c.next_due == local("2026-04-17T10:00"));
  CHECK(only<StaffTask>(l.at(local("2026-04-17T10:00"))).size() == 1);
  CHECK(*l.c.next_due == local("2026-04-24T10:00"));
  l.at(local("2026-04-24T10:00"));
  CHECK(l.c.state == CaseState::dropped_out);
}

TEST_CASE("001 ladder opened the Friday before fall back keeps its local hour", "[app][zone][dst][ladder]") {
  const Timestamp friday = local("2026-10-23T10:00");  // 08:00Z, CEST
  CHECK(friday == utc("2026-10-23T08:00:00Z"));
  Ladder l(friday);
  REQUIRE(l.c.next_due);
  CHECK(*l.c.next_due == utc("2026-10-30T09:00:00Z"));  // Friday 30 October 10:00 CET
  const auto m2 = only<LearnerMessage>(l.at(utc("2026-10-30T09:00:00Z")));
  REQUIRE(m2.size() == 1);
  CHECK(m2[0].not_before == local("2026-10-30T10:00"));
}

TEST_CASE("a learner step held over the weekend before spring forward keeps Monday 08:00 local",
          "[app][zone][dst][window][ladder]") {
  // Detected Saturday 21 March 21:00 CET: step 1 waits for Monday 23 March 08:00 CET.
  Ladder l(local("2026-03-21T21:00"));
  const auto m1 = only<LearnerMessage>(l.last);
  REQUIRE(m1.size() == 1);
  CHECK(m1[0].not_before == utc("2026-03-23T07:00:00Z"));
  // Step 2 counts its 7 days from when step 1 went out: Monday 30 March
  // 08:00, now CEST (the clocks moved on the 29th): 06:00Z, not 07:00Z.
  CHECK(*l.c.next_due == local("2026-03-30T08:00"));
  CHECK(*l.c.next_due == utc("2026-03-30T06:00:00Z"));
  CHECK(l.at(utc("2026-03-28T20:00:00Z")).empty());
  const auto m2 = only<LearnerMessage>(l.at(utc("2026-03-30T06:00:00Z")));
  REQUIRE(m2.size() == 1);
  CHECK(m2[0].not_before == local("2026-03-30T08:00"));
  CHECK(m2[0].not_before == utc("2026-03-30T06:00:00Z"));
}

TEST_CASE("detection counts calendar days in Paris: 10 days across spring forward keep the local hour",
          "[app][dst][detection]") {
  const auto paris = app::make_zone("Europe/Paris");
  Policy p;
  p.id = "000";
  p.sources = SourceSet{}.add(Source::lms);
  p.days = std::chrono::days(10);
  p.plan.steps.push_back(Step{});
  const std::vector<Policy> policies{p};
  struct None final : CaseIndex {
    bool has_active_case(std::int64_t) const override { return false; }
    bool covered(std::int64_t, std::size_t, Timestamp) const override { return false; }
  } none;

  Learner l;
  l.key = 1;
  l.activity.observe(Source::lms, *parse_iso_time("2026-03-20T10:00:00+01:00", *paris));  // CET
  // 10 days later is 2026-03-30 10:00 CEST = 08:00Z, not 09:00Z.
  const Timestamp crossing = *parse_iso_time("2026-03-30T08:00:00Z", *paris);
  CHECK(threshold_time(l, p, *paris) == crossing);

  Detector before(policies, crossing - std::chrono::seconds(1), *paris);
  CHECK_FALSE(before.examine(l, none));
  REQUIRE(before.next_crossing());
  CHECK(*before.next_crossing() == crossing);
  Detector at(policies, crossing, *paris);
  CHECK(at.examine(l, none));

  // A start date counts from local midnight, not UTC midnight.
  Learner never;
  never.key = 2;
  never.start_date = *parse_iso_date("2026-03-27");
  p.condition = Condition::never_accessed;
  p.days = std::chrono::days(3);
  CHECK(threshold_time(never, p, *paris) == *parse_iso_time("2026-03-29T22:00:00Z", *paris));  // 30 Mar 00:00 CEST
}
