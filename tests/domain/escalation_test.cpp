// Escalation decided in the core: who an unclaimed alert goes to next, and
// whether its clock starts again there.
#include "bot/domain/escalation.hpp"

#include <catch2/catch.hpp>

using namespace relance;

namespace {

Timestamp at(std::int64_t unix_seconds) { return from_unix(unix_seconds); }

EscalationRules rules() {
  EscalationRules r;
  r.chain = {"secretariat", "pedagogie", "direction"};
  r.claim_within = std::chrono::minutes(120);
  // Default hours (Monday to Friday, 09:00-18:00): the tests run on a
  // Wednesday at 13:21 UTC, so two working hours are two hours.
  return r;
}

Case open_case_with(CaseState s, std::string assignee = "") {
  Case c;
  c.id = 7;
  c.state = s;
  c.assignee = std::move(assignee);
  return c;
}

}  // namespace

TEST_CASE("an alert's clock starts with a role of the chain that has someone above it", "[escalation]") {
  const FixedOffsetZone utc;
  const Timestamp now = at(1'795'000'000);
  auto clock = start_escalation(rules(), "secretariat", now, utc);
  REQUIRE(clock);
  CHECK(clock->role == "secretariat");
  CHECK(clock->level == 0);
  CHECK(clock->due == now + std::chrono::hours(2));
  CHECK_FALSE(start_escalation(rules(), "direction", now, utc));  // the chain's last
  CHECK_FALSE(start_escalation(rules(), "comptabilite", now, utc));  // not in the chain
  CHECK_FALSE(start_escalation(EscalationRules{}, "secretariat", now, utc));  // escalation off
}

TEST_CASE("an unclaimed alert goes up the chain, and stops at its last role", "[escalation]") {
  const FixedOffsetZone utc;
  const Timestamp now = at(1'795'000'000);
  const Case c = open_case_with(CaseState::open);
  auto first = escalate(rules(), c, EscalationClock{"secretariat", 0, now}, now, utc);
  REQUIRE(first);
  CHECK(first->from_role == "secretariat");
  CHECK(first->to_role == "pedagogie");
  CHECK(first->level == 0);
  REQUIRE(first->next);
  CHECK(first->next->role == "pedagogie");
  CHECK(first->next->level == 1);
  CHECK(first->next->due == now + std::chrono::hours(2));

  auto second = escalate(rules(), c, *first->next, now, utc);
  REQUIRE(second);
  CHECK(second->to_role == "direction");
  CHECK(second->level == 1);
  CHECK_FALSE(second->next);  // direction is the last: no clock there
}

TEST_CASE("a claimed or ended case, or a role gone from the chain, escalates no further", "[escalation]") {
  const FixedOffsetZone utc;
  const Timestamp now = at(1'795'000'000);
  const EscalationClock clock{"secretariat", 0, now};
  CHECK_FALSE(escalate(rules(), open_case_with(CaseState::claimed, "marie"), clock, now, utc));
  CHECK_FALSE(escalate(rules(), open_case_with(CaseState::resumed), clock, now, utc));
  CHECK_FALSE(escalate(rules(), open_case_with(CaseState::open), EscalationClock{"comptabilite", 0, now}, now, utc));
  CHECK_FALSE(escalate(rules(), open_case_with(CaseState::open), EscalationClock{"direction", 2, now}, now, utc));
}
